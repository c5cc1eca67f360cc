"""Cold start at 1-2 labels per class: self-supervised features vs raw input.

For each pool (MNIST-1D: 4000 pool rows and 2000 test rows, generated with
seed 1; digits: the label-efficiency benchmark's 1347/450 split), a
:class:`skal.representations.SimCLREncoder` is fitted **once per pool**
(``random_state=0``, no labels) and its features are L2-normalised. Then, at
10 and 20 labels and for each seed, the first labels are picked by

- ``random``: uniform without replacement;
- ``typiclust_ssl`` / ``typiclust_raw``: :class:`skal.strategies.TypiClust`
  on the SSL features / on the flattened, L2-normalised input;
- ``probcover_ssl`` / ``probcover_raw``: :class:`skal.strategies.ProbCover`
  with the paper's purity radius (alpha = 0.95, k-means with 10 clusters);
- ``probcover_ssl_knn``: ProbCover with its default (k-NN median) radius;

and :func:`skal.nets.make_net` (the converged recipe, torch seeded with the
seed) is trained on the picked labels and scored on the test rows. The warm
start part trains the same net on random picks of MNIST-1D (20 and 80
labels) from scratch and from the pretrained body
(:meth:`SimCLREncoder.init_net`). Rows go to
``benchmarks/results/cold_start/cold_start.csv`` as they come; the paired
summary (mean accuracy, difference to the reference arm with a 95 % t
interval over seeds) to ``cold_start.md``::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/bench_cold_start.py --seeds 10
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
OUT = HERE / "results" / "cold_start"
ARMS = [
    "random",
    "typiclust_ssl",
    "typiclust_raw",
    "probcover_ssl",
    "probcover_raw",
    "probcover_ssl_knn",
]
FIELDS = [
    "part",
    "dataset",
    "labels",
    "seed",
    "arm",
    "accuracy",
    "classes_covered",
    "radius",
    "select_s",
    "fit_s",
]


def load(name):
    """(X_pool, y_pool, X_test, y_test, kind)."""
    if name == "mnist1d":
        from skal.datasets import make_mnist1d

        X, y = make_mnist1d(6000, random_state=1, return_X_y=True)
        return X[:4000], y[:4000], X[4000:], y[4000:], "signal"
    from bench_label_efficiency import digits_split

    Xp, Xt, yp, yt = digits_split()
    return Xp, yp, Xt, yt, "image"


def unit_rows(A):
    A = np.asarray(A, dtype=np.float32).reshape(len(A), -1)
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


def select(arm, n, seed, feats, raw, n_classes):
    """(indices, radius) of an arm's first ``n`` picks."""
    from skal.strategies import ProbCover, TypiClust
    from skal.strategies._purity import purity_radius

    if arm == "random":
        N = len(raw)
        return np.random.RandomState(seed).choice(N, n, replace=False), ""
    E = feats if arm.endswith(("_ssl", "_ssl_knn")) else raw
    if arm.startswith("typiclust"):
        return TypiClust()(None, E, n_instances=n, random_state=seed), ""
    if arm == "probcover_ssl_knn":
        return ProbCover()(None, E, n_instances=n, random_state=seed), ""
    r = purity_radius(
        torch.as_tensor(E),
        n_classes,
        purity=0.95,
        random_state=np.random.RandomState(seed),
    )
    idx = ProbCover(radius=r)(None, E, n_instances=n, random_state=seed)
    return idx, round(r, 4)


def train(kind, X, y, Xt, yt, seed, encoder=None, **params):
    from skal.nets import make_net

    net = make_net(kind, 10, **params)
    if encoder is not None:
        encoder.init_net(net)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    net.fit(X, y.astype(np.int64))
    sec = time.perf_counter() - t0
    return float(np.mean(net.predict(Xt) == yt)), sec


def read(path):
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def append(path, row):
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)


def paired(rows, part, dataset, labels, arm, ref):
    from scipy import stats

    acc = {
        (r["arm"], r["seed"]): float(r["accuracy"])
        for r in rows
        if r["part"] == part and r["dataset"] == dataset and int(r["labels"]) == labels
    }
    seeds = sorted({s for a, s in acc if a == arm} & {s for a, s in acc if a == ref})
    if not seeds:
        return None
    a = np.array([acc[arm, s] for s in seeds])
    b = np.array([acc[ref, s] for s in seeds])
    d = a - b
    if len(d) > 1:
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    else:
        half = float("nan")
    return a.mean(), d.mean(), half, len(d), int((d > 0).sum())


