"""The GPU path measured: skal's kernels and a skorch net on CUDA.

One prepared script for a machine with a CUDA GPU (it needs torch with CUDA,
skorch and scikit-learn; ``mnist1d`` for the end-to-end part, else digits):

1. **Bandwidth floor** of the device: a float32 ``sum`` over 4 GiB (read GB/s),
   best of 5, synchronised.
2. **Kernels** at N = 1M (D = 128 and 512) and 10M (D = 128), B = 1000 picks:
   k-center greedy (CoreSet), k-means++, BADGE seeding (C = 10), TypiClust
   (N = 1M), margin top-k; time, GB/s of the one-pass-per-pick kernels and %
   of the floor, peak device memory above the data
   (``torch.cuda.max_memory_allocated``).
3. **CPU/GPU agreement** of the selections for the same data and int seeds
   (N = 200k, D = 128, B = 100): k-center greedy (with and without labeled
   rows), k-means++, BADGE, k-means (adjusted Rand index of the labels) and
   TypiClust. Int seeds draw on the CPU whatever the device, so the draws
   agree; picks can still differ where float32 distances computed by
   different kernels tie.
4. **End to end**: a skorch net (``skal.nets.make_net``) on CUDA through
   ``ActiveLearner`` with BADGE, a simulation to 300 labels; per-round query
   and fit seconds and the test accuracy, and the device the embeddings
   were computed on.
5. **FreeMatch** (issue 27): one fit with the device's ``"auto"`` settings
   (``mu=7``, batches of 64, up to 4000 steps on CUDA) at 40 MNIST-1D
   labels: seconds per fit and per step, test accuracy.

Each section is guarded: an error is recorded and the next section runs.
Results are written as they come to ``benchmarks/results/gpu.json`` and
``gpu.md``.

Usage::

    python -m benchmarks.bench_gpu                  # CUDA, ~3-5 minutes
    python -m benchmarks.bench_gpu --device cpu --quick --out /tmp/gpu  # logic check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from skal import _kernels as K

HERE = Path(__file__).resolve().parent

N_CLASSES = 10


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    t = time.perf_counter()
    out = fn()
    sync(device)
    seconds = time.perf_counter() - t
    peak = float("nan")
    if torch.device(device).type == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    return out, seconds, peak


def bandwidth_floor(device, gib):
    n = int(gib * 2**30) // 4
    x = torch.ones(n, device=device)
    best = float("inf")
    for _ in range(5):
        _, s, _ = timed(x.sum, device)
        best = min(best, s)
    return 4 * n / best / 1e9


def make_data(N, D, device, seed=0):
    g = torch.Generator(device=device).manual_seed(seed)
    X = torch.randn(N, D, generator=g, device=device)
    P = torch.softmax(3.0 * torch.randn(N, N_CLASSES, generator=g, device=device), 1)
    return X, P


def margin_topk(P, B):
    top2 = torch.topk(P, 2, dim=1).values
    return torch.topk(top2[:, 0] - top2[:, 1], B, largest=False).indices.cpu()


def kernel_fns(X, P, B):
    return {
        "coreset": lambda: K.k_center_greedy(X, B, random_state=0),
        "kmeans++": lambda: K.kmeans_pp(X, B, random_state=0),
        "badge": lambda: K.badge_kmeans_pp(P, X, B, random_state=0),
        "typiclust": lambda: K.typiclust(X, B, k=20, n_iter=10, random_state=0),
        "margin": lambda: margin_topk(P, B),
    }


def section_kernels(args, res, save):
    floor = res["floor_gbps"]
    for N, D in args.grid:
        X, P = make_data(N, D, args.device)
        Xw, Pw = X[: 4 * args.batch + 64], P[: 4 * args.batch + 64]
        for name, fn in kernel_fns(X, P, args.batch).items():
            if name == "typiclust" and N > args.typiclust_max_n:
                continue
            row = dict(method=name, N=N, D=D, B=args.batch, device=args.device)
            try:
                kernel_fns(Xw, Pw, 8)[name]()  # warm-up: code paths, kernels
                out, s, peak = timed(fn, args.device)
                row.update(seconds=round(s, 4), peak_mem_mb=round(peak, 1))
                row["distinct"] = len(set(out.tolist())) == len(out) == args.batch
                if name in ("coreset", "kmeans++", "badge"):
                    width = D + (N_CLASSES if name == "badge" else 0)
                    gb = N * width * 4 * args.batch / 1e9
                    row.update(
                        gbps=round(gb / s, 1), frac_floor=round(gb / s / floor, 3)
                    )
            except Exception as exc:  # a failing kernel is a result too
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            res["kernels"].append(row)
            print(row, flush=True)
            save()
        del X, P
        if torch.device(args.device).type == "cuda":
            torch.cuda.empty_cache()


def section_agreement(args, res, save):
    N, D, B = args.agree_n, 128, args.agree_batch
    X, P = make_data(N, D, "cpu", seed=1)
    R = X[:20].clone()
    Xd, Pd, Rd = (t.to(args.device) for t in (X, P, R))
    cases = {
        "coreset (labeled rows)": lambda X, P, R: K.k_center_greedy(X, B, init=R),
        "coreset (int seed)": lambda X, P, R: K.k_center_greedy(X, B, random_state=3),
        "kmeans++ (int seed)": lambda X, P, R: K.kmeans_pp(X, B, random_state=3),
        "kmeans++ (labeled rows)": lambda X, P, R: K.kmeans_pp(
            X, B, init=R, random_state=3
        ),
        "badge (int seed)": lambda X, P, R: K.badge_kmeans_pp(P, X, B, random_state=3),
        "typiclust (int seed)": lambda X, P, R: K.typiclust(
            X, min(B, 50), random_state=3
        ),
    }
    for name, fn in cases.items():
        row = dict(case=name, N=N, D=D, B=B)
        try:
            a = fn(X, P, R).tolist()
            b = fn(Xd, Pd, Rd).tolist()
            row.update(
                identical=a == b,
                same_set_fraction=round(len(set(a) & set(b)) / max(len(a), 1), 4),
                first_difference=next(
                    (i for i, (u, v) in enumerate(zip(a, b, strict=True)) if u != v),
                    None,
                ),
            )
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        res["agreement"].append(row)
        print(row, flush=True)
        save()
    row = dict(case="kmeans labels (int seed, K=100)", N=N, D=D, B=100)
    try:
        from sklearn.metrics import adjusted_rand_score

        la, Ca = K.kmeans(X, 100, random_state=3)
        lb, Cb = K.kmeans(Xd, 100, random_state=3)
        row.update(
            identical=bool(torch.equal(la, lb.cpu())),
            adjusted_rand=round(adjusted_rand_score(la.numpy(), lb.cpu().numpy()), 5),
            max_center_diff=float((Ca - Cb.cpu()).abs().max()),
        )
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    res["agreement"].append(row)
    print(row, flush=True)
    save()


def section_end_to_end(args, res, save):
    from skal import ActiveLearner
    from skal.nets import make_net
    from skal.strategies import BADGE

    try:
        from skal.datasets import make_mnist1d

        X, y = make_mnist1d(args.e2e_n + 2000, random_state=0, return_X_y=True)
        kind, data = "signal", "MNIST-1D"
    except Exception:  # mnist1d missing: digits as 8x8 images
        from skal.datasets import load_digits_images

        X, y = load_digits_images(return_X_y=True)
        kind, data = "image", "digits"
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    n_test = min(2000, len(X) // 3)
    X_tr, y_tr, X_te, y_te = X[:-n_test], y[:-n_test], X[-n_test:], y[-n_test:]
    net = make_net(
        kind,
        int(y.max()) + 1,
        device=args.device,
        min_steps=args.e2e_steps,
        max_steps=args.e2e_steps,
    )
    learner = ActiveLearner(
        net,
        strategy=BADGE(),
        n_instances=50,
        n_initial=50,
        budget=args.e2e_budget,
        random_state=0,
    )
    t = time.perf_counter()
    learner.fit(X_tr, y_tr)
    total = time.perf_counter() - t
    hist = learner.history_
    row = dict(
        data=data,
        device=args.device,
        net_device=str(next(learner.estimator_.module_.parameters()).device),
        n_pool=len(X_tr),
        labels=len(learner.y_labeled_),
        rounds=len(hist),
        total_seconds=round(total, 2),
        test_accuracy=round(float(learner.score(X_te, y_te)), 4),
    )
    for key in ("query_seconds", "fit_seconds"):
        vals = [
            h.get(key) for h in hist if isinstance(h, dict) and h.get(key) is not None
        ]
        if vals:
            row[key + "_per_round"] = [round(float(v), 3) for v in vals]
    from skal.models import get_adapter

    row["embedding_device"] = str(get_adapter(learner).device)
    res["end_to_end"] = row
    print(row, flush=True)
    save()


def section_freematch(args, res, save):
    """One FreeMatch fit with the device's ``"auto"`` settings (issue 27).

    MNIST-1D (data seed 11, the settings' selection seed), a 5000-row pool,
    40 random labels, ``CNN1d`` with ``SignalAugment`` weak/strong views:
    seconds per fit and per step, the resolved settings and test accuracy,
    against the CPU's ~17 ms a step (one core).
    """
    from skal.datasets import make_mnist1d

    from .bench_low_label import freematch_net, partial_labels

    pool, labels = args.freematch_pool, 40
    X, y = make_mnist1d(pool + 2000, random_state=11, return_X_y=True)
    Xp, yp, Xt, yt = X[:pool], y[:pool], X[pool:], y[pool:]
    y_partial = partial_labels(yp, labels, seed=0)
    net = freematch_net(
        device=args.device,
        random_state=0,
        **({"min_steps": 20, "steps_per_label": 0} if args.quick else {}),
    )
    t = time.perf_counter()
    net.fit(Xp, y_partial)
    sync(args.device)
    seconds = time.perf_counter() - t
    row = dict(
        device=args.device,
        settings=net.auto_settings(),
        n_pool=pool,
        labels=labels,
        steps=net.n_steps_,
        fit_seconds=round(seconds, 2),
        ms_per_step=round(1000 * seconds / net.n_steps_, 2),
        test_accuracy=round(float(np.mean(net.predict(Xt) == yt)), 4),
        global_threshold=round(float(net.global_threshold_), 3),
    )
    res["freematch"] = row
    print(row, flush=True)
    save()


def write_markdown(res, path):
    L = [
        "# The GPU path: kernels, CPU/GPU agreement, a skorch net on CUDA",
        "",
        f"Command: `{res['command']}`",
        "",
        f"Device: {res['device_name']}; torch {res['torch']}; "
        f"bandwidth floor (float32 sum over {res['floor_gib']} GiB): "
        f"**{res.get('floor_gbps', float('nan')):.0f} GB/s**. Host: {res['host']}.",
        "",
        "## Kernels",
        "",
        "| method | N | D | B | s | GB/s | % floor | peak MB above data | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in res["kernels"]:
        frac = f"{100 * r['frac_floor']:.0f}%" if "frac_floor" in r else ""
        note = r.get("error", "" if r.get("distinct", True) else "NOT DISTINCT")
        L.append(
            f"| {r['method']} | {r['N']} | {r['D']} | {r['B']} "
            f"| {r.get('seconds', '')} | {r.get('gbps', '')} | {frac} "
            f"| {r.get('peak_mem_mb', '')} | {note} |"
        )
    L += [
        "",
        "## CPU/GPU agreement (same data, same int seeds)",
        "",
        "| case | N | B | identical | same set | first difference | note |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for r in res["agreement"]:
        same = r.get("same_set_fraction", r.get("adjusted_rand", ""))
        note = r.get("error", "")
        if "adjusted_rand" in r:
            note = (
                f"ARI {r['adjusted_rand']}, max center diff {r['max_center_diff']:.2e}"
            )
        L.append(
            f"| {r['case']} | {r['N']} | {r['B']} | {r.get('identical', '')} | {same} "
            f"| {r.get('first_difference', '')} | {note} |"
        )
    e = res.get("end_to_end")
    L += ["", "## skorch net on the device through ActiveLearner (BADGE)", ""]
    if e:
        L += [f"- {k}: {v}" for k, v in e.items()]
    f = res.get("freematch")
    L += ["", '## FreeMatch with the device\'s "auto" settings (40 labels)', ""]
    if f:
        L += [f"- {k}: {v}" for k, v in f.items()]
    for name, err in res.get("errors", {}).items():
        L += ["", f"**{name} failed**:", "", "```", err, "```"]
    path.write_text("\n".join(L) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes (logic check)")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "gpu")
    ap.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["kernels", "agreement", "e2e", "freematch"],
    )
    args = ap.parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu --quick to check the logic")
    args.grid = [(1_000_000, 128), (1_000_000, 512), (10_000_000, 128)]
    args.typiclust_max_n, args.floor_gib = 1_000_000, 4.0
    args.agree_n, args.agree_batch = 200_000, 100
    args.e2e_n, args.e2e_budget, args.e2e_steps = 8000, 300, 400
    args.freematch_pool = 5000
    if args.quick:
        args.freematch_pool = 600
        args.grid = [(20_000, 64), (40_000, 32)]
        args.batch, args.floor_gib = 20, 0.25
        args.agree_n, args.agree_batch = 3000, 20
        args.e2e_n, args.e2e_budget, args.e2e_steps = 1000, 150, 40
    args.out.parent.mkdir(parents=True, exist_ok=True)
    res = dict(
        command="python -m benchmarks.bench_gpu "
        + " ".join(sys.argv[1:] if argv is None else argv),
        torch=torch.__version__,
        device_name=(
            torch.cuda.get_device_name(args.device)
            if torch.device(args.device).type == "cuda"
            else platform.processor() or platform.machine()
        ),
        host=f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}",
        floor_gib=args.floor_gib,
        kernels=[],
        agreement=[],
        errors={},
    )

    def save():
        args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
        write_markdown(res, args.out.with_suffix(".md"))

    res["floor_gbps"] = bandwidth_floor(args.device, args.floor_gib)
    print(f"floor {res['floor_gbps']:.0f} GB/s", flush=True)
    save()
    sections = [
        ("agreement", section_agreement),
        ("kernels", section_kernels),
        ("e2e", section_end_to_end),
        ("freematch", section_freematch),
    ]
    t0 = time.perf_counter()
    for name, fn in sections:
        if name in args.skip:
            continue
        t = time.perf_counter()
        try:
            fn(args, res, save)
        except Exception:
            res["errors"][name] = traceback.format_exc()[-3000:]
            print(res["errors"][name], file=sys.stderr, flush=True)
        print(f"[{name}: {time.perf_counter() - t:.0f} s]", flush=True)
        save()
    print(f"total {time.perf_counter() - t0:.0f} s; wrote {args.out}.json/.md")


if __name__ == "__main__":
    main()
