"""Accuracy against gradient steps: the evidence behind ``skal.nets``' schedule.

Trains :func:`skal.nets.make_net` on random labeled subsets of MNIST-1D
(the label-efficiency benchmark's 8000-row pool and 2000-row test set) and of
digits, for a fixed number of steps each (``min_steps=steps,
steps_per_label=0``), and writes one row per (data set, labels, steps, seed)
to ``benchmarks/results/training/steps.csv`` plus a table ``steps.md``::

    python -m benchmarks.bench_training --seeds 2 --steps 150 500 1500 4000 \
        --augment --datasets mnist1d

``--augment`` adds the weak signal/image augmentation of ``skal.augment``
as a third axis (a separate ``regime`` column).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import RESULTS, load_dataset, read_rows

OUT = RESULTS / "training"


def subset(y, n, seed):
    """``n`` random rows with at least one per class (seeded)."""
    rng = np.random.RandomState(seed)
    idx = rng.permutation(len(y))
    first = [idx[np.flatnonzero(y[idx] == c)[0]] for c in np.unique(y)]
    rest = [i for i in idx if i not in set(first)][: n - len(first)]
    return np.array(first + rest)


def run(datasets, labels, steps, seeds, regimes, path):
    from skal.augment import ImageAugment, SignalAugment
    from skal.nets import make_net

    rows = []
    for name in datasets:
        Xp, yp, Xt, yt, dim, _ = load_dataset(name)
        kind = "signal" if dim == 1 else "image"
        for n in labels[name]:
            for seed in seeds:
                idx = subset(yp, n, seed)
                for regime in regimes:
                    for s in steps:
                        net = make_net(
                            kind, 10, min_steps=s, steps_per_label=0, max_steps=s
                        )
                        if regime == "augment":
                            aug = SignalAugment if kind == "signal" else ImageAugment
                            net.set_params(augment=aug("weak"))
                        torch.manual_seed(seed)
                        t0 = time.perf_counter()
                        net.fit(Xp[idx], yp[idx].astype(np.int64))
                        sec = time.perf_counter() - t0
                        acc = float(np.mean(net.predict(Xt) == yt))
                        row = dict(
                            dataset=name,
                            labels=n,
                            steps=s,
                            seed=seed,
                            regime=regime,
                            accuracy=round(acc, 4),
                            seconds=round(sec, 2),
                        )
                        rows.append(row)
                        print(row, flush=True)
                        write(rows, path)
    return rows


def write(rows, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def report(path):
    rows = read_rows(path)
    keys = sorted({(r["dataset"], int(r["labels"]), r["regime"]) for r in rows})
    steps = sorted({int(r["steps"]) for r in rows})
    lines = [
        "# Test accuracy against gradient steps (mean over seeds)",
        "",
        "`python -m benchmarks.bench_training --seeds 2 --steps 150 500 1500 4000 "
        f"--augment --datasets mnist1d` — from `{path.name}`; `augment` = "
        '`SignalAugment("weak")` on every batch.',
        "",
        "| data set | labels | regime | "
        + " | ".join(f"{s} steps" for s in steps)
        + " | seeds | s / 1000 steps |",
        "|---|---|---|" + "---|" * (len(steps) + 2),
    ]
    for d, n, reg in keys:
        cells = []
        secs = []
        for s in steps:
            sel = [
                r
                for r in rows
                if (r["dataset"], int(r["labels"]), r["regime"], int(r["steps"]))
                == (d, n, reg, s)
            ]
            accs = [float(r["accuracy"]) for r in sel]
            secs += [1000 * float(r["seconds"]) / s for r in sel]
            cells.append(f"{np.mean(accs):.3f}" if accs else "–")
        n_seeds = len({r["seed"] for r in rows if r["dataset"] == d})
        lines.append(
            f"| {d} | {n} | {reg} | "
            + " | ".join(cells)
            + f" | {n_seeds} | {np.mean(secs):.1f} |"
        )
    (path.parent / "steps.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist1d", "digits"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, nargs="+", default=[150, 500, 1000, 2000, 4000])
    p.add_argument("--augment", action="store_true")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--report", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    path = a.out / "steps.csv"
    if not a.report:
        labels = {"mnist1d": [80, 640, 2560], "digits": [40, 160, 640]}
        regimes = ["plain"] + (["augment"] if a.augment else [])
        run(a.datasets, labels, a.steps, range(a.seeds), regimes, path)
    report(path)


if __name__ == "__main__":
    main()
