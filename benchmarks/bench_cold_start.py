"""Cold start at 1-2 labels per class: self-supervised features vs raw input.

For each pool (MNIST-1D: 4000 pool rows and 2000 test rows, generated with
``--data-seed`` 2 — seed 1 was the pool on which SimCLR's temperature and
step count were chosen, by a k-NN / linear probe with the pool's labels;
digits: the label-efficiency benchmark's 1347/450 split),
``--encoders`` :class:`skal.representations.SimCLREncoder` are fitted on the
pool without labels (``random_state`` 0..K-1; seed s selects on encoder
s mod K) and their features are L2-normalised. Then, at 10 and 20 labels and
for each seed, the first labels are picked by

- ``random``: uniform without replacement;
- ``typiclust_ssl`` / ``typiclust_raw``: :class:`skal.strategies.TypiClust`
  on the SSL features / on the flattened, L2-normalised input;
- ``probcover_ssl`` / ``probcover_raw``: :class:`skal.strategies.ProbCover`
  with the paper's purity radius (alpha = 0.95, k-means with 10 clusters);
- ``probcover_ssl_knn``: ProbCover with its default (k-NN median) radius;

and a classifier is trained on the picked labels and scored on the test
rows. The classifiers are the three frameworks of the TypiClust paper:

- ``net`` (part ``cold``): :func:`skal.nets.make_net`, the converged recipe,
  supervised only, torch seeded with the seed;
- ``pretrained``: the same net warm-started from the seed's encoder body
  (:meth:`SimCLREncoder.init_net`), i.e. the whole self-supervised recipe;
- ``linear``: logistic regression on the SSL features (of the seed's
  encoder) of the picks;
- ``nn``: 1-nearest-neighbour on those features (parameter-free; the
  classifier of ProbCover's coverage argument);
- ``fixmatch``: :class:`skal.semi_supervised.FixMatchClassifier` on the picks
  plus the rest of the pool as unlabeled rows (the label-efficiency suite's
  settings; by default MNIST-1D at 10 labels only, for CPU time).

The warm start part trains the net on random picks of MNIST-1D (20 and 80
labels) from scratch and from the pretrained body
(:meth:`SimCLREncoder.init_net`). Rows go to
``benchmarks/results/cold_start/cold_start.csv`` as they come (a re-run skips
the rows it holds); the paired summary (mean accuracy, difference to the
reference arm with a 95 % t interval over seeds) to ``cold_start.md`` and
``cold_start_summary.rst`` (included by the user guide). The committed
results come from these runs (``--cache`` keeps the fitted encoders, so the
later runs reuse them)::

    export OMP_NUM_THREADS=1
    python -m benchmarks.bench_cold_start --datasets mnist1d \
        --learners net linear fixmatch --cache /tmp/cs_cache
    python -m benchmarks.bench_cold_start --datasets mnist1d \
        --learners nn pretrained --cache /tmp/cs_cache
    python -m benchmarks.bench_cold_start --datasets digits \
        --learners net linear nn --cache /tmp/cs_cache
    python -m benchmarks.bench_cold_start --report
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import (
    RESULTS,
    append_rows,
    digits_split,
    make_estimator,
    md_to_rst,
    read_rows,
)

OUT = RESULTS / "cold_start"
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


def load(name, data_seed=2):
    """(X_pool, y_pool, X_test, y_test, kind)."""
    if name == "mnist1d":
        from skal.datasets import make_mnist1d

        X, y = make_mnist1d(6000, random_state=data_seed, return_X_y=True)
        return X[:4000], y[:4000], X[4000:], y[4000:], "signal"

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


def train_linear(F, y, Ft, yt):
    """Logistic regression on the (normalised) SSL features of the picks: the
    TypiClust paper's "self-supervised embedding" framework."""
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    clf = LogisticRegression(max_iter=2000).fit(F, y)
    sec = time.perf_counter() - t0
    return float(np.mean(clf.predict(Ft) == yt)), sec


def train_nn(F, y, Ft, yt):
    """1-nearest-neighbour on the (normalised) SSL features of the picks:
    parameter-free, and the classifier of ProbCover's coverage argument."""
    from sklearn.neighbors import KNeighborsClassifier

    t0 = time.perf_counter()
    clf = KNeighborsClassifier(1).fit(F, y)
    sec = time.perf_counter() - t0
    return float(np.mean(clf.predict(Ft) == yt)), sec


def train_fixmatch(kind, X, y, Xpool, Xt, yt, seed, **params):
    """FixMatch on the picks plus the whole pool as unlabeled rows (the
    papers' semi-supervised framework), with the label-efficiency suite's
    settings (``bench_label_efficiency.make_estimator("ssl", ...)``)."""

    net = make_estimator("ssl", 1 if kind == "signal" else 2)
    if params:
        net.set_params(**params)
    Xa = np.concatenate([X, Xpool])
    ya = np.concatenate([y.astype(np.int64), np.full(len(Xpool), -1)])
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    net.fit(Xa, ya)
    sec = time.perf_counter() - t0
    return float(np.mean(net.predict(Xt) == yt)), sec


