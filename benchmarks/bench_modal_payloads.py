"""Payload sizes and chunk counts of ModalExecutor's data staging, offline.

Measures, without contacting Modal, what scoring a pool of ``--rows`` images
of shape ``--shape`` (default: 10M × 1×28×28 float32) sends per round under
the two ways of getting the pool into the containers:

* **chunk uploads**: every ``Function.map`` input carries its rows; the pool
  is sent again every round (an input above 2 MiB — modal's
  ``MAX_OBJECT_SIZE_BYTES`` — is uploaded to blob storage first, one upload
  per input);
* **Volume** (what :class:`skal.backends.ModalExecutor` does): the pool is
  written once per session to a Modal Volume in blocks of ``chunk_size``
  rows; each input names a block and the rows of it to score.

Sizes are measured, not estimated: a real ``.npy`` header, a real fitted
skorch CNN serialized as the executor serializes it, and real pickled map
inputs (model payload, ``skal.backends._workers.PoolChunk`` with the worst case
row list, the method name). Only the pool itself is not materialized; its
block files are header + ``rows × row bytes``.

Usage::

    python benchmarks/bench_modal_payloads.py
    python benchmarks/bench_modal_payloads.py --rows 1000000 --shape 3 32 32

Writes ``benchmarks/results/modal_payloads.md``.
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
from pathlib import Path

import numpy as np

from skal.backends._modal import _INPUT_MARGIN, MAX_INPUT_BYTES, MAX_TOTAL_INPUTS
from skal.backends._workers import PoolChunk, StagedFile, dumps

RESULTS = Path(__file__).resolve().parent / "results"
MiB = 1024**2


def fmt(n):
    for unit, size in (("GiB", 1024**3), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def npy_header_bytes(shape, dtype):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )
    return buf.tell()


def fitted_cnn(shape, n_classes):
    """The small CNN of skal's tests, fitted on a few rows (weights exist)."""
    from skal.utils._testing import SmallCNN, make_net

    net = make_net(SmallCNN, n_classes=n_classes, in_channels=shape[0], max_epochs=1)
    X = np.random.default_rng(0).random((64, *shape), dtype=np.float32)
    return net.fit(X, np.arange(64) % n_classes)


def map_input_bytes(payload, rows, what="predict_proba"):
    """Pickled size of one ``score_chunk`` map input (args and kwargs)."""
    chunk = PoolChunk("/skal/skal-0123456789ab/pool-0/000000.npy", rows, "vo-x")
    return len(pickle.dumps(((payload, chunk, what), {}), protocol=5))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--shape", type=int, nargs="+", default=[1, 28, 28])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument(
        "--chunk-sizes", type=int, nargs="+", default=[16_384, 65_536, 262_144]
    )
    args = parser.parse_args(argv)
    shape = tuple(args.shape)
    row_bytes = int(np.prod(shape)) * 4
    pool_bytes = args.rows * row_bytes

    net = fitted_cnn(shape, args.classes)
    model_bytes = len(dumps(net))
    resnet18_bytes = 11_689_512 * 4  # torchvision resnet18 parameters, float32
    emb_dim = net.module_.hidden.out_features

    lines = [
        "# ModalExecutor data staging: measured payloads",
        "",
        f"Pool: {args.rows:,} rows of shape {shape} float32 = "
        f"{row_bytes} B per row, **{fmt(pool_bytes)}** in all. "
        f"{args.rounds} query rounds.",
        "",
        f"Model: skal's SmallCNN fitted, serialized with cloudpickle: "
        f"**{fmt(model_bytes)}** (a ResNet-18 would be ~{fmt(resnet18_bytes)}).",
        "",
        "Modal limits: inline function input <= 2 MiB "
        "(`modal._utils.blob_utils.MAX_OBJECT_SIZE_BYTES`; larger inputs are "
        "uploaded to blob storage, one upload per input); <= 25,000 inputs per "
        "Function, <= 1,000 running concurrently per `.map()` (Modal guide, "
        "'Scaling out').",
        "",
        "| chunk_size | blocks (= map inputs for a full pool) | block file | "
        "map input, Volume (worst case) | map input, chunk upload | "
        "output per input (proba / embedding) | sent per round, Volume | "
        "sent per round, chunk upload |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cs in args.chunk_sizes:
        n_blocks = math.ceil(args.rows / cs)
        block_file = npy_header_bytes((cs, *shape), np.float32) + cs * row_bytes
        worst_rows = np.arange(cs - 1, dtype=np.int32)  # all rows but one
        inline = model_bytes + 4 * cs + _INPUT_MARGIN <= MAX_INPUT_BYTES
        payload = (
            dumps(net)
            if inline
            else StagedFile("/skal/skal-0123456789ab/models/00000.pkl", "vo-x")
        )
        vol_input = map_input_bytes(payload, worst_rows)
        upload_input = model_bytes + cs * row_bytes  # the rows travel with it
        out_proba = cs * args.classes * 8
        out_emb = cs * emb_dim * 4
        vol_round = n_blocks * vol_input + (0 if inline else model_bytes)
        upload_round = n_blocks * upload_input
        lines.append(
            f"| {cs:,} | {n_blocks:,} | {fmt(block_file)} | {fmt(vol_input)}"
            f"{'' if inline else ' (model on the Volume)'} | {fmt(upload_input)} | "
            f"{fmt(out_proba)} / {fmt(out_emb)} | {fmt(vol_round)} | "
            f"{fmt(upload_round)} |"
        )
        assert n_blocks <= MAX_TOTAL_INPUTS and vol_input < MAX_INPUT_BYTES
    cs = 65_536
    n_blocks = math.ceil(args.rows / cs)
    lines += [
        "",
        f"Over {args.rounds} rounds at chunk_size={cs:,}: the Volume sends the "
        f"pool once ({fmt(pool_bytes)}) plus "
        f"{fmt(args.rounds * n_blocks * map_input_bytes(dumps(net), None))}"
        f" of map inputs; chunk uploads send "
        f"{fmt(args.rounds * n_blocks * (model_bytes + cs * row_bytes))}.",
        "",
        f"With a ResNet-18 ({fmt(resnet18_bytes)}) inline, every input would "
        f"carry the weights: {fmt(n_blocks * resnet18_bytes)} per round at "
        f"chunk_size={cs:,}; ModalExecutor stages such a model on the Volume "
        "once per round instead, and inputs stay a few hundred KiB.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "modal_payloads.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