def summary(rows, path, meta):
    lines = [
        "# Cold start: self-supervised features at 1-2 labels per class",
        "",
        "Written by `benchmarks/bench_cold_start.py` (see its docstring); "
        "accuracy of `skal.nets.make_net` trained on the picked labels, on the "
        "test rows. Δ: paired difference to the reference arm over seeds "
        "(same seed: same net initialisation), with a 95 % t interval; "
        "wins: seeds where the arm is ahead. The SimCLR encoder is fitted "
        "once per pool (random_state=0), so the seeds vary the selection "
        "and the classifier, not the encoder.",
        "",
        *meta,
        "",
    ]
    for part, ref in (("cold", "random"), ("warm", "scratch")):
        keys = sorted(
            {(r["dataset"], int(r["labels"])) for r in rows if r["part"] == part}
        )
        if not keys:
            continue
        title = (
            "Selection (reference: random)"
            if part == "cold"
            else "Warm start from the pretrained body, random picks "
            "(reference: scratch)"
        )
        lines += [
            f"## {title}",
            "",
            "| data | labels | arm | accuracy | Δ vs " + ref + " [95 % CI] | seeds "
            "| wins | classes covered |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for dataset, labels in keys:
            arms = [
                a
                for a in dict.fromkeys(
                    r["arm"]
                    for r in rows
                    if r["part"] == part
                    and r["dataset"] == dataset
                    and int(r["labels"]) == labels
                )
            ]
            for arm in arms:
                res = paired(rows, part, dataset, labels, arm, ref)
                if res is None:
                    continue
                mean, d, half, n, wins = res
                cov = np.mean(
                    [
                        float(r["classes_covered"])
                        for r in rows
                        if r["part"] == part
                        and r["dataset"] == dataset
                        and int(r["labels"]) == labels
                        and r["arm"] == arm
                    ]
                )
                delta = (
                    "—"
                    if arm == ref
                    else f"{d:+.3f} [{d - half:+.3f}, {d + half:+.3f}]"
                )
                lines.append(
                    f"| {dataset} | {labels} | {arm} | {mean:.3f} | {delta} | {n} "
                    f"| {'—' if arm == ref else wins} | {cov:.1f} |"
                )
        lines.append("")
    path.write_text("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--datasets", nargs="+", default=["mnist1d", "digits"])
    p.add_argument("--labels", nargs="+", type=int, default=[10, 20])
    p.add_argument("--warm-labels", nargs="+", type=int, default=[20, 80])
    p.add_argument(
        "--steps",
        nargs="+",
        type=int,
        default=[600, 400],
        help="SimCLR steps per data set (in --datasets order)",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--arms", nargs="+", default=ARMS)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--min-steps",
        type=int,
        default=None,
        help="override the net's min_steps (smoke tests only)",
    )
    args = p.parse_args(argv)

    from skal.representations import SimCLREncoder

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "cold_start.csv"
    rows = read(path)
    done = {
        (r["part"], r["dataset"], int(r["labels"]), int(r["seed"]), r["arm"])
        for r in rows
    }
    meta, pools = [], {}
    for name, steps in zip(args.datasets, args.steps):
        Xp, yp, Xt, yt, kind = load(name)
        t0 = time.perf_counter()
        enc = SimCLREncoder(
            n_steps=steps, batch_size=args.batch_size, random_state=0
        ).fit(Xp)
        enc_s = time.perf_counter() - t0
        meta.append(
            f"- {name}: pool {len(Xp)}, test {len(Xt)}; SimCLR {steps} steps, "
            f"batch {args.batch_size} (two strong views each), fitted in "
            f"{enc_s:.0f} s; NT-Xent {np.mean(enc.loss_curve_[:20]):.2f} → "
            f"{np.mean(enc.loss_curve_[-20:]):.2f}"
        )
        print(meta[-1], flush=True)
        feats, raw = unit_rows(enc.transform(Xp)), unit_rows(Xp)
        pools[name] = (Xp, yp, Xt, yt, kind, enc, feats, raw)
    core = [a for a in args.arms if a in ARMS[:5]]
    extra = [a for a in args.arms if a not in core]
    # most important first, every arm of a seed together (pairs stay complete
    # if the run is cut short): the core arms, the warm start, the extra arms
    jobs = [
        ("cold", name, n, seed, arm)
        for name in args.datasets
        for n in args.labels
        for seed in range(args.seeds)
        for arm in core
    ]
    if "mnist1d" in pools:
        jobs += [
            ("warm", "mnist1d", n, seed, arm)
            for n in args.warm_labels
            for seed in range(args.seeds)
            for arm in ("scratch", "pretrained")
        ]
    jobs += [
        ("cold", name, n, seed, arm)
        for name in args.datasets
        for n in args.labels
        for seed in range(args.seeds)
        for arm in extra
    ]
    by_key = {
        (r["part"], r["dataset"], int(r["labels"]), int(r["seed"]), r["arm"]): r
        for r in rows
    }
    for part, name, n, seed, arm in jobs:
        if (part, name, n, seed, arm) in done:
            continue
        Xp, yp, Xt, yt, kind, enc, feats, raw = pools[name]
        same = by_key.get(("cold", name, n, seed, "random"))
        if part == "warm" and arm == "scratch" and same is not None:
            # random picks of this seed, trained from scratch: the cold
            # start's random arm is this very run (same picks, same seed)
            row = {**same, "part": "warm", "arm": "scratch"}
        else:
            t1 = time.perf_counter()
            idx, radius = select(
                arm if part == "cold" else "random", n, seed, feats, raw, 10
            )
            sel = time.perf_counter() - t1
            acc, fit_s = train(
                kind,
                Xp[idx],
                yp[idx],
                Xt,
                yt,
                seed,
                encoder=enc if arm == "pretrained" else None,
                **({} if args.min_steps is None else {"min_steps": args.min_steps}),
            )
            row = dict(
                part=part,
                dataset=name,
                labels=n,
                seed=seed,
                arm=arm,
                accuracy=round(acc, 4),
                classes_covered=len(np.unique(yp[idx])),
                radius=radius,
                select_s=round(sel, 2),
                fit_s=round(fit_s, 2),
            )
        print(row, flush=True)
        append(path, row)
        row = {k: str(v) for k, v in row.items()}
        rows.append(row)
        by_key[(part, name, n, seed, arm)] = row
        summary(rows, args.out / "cold_start.md", meta)
    summary(rows, args.out / "cold_start.md", meta)


if __name__ == "__main__":
    main()