def paired(rows, part, dataset, labels, arm, ref):
    from skal.evaluation import t_interval

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
    _, lo, hi = t_interval(d)
    return a.mean(), d.mean(), (hi - lo) / 2, len(d), int((d > 0).sum())


def summary(rows, path, meta):
    lines = [
        "# Cold start: self-supervised features at 1-2 labels per class",
        "",
        "Written by `benchmarks/bench_cold_start.py` (see its docstring); "
        "accuracy on the test rows of a classifier trained on the picked "
        "labels. Δ: paired difference to the reference arm over seeds "
        "(same seed: same net initialisation, same encoder), with a 95 % t "
        "interval; wins: seeds where the arm is ahead. Several SimCLR "
        "encoders are fitted per pool (random_state 0..K-1) and seed s "
        "selects on encoder s mod K, so the seeds vary the encoder, the "
        "selection and the classifier.",
        "",
        *meta,
        "",
    ]
    titles = {
        "cold": "Selection, `make_net` trained from scratch on the picks "
        "(reference: random)",
        "pretrained": "Selection, `make_net` warm-started from the pretrained "
        "body (`SimCLREncoder.init_net`) on the picks (reference: random)",
        "linear": "Selection, logistic regression on the SSL features of the "
        "picks (reference: random)",
        "nn": "Selection, 1-nearest-neighbour on the SSL features of the "
        "picks (reference: random)",
        "fixmatch": "Selection, FixMatch on the picks plus the pool as "
        "unlabeled rows (reference: random)",
        "warm": "Warm start from the pretrained body, random picks "
        "(reference: scratch)",
    }
    for part, title in titles.items():
        ref = "scratch" if part == "warm" else "random"
        keys = sorted(
            {(r["dataset"], int(r["labels"])) for r in rows if r["part"] == part}
        )
        if not keys:
            continue
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
    # the same tables for the docs' ``.. include::`` (self_supervised.rst)
    rst = md_to_rst(
        [f"**{x[3:]}**" if x.startswith("## ") else x for x in lines],
        "benchmarks/bench_cold_start.py",
    )
    path.with_name(path.stem + "_summary.rst").write_text(rst)


PARTS = {
    "cold": "net",
    "pretrained": "pretrained",
    "linear": "linear",
    "nn": "nn",
    "fixmatch": "fixmatch",
}


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
        default=[3000, 600],
        help="SimCLR steps per data set (in --datasets order)",
    )
    p.add_argument(
        "--data-seed",
        type=int,
        default=2,
        help="MNIST-1D generator seed (1 was the pool the SimCLR settings "
        "were chosen on; 2, the default, never saw that choice)",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="SimCLR temperature (default: SimCLREncoder's)",
    )
    p.add_argument(
        "--encoders",
        type=int,
        default=3,
        help="SimCLR encoders fitted per pool (random_state 0..K-1); seed s "
        "selects on encoder s %% K, so the seeds vary the encoder too",
    )
    p.add_argument(
        "--learners",
        nargs="+",
        choices=sorted(PARTS.values()),
        default=["net", "pretrained", "linear", "nn", "fixmatch"],
        help="net: make_net from scratch; pretrained: make_net warm-started "
        "from the encoder's body; linear: logistic regression on the SSL "
        "features; nn: 1-nearest-neighbour on them; fixmatch: FixMatch with "
        "the pool as unlabeled rows",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="a folder where fitted encoders are pickled and reused",
    )
    p.add_argument("--fixmatch-labels", nargs="+", type=int, default=[10])
    p.add_argument("--fixmatch-datasets", nargs="+", default=["mnist1d"])
    p.add_argument(
        "--fixmatch-arms",
        nargs="+",
        default=["random", "typiclust_ssl", "probcover_ssl", "probcover_ssl_knn"],
    )
    p.add_argument("--no-warm", action="store_true")
    p.add_argument("--report", action="store_true", help="only rewrite the summaries")
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
    rows = read_rows(path)
    done = {
        (r["part"], r["dataset"], int(r["labels"]), int(r["seed"]), r["arm"])
        for r in rows
    }
    extra_params = {"temperature": args.temperature} if args.temperature else {}
    # one line per fitted encoder, kept across runs (a run on one data set
    # keeps the other's lines)
    meta_path = args.out / "encoders.json"
    metas = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if args.report:
        summary(rows, args.out / "cold_start.md", [metas[k] for k in sorted(metas)])
        return
    pools = {}
    for name, steps in zip(args.datasets, args.steps):
        Xp, yp, Xt, yt, kind = load(name, args.data_seed)
        encs = []
        for k in range(args.encoders):
            t0 = time.perf_counter()
            enc = SimCLREncoder(
                n_steps=steps,
                batch_size=args.batch_size,
                random_state=k,
                **extra_params,
            )
            cached = None
            if args.cache is not None:
                key = "_".join(
                    f"{v}" for v in (name, args.data_seed, steps, enc.temperature)
                )
                cached = args.cache / f"{key}_{args.batch_size}_{k}.pkl"
            if cached is not None and cached.exists():
                with open(cached, "rb") as f:  # our own cache, not outside input
                    enc, enc_s = pickle.load(f)
            else:
                enc.fit(Xp)
                enc_s = time.perf_counter() - t0
                if cached is not None:
                    args.cache.mkdir(parents=True, exist_ok=True)
                    with open(cached, "wb") as f:
                        pickle.dump((enc, enc_s), f)
            F, Ft = unit_rows(enc.transform(Xp)), unit_rows(enc.transform(Xt))
            probe, _ = train_linear(F, yp, Ft, yt)
            metas[f"{name}/{k}"] = (
                f"- {name}, encoder {k}: pool {len(Xp)}, test {len(Xt)}; "
                f"SimCLR {steps} steps, batch {args.batch_size} (two strong "
                f"views each), temperature {enc.temperature}, fitted in "
                f"{enc_s:.0f} s; NT-Xent {np.mean(enc.loss_curve_[:20]):.2f} "
                f"→ {np.mean(enc.loss_curve_[-20:]):.2f}; linear probe with "
                f"every pool label (a ceiling, not an arm): {probe:.3f}"
            )
            print(metas[f"{name}/{k}"], flush=True)
            encs.append((enc, F, Ft))
        pools[name] = (Xp, yp, Xt, yt, kind, encs, unit_rows(Xp))
    meta_path.write_text(json.dumps(metas, indent=1, sort_keys=True))
    meta = [metas[key] for key in sorted(metas)]
    core = [a for a in args.arms if a in ARMS[:5]]
    extra = [a for a in args.arms if a not in core]
    parts = [part for part, learner in PARTS.items() if learner in args.learners]

    def cold(part, arms):
        labels, names = args.labels, args.datasets
        if part == "fixmatch":  # the costly learner: fewer settings
            labels = args.fixmatch_labels
            names = [d for d in names if d in args.fixmatch_datasets]
            arms = [a for a in arms if a in args.fixmatch_arms]
        return [
            (part, name, n, seed, arm)
            for name in names
            for n in labels
            for seed in range(args.seeds)
            for arm in arms
        ]

    # most important first, every arm of a seed together (pairs stay complete
    # if the run is cut short): the core arms with each learner, the warm
    # start, the extra arms
    jobs = [job for part in parts for job in cold(part, core)]
    if "mnist1d" in pools and not args.no_warm:
        jobs += [
            ("warm", "mnist1d", n, seed, arm)
            for n in args.warm_labels
            for seed in range(args.seeds)
            for arm in ("scratch", "pretrained")
        ]
    jobs += [job for part in parts for job in cold(part, extra)]
    by_key = {
        (r["part"], r["dataset"], int(r["labels"]), int(r["seed"]), r["arm"]): r
        for r in rows
    }
    for part, name, n, seed, arm in jobs:
        if (part, name, n, seed, arm) in done:
            continue
        Xp, yp, Xt, yt, kind, encs, raw = pools[name]
        enc, feats, feats_t = encs[seed % len(encs)]
        same = by_key.get(("cold", name, n, seed, "random"))
        if part == "warm" and arm == "scratch" and same is not None:
            # random picks of this seed, trained from scratch: the cold
            # start's random arm is this very run (same picks, same seed)
            row = {**same, "part": "warm", "arm": "scratch"}
        else:
            t1 = time.perf_counter()
            idx, radius = select(
                arm if part != "warm" else "random", n, seed, feats, raw, 10
            )
            sel = time.perf_counter() - t1
            small = {} if args.min_steps is None else {"min_steps": args.min_steps}
            if part == "linear":
                acc, fit_s = train_linear(feats[idx], yp[idx], feats_t, yt)
            elif part == "nn":
                acc, fit_s = train_nn(feats[idx], yp[idx], feats_t, yt)
            elif part == "fixmatch":
                rest = np.setdiff1d(np.arange(len(Xp)), idx)
                acc, fit_s = train_fixmatch(
                    kind, Xp[idx], yp[idx], Xp[rest], Xt, yt, seed, **small
                )
            else:
                acc, fit_s = train(
                    kind,
                    Xp[idx],
                    yp[idx],
                    Xt,
                    yt,
                    seed,
                    encoder=enc if "pretrained" in (arm, part) else None,
                    **small,
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
        append_rows(path, [row], FIELDS)
        row = {k: str(v) for k, v in row.items()}
        rows.append(row)
        by_key[(part, name, n, seed, arm)] = row
        summary(rows, args.out / "cold_start.md", meta)
    summary(rows, args.out / "cold_start.md", meta)


if __name__ == "__main__":
    main()
