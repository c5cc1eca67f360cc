"""Strategies held to their papers: the measurements behind issue 13's fixes.

Each experiment runs :func:`skal.evaluation.evaluate` with the converged
recipe (:func:`skal.nets.make_net`) on MNIST-1D (the label-efficiency suite's
pool and test rows, :mod:`bench_label_efficiency`), one seed at a time, and
appends the records of each seed to ``results/strategies/<experiment>.csv``
as soon as it is done (a deadline loses at most one seed). ``--report``
writes ``<experiment>.md`` from the CSV: paired differences with random
sampling (mean, 95 % t interval over seeds) and the class balance of the
picks::

    OMP_NUM_THREADS=1 nice -n 5 python -m benchmarks.bench_strategy_fixes \
        coreset --seeds 0-9
    python -m benchmarks.bench_strategy_fixes coreset --report

Experiments
-----------
coreset
    CoreSet on L2-normalised embeddings (the default) and on raw ones
    (``normalize=False``) against random sampling, 20 -> 320 labels.
bald_batch, bald_small, ood, smi, diversity
    Learning curves (budgets 20 -> 320, random sampling as the paired
    reference, one fixed pool per experiment): BALD, ``PowerSampling(BALD())``
    and ``TopK(BALD(), k=500) | BatchBALD()`` on the near-duplicated pool of
    picks_dup (``bald_small``: the same in batches of 10, 20 -> 100 labels,
    the paper's regime); margin with and without ``OODFilter()`` on the
    35 % OOD pool of picks_ood (the report adds the share of labels spent on
    OOD rows);
    SMI and margin on the long-tailed pool of picks_smi (balanced test rows;
    the report counts the three rarest classes); KMeans, facility location
    and Cluster-Margin on the standard pool. The report adds the AULC over
    log(labels) and the contrasts of ``CONTRASTS``.
picks_dup, picks_ood, picks_smi
    One round each (a converged net on random labels, then each strategy's
    picks): redundancy of BALD / BatchBALD / PowerBALD on a near-duplicated
    pool, OOD share of margin picks behind ``OODFilter``, SMI's rare-class
    share and class concentration.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._common import (
    RESULTS,
    append_seeds,
    md_to_rst,
    mnist1d,
    parse_seeds,
    read_rows,
)
from skal.evaluation import t_interval

OUT = RESULTS / "strategies"
N_CLASSES = 10


def mnist1d_split(n_pool=4000):
    """(X_pool, y_pool, X_test, y_test): the suite's MNIST-1D rows."""
    X, y = mnist1d(24000)
    return X[:n_pool], y[:n_pool], X[22000:], y[22000:]


def _coreset():
    from skal.strategies import CoreSet, RandomSampling

    strategies = {
        "random": RandomSampling(),
        "coreset": CoreSet(),
        "coreset_raw": CoreSet(normalize=False),
    }
    return strategies, mnist1d_split(), [20, 40, 80, 160, 320], {}


BUDGETS = [20, 40, 80, 160, 320]


def _bald_batch():
    """BALD, PowerBALD and BatchBALD on the near-duplicated pool of picks_dup
    (3000 rows, 30 % of them copied 5 times with noise 0.05; pool fixed by
    random_state=0), scored on the clean test rows."""
    from skal.datasets import add_near_duplicates
    from skal.strategies import BALD, BatchBALD, PowerSampling, RandomSampling, TopK

    Xp, yp, Xt, yt = mnist1d_split(3000)
    X, y, _ = add_near_duplicates(
        Xp, yp, fraction=0.3, n_copies=5, noise=0.05, random_state=0
    )
    strategies = {
        "random": RandomSampling(),
        "bald": BALD(),
        "powerbald": PowerSampling(BALD()),
        "batchbald": TopK(BALD(), k=500) | BatchBALD(),
    }
    return strategies, (X, y, Xt, yt), BUDGETS, {}


def _bald_small():
    """bald_batch's pool and strategies in the paper's regime: batches of 10
    (BatchBALD's one block), 20 -> 100 labels."""
    strategies, data, _, kw = _bald_batch()
    return strategies, data, list(range(20, 101, 10)), kw


def _ood():
    """Margin sampling with and without OODFilter (contamination="auto") on
    the 4000-row pool with 35 % noise rows (add_ood, label -2: a query
    answered "none of these" costs a label and is not taught)."""
    from skal.datasets import add_ood
    from skal.strategies import MarginSampling, OODFilter, RandomSampling

    Xp, yp, Xt, yt = mnist1d_split()
    X, y, _ = add_ood(Xp, yp, fraction=0.35, random_state=0)
    strategies = {
        "random": RandomSampling(),
        "margin": MarginSampling(),
        "oodfilter_margin": OODFilter() | MarginSampling(),
    }
    return strategies, (X, y, Xt, yt), BUDGETS, {}


def _smi():
    """SMI (default query set: the rarest labeled classes) against margin
    and random sampling on the long-tailed pool of picks_smi (ratio 10),
    scored on the (balanced) test rows."""
    from skal.datasets import make_imbalanced
    from skal.strategies import (
        MarginSampling,
        RandomSampling,
        SubmodularMutualInformation,
    )

    Xb, yb, Xt, yt = mnist1d_split(8000)
    X, y, _ = make_imbalanced(Xb, yb, ratio=10, random_state=0)
    strategies = {
        "random": RandomSampling(),
        "smi": SubmodularMutualInformation(),
        "margin": MarginSampling(),
    }
    return strategies, (X, y, Xt, yt), BUDGETS, {}


def _diversity():
    """KMeans, facility location and Cluster-Margin on the standard pool."""
    from skal.strategies import (
        ClusterMargin,
        FacilityLocation,
        KMeansSampling,
        RandomSampling,
    )

    strategies = {
        "random": RandomSampling(),
        "kmeans": KMeansSampling(),
        "facility_location": FacilityLocation(),
        "cluster_margin": ClusterMargin(),
    }
    return strategies, mnist1d_split(), BUDGETS, {}


EXPERIMENTS = {
    "coreset": _coreset,
    "bald_batch": _bald_batch,
    "bald_small": _bald_small,
    "ood": _ood,
    "smi": _smi,
    "diversity": _diversity,
}
# pairs of strategies compared with each other in the report (default: the
# first two that are not random)
# classes summed in the report's class-balance table (smi: the three rarest
# classes of the long-tailed pool; others: the high-norm classes of coreset)
RARE = {"smi": [7, 8, 9]}
CONTRASTS = {
    "bald_batch": [("batchbald", "bald"), ("powerbald", "bald")],
    "bald_small": [("batchbald", "bald"), ("powerbald", "bald")],
    "ood": [("oodfilter_margin", "margin")],
    "smi": [("smi", "margin")],
}


# --------------------------------------------------------------------------
# one-round pick composition (no accuracy): a converged net trained on
# random labels, then each strategy's picks from the same pool
# --------------------------------------------------------------------------
def _fit(X, y, lab, seed):
    from skal import ActiveLearner
    from skal.nets import make_net

    ys = np.full(len(y), -1)
    ys[lab] = y[lab]
    return ActiveLearner(make_net("signal", N_CLASSES), random_state=seed).fit(X, ys)


def picks_dup(seed, only=None):
    """Near-duplicated pool: redundancy of BALD / BatchBALD / PowerBALD picks."""
    from skal.datasets import add_near_duplicates
    from skal.strategies import (
        BALD,
        BatchBALD,
        PowerSampling,
        RandomSampling,
        TopK,
        bald_score,
    )

    Xp, yp, _, _ = mnist1d_split(3000)
    X, y, src = add_near_duplicates(
        Xp, yp, fraction=0.3, n_copies=5, noise=0.05, random_state=seed
    )
    lab = np.random.RandomState(seed).choice(len(yp), 160, replace=False)
    L = _fit(X, y, lab, seed)
    pool = L.pool_indices_
    strategies = {
        "random": RandomSampling(),
        "bald": BALD(),
        "powerbald": PowerSampling(BALD()),
        "batchbald_joint": TopK(BALD(), k=500) | BatchBALD(block_size=None),
        "batchbald": TopK(BALD(), k=500) | BatchBALD(),
    }
    if only:
        strategies = {k: v for k, v in strategies.items() if k in only}
    bald = dict(zip(pool, bald_score(_mc(L, X, pool, seed))))
    out = []
    for n in (10, 160):
        best = np.sort(list(bald.values()))[::-1][:n].mean()
        for name, s in strategies.items():
            t = time.time()
            sel = s(L, X, n_instances=n, candidates=pool, random_state=seed)
            counts = np.bincount(y[sel], minlength=N_CLASSES)
            out.append(
                {
                    "seed": seed,
                    "n": n,
                    "strategy": name,
                    # picks whose source row another pick already has
                    "redundant_share": 1 - np.unique(src[sel]).size / n,
                    "bald_vs_topk": np.mean([bald[i] for i in sel]) / best,
                    "most_class": counts.max(),
                    "least_class": counts.min(),
                    "seconds": round(time.time() - t, 2),
                }
            )
    return out


def _mc(L, X, rows, seed):
    from skal.models import get_adapter

    return get_adapter(L).mc_proba(X, rows, n_draws=20, random_state=seed)


def picks_ood(seed, only=None):
    """OOD share of margin picks behind OODFilter, by contamination rule."""
    from skal.datasets import add_ood
    from skal.strategies import MarginSampling, OODFilter

    Xp, yp, _, _ = mnist1d_split()
    out = []
    for frac in (0.2, 0.35):
        X, y, is_ood = add_ood(Xp, yp, fraction=frac, random_state=seed)
        rng = np.random.RandomState(seed)
        lab = rng.choice(np.flatnonzero(~is_ood), 160, replace=False)
        L = _fit(X, y, lab, seed)
        pool = L.pool_indices_
        for name, s in {
            "margin": MarginSampling(),
            "oodfilter_0.2_margin": OODFilter(contamination=0.2) | MarginSampling(),
            "oodfilter_auto_margin": OODFilter() | MarginSampling(),
        }.items():
            sel = s(L, X, n_instances=100, candidates=pool, random_state=seed)
            out.append(
                {
                    "seed": seed,
                    "ood_fraction": frac,
                    "strategy": name,
                    "ood_share": float(is_ood[sel].mean()),
                }
            )
    return out


def picks_smi(seed, only=None):
    """SMI's picks: rare-class share on a long-tailed pool, concentration on a
    balanced one, with and without normalised embeddings."""
    from skal.datasets import make_imbalanced
    from skal.strategies import (
        MarginSampling,
        RandomSampling,
        SubmodularMutualInformation,
    )

    Xb, yb, _, _ = mnist1d_split(8000)
    pools = {"balanced": (Xb[:4000], yb[:4000])}
    Xl, yl, _ = make_imbalanced(Xb, yb, ratio=10, random_state=0)
    pools["long_tailed"] = (Xl, yl)
    out = []
    for pool_name, (X, y) in pools.items():
        freq = np.bincount(y, minlength=N_CLASSES)
        rare = np.argsort(freq)[:3]  # the three smallest classes of the pool
        lab = np.random.RandomState(seed).choice(len(y), 40, replace=False)
        L = _fit(X, y, lab, seed)
        pool = L.pool_indices_
        for name, s in {
            "random": RandomSampling(),
            "margin": MarginSampling(),
            "smi": SubmodularMutualInformation(),
            "smi_raw": SubmodularMutualInformation(normalize=False),
            "smi_gcmi": SubmodularMutualInformation(function="gcmi"),
        }.items():
            sel = s(L, X, n_instances=50, candidates=pool, random_state=seed)
            counts = np.bincount(y[sel], minlength=N_CLASSES)
            out.append(
                {
                    "seed": seed,
                    "pool": pool_name,
                    "strategy": name,
                    "rare_share": float(np.isin(y[sel], rare).mean()),
                    "rare_pool_share": float(np.isin(y[pool], rare).mean()),
                    "top_class_share": counts.max() / 50,
                    "classes_picked": int((counts > 0).sum()),
                }
            )
    return out


PICKS = {"picks_dup": picks_dup, "picks_ood": picks_ood, "picks_smi": picks_smi}


def run_picks(name, seeds, only=None, tag=""):
    append_seeds(
        OUT / f"{name}{tag}.csv", seeds, lambda seed: PICKS[name](seed, only=only), name
    )


def report_picks(name, tag=""):
    import pandas as pd

    df = pd.read_csv(OUT / f"{name}{tag}.csv")
    keys = [c for c in ("pool", "ood_fraction", "n") if c in df.columns]
    metrics = [c for c in df.columns if c not in {"seed", "strategy", "seconds", *keys}]
    g = df.groupby([*keys, "strategy"], sort=False)[metrics]
    table = g.mean().round(3).astype(str) + " ± " + g.std().round(3).astype(str)
    seeds = sorted(int(x) for x in df.seed.unique())
    text = (
        f"# {name}: one round, mean ± sd over seeds {seeds}\n\n"
        f"Command: `python -m benchmarks.bench_strategy_fixes {name} "
        f"--seeds {seeds[0]}-{seeds[-1]}`.\n\n" + table.to_markdown() + "\n"
    )
    (OUT / f"{name}{tag}.md").write_text(text)
    print(text)


def run(name, seeds):
    from skal.evaluation import evaluate
    from skal.nets import make_net

    strategies, (Xp, yp, Xt, yt), budgets, kw = EXPERIMENTS[name]()

    def records_of(seed):
        return evaluate(
            make_net("signal", N_CLASSES),
            strategies,
            Xp,
            yp,
            Xt,
            yt,
            budgets=budgets,
            seeds=[seed],
            verbose=0,
            **kw,
        )

    append_seeds(OUT / f"{name}.csv", seeds, records_of, name, sort_keys=True)


def read(name):
    return read_rows(OUT / f"{name}.csv")


def _mean_pm(d):
    """(mean, half-width of the 95 % t interval) of paired differences."""
    m, lo, hi = t_interval(d)
    return m, (hi - lo) / 2


def _aulc(acc, s, seed, budgets):
    from skal.metrics import aulc

    return aulc(budgets, [acc[(s, seed, b)] for b in budgets], scale="log")


def paired_summary(name, a, b="random", b_experiment=None):
    """``a`` − ``b`` on the learning curves of experiment ``name``, paired by
    seed: ``{"n_seeds", "budgets", "per_budget": [(mean, half-width)],
    "aulc": (mean, half-width)}`` (AULC over log(labels), 95 % t), over the
    seeds where both curves are complete; None without such seeds.

    ``b_experiment`` takes ``b`` from another experiment's CSV; the two runs
    pair only on the seeds where their random-sampling curves are identical
    (same pool, test rows and initial sets)."""
    names = [name] + ([b_experiment] if b_experiment else [])
    if not all((OUT / f"{n}.csv").exists() for n in names):
        return None
    accs = []
    for n in names:
        accs.append(
            {
                (r["strategy"], int(r["seed"]), int(r["n_labels"])): float(
                    r["accuracy"]
                )
                for r in read(n)
            }
        )
    acc = dict(accs[0])
    if b_experiment:
        acc.update({k: v for k, v in accs[1].items() if k[0] == b})
    budgets = sorted({k[2] for k in accs[0]})
    seeds = sorted(
        k
        for k in {k[1] for k in accs[0]}
        if all((s, k, x) in acc for s in (a, b) for x in budgets)
        and all(
            accs[0].get(("random", k, x)) == d.get(("random", k, x))
            for d in accs
            for x in budgets
        )
    )
    if not seeds:
        return None
    return {
        "n_seeds": len(seeds),
        "budgets": budgets,
        "per_budget": [
            _mean_pm([acc[(a, k, x)] - acc[(b, k, x)] for k in seeds]) for x in budgets
        ],
        "aulc": _mean_pm(
            [_aulc(acc, a, k, budgets) - _aulc(acc, b, k, budgets) for k in seeds]
        ),
    }


def summary_text(name, a, b="random", b_experiment=None):
    """:func:`paired_summary` in words for a claims row, or None."""
    r = paired_summary(name, a, b, b_experiment)
    if r is None:
        return None
    m, h = r["aulc"]
    word = (
        "above" if m - h > 0 else "below" if m + h < 0 else "no significant difference"
    )
    per = ", ".join(
        f"{pm:+.3f} ± {ph:.3f} ({x})"
        for x, (pm, ph) in zip(r["budgets"], r["per_budget"])
        if x != r["budgets"][0]
    )
    return (
        f"{a} − {b} AULC {m:+.3f} ± {h:.3f} ({word}); per budget {per}; "
        f"{r['n_seeds']} seeds (`bench_strategy_fixes.py {name}`"
        + (f", {b} from `{b_experiment}`, same random curves" if b_experiment else "")
        + ")"
    )


def report(name):
    rows = read(name)
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    budgets = sorted({int(r["n_labels"]) for r in rows})
    acc = {
        (r["strategy"], int(r["seed"]), int(r["n_labels"])): float(r["accuracy"])
        for r in rows
    }
    seeds = sorted({int(r["seed"]) for r in rows})

    def complete(s, k):
        return all((s, k, b) in acc for b in budgets)

    lines = [
        f"# {name}: paired differences with random sampling",
        "",
        f"MNIST-1D, converged `make_net('signal', 10)`, seeds {seeds[0]}-"
        f"{seeds[-1]} ({len(seeds)}); accuracy on the 2000 test rows; "
        "difference = strategy - random on the same seed, mean and 95 % t "
        "interval; AULC over log(labels) (`skal.metrics.aulc`, "
        "`scale='log'`). Command: `python -m benchmarks.bench_strategy_fixes "
        f"{name} --seeds {seeds[0]}-{seeds[-1]}`.",
        "",
        "| strategy | " + " | ".join(f"{b} labels" for b in budgets) + " | AULC |",
        "|---|" + "---|" * (len(budgets) + 1),
    ]
    for s in strategies:
        cells = []
        for b in budgets:
            have = [k for k in seeds if (s, k, b) in acc and ("random", k, b) in acc]
            a = np.mean([acc[(s, k, b)] for k in have]) if have else np.nan
            if s == "random" or not have:
                cells.append(f"{a:.3f}")
                continue
            m, h = _mean_pm([acc[(s, k, b)] - acc[("random", k, b)] for k in have])
            cells.append(f"{a:.3f} ({m:+.3f} ± {h:.3f})")
        have = [k for k in seeds if complete(s, k) and complete("random", k)]
        if not have:
            cells.append("")
        elif s == "random":
            cells.append(f"{np.mean([_aulc(acc, s, k, budgets) for k in have]):.3f}")
        else:
            a = np.mean([_aulc(acc, s, k, budgets) for k in have])
            m, h = _mean_pm(
                [
                    _aulc(acc, s, k, budgets) - _aulc(acc, "random", k, budgets)
                    for k in have
                ]
            )
            cells.append(f"{a:.3f} ({m:+.3f} ± {h:.3f})")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    others = [s for s in strategies if s != "random"]
    pairs = CONTRASTS.get(name) or ([tuple(others[:2])] if len(others) >= 2 else [])
    for a, b in pairs:  # two strategies against each other, paired
        if a not in strategies or b not in strategies:
            continue
        cells = []
        for x in budgets:
            have = [k for k in seeds if (a, k, x) in acc and (b, k, x) in acc]
            m, h = _mean_pm([acc[(a, k, x)] - acc[(b, k, x)] for k in have])
            cells.append(f"{m:+.3f} ± {h:.3f}")
        have = [k for k in seeds if complete(a, k) and complete(b, k)]
        m, h = _mean_pm(
            [_aulc(acc, a, k, budgets) - _aulc(acc, b, k, budgets) for k in have]
        )
        cells.append(f"{m:+.3f} ± {h:.3f}")
        lines.append(f"| {a} − {b} | " + " | ".join(cells) + " |")
    if any(float(r.get("n_ood") or 0) for r in rows):
        lines += [
            "",
            "Share of the labels spent on out-of-distribution rows (answered "
            "'none of these', not taught), mean over seeds; the random initial "
            f"set of {budgets[0]} labels is drawn from the whole pool:",
            "",
            "| strategy | " + " | ".join(f"{b} labels" for b in budgets) + " |",
            "|---|" + "---|" * len(budgets),
        ]
        for s in strategies:
            cells = []
            for b in budgets:
                v = [
                    float(r["n_ood"]) / int(r["n_labels"])
                    for r in rows
                    if r["strategy"] == s and int(r["n_labels"]) == b
                ]
                cells.append(f"{100 * np.mean(v):.1f} %" if v else "")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        # the labels the strategy picked itself: after the shared initial set
        n_ood = {
            (r["strategy"], r["seed"], int(r["n_labels"])): float(r["n_ood"])
            for r in rows
        }
        b0 = budgets[0]
        lines += [
            "",
            "The same share among the labels the strategy picked itself (all "
            f"labels after the initial {b0}):",
            "",
            "| strategy | " + " | ".join(f"{b} labels" for b in budgets[1:]) + " |",
            "|---|" + "---|" * (len(budgets) - 1),
        ]
        for s in strategies:
            cells = []
            for b in budgets[1:]:
                v = [
                    (n_ood[(t, k, b)] - n_ood[(t, k, b0)]) / (b - b0)
                    for (t, k, x) in n_ood
                    if t == s and x == b and (t, k, b0) in n_ood
                ]
                cells.append(f"{100 * np.mean(v):.1f} %" if v else "")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
    rare = RARE.get(name, [0, 6])
    lines += [
        "",
        "Class balance of the labeled set at the last budget "
        "(labels of the most and least picked class; mean over seeds):",
        "",
        f"| strategy | most | least | classes {', '.join(map(str, rare))} |",
        "|---|---|---|---|",
    ]
    last = budgets[-1]
    for s in strategies:
        counts = np.array(
            [
                [float(r.get(f"count_{c}") or 0) for c in range(N_CLASSES)]
                for r in rows
                if r["strategy"] == s and int(r["n_labels"]) == last
            ]
        )
        if counts.size:
            lines.append(
                f"| {s} | {counts.max(1).mean():.1f} | {counts.min(1).mean():.1f} "
                f"| {counts[:, rare].sum(1).mean():.1f} |"
            )
    secs = {}
    for r in rows:
        k = (r["strategy"], r["seed"])
        secs[k] = secs.get(k, 0.0) + sum(
            float(r.get(c) or 0)
            for c in ("query_seconds", "fit_seconds", "inference_seconds")
        )
    lines += [
        "",
        "Seconds per seed (query + fit + scoring, all budgets; mean over seeds): "
        + ", ".join(
            f"{s} {np.mean([v for (t, _), v in secs.items() if t == s]):.0f}"
            for s in strategies
        )
        + ".",
    ]
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    (OUT / f"{name}_summary.rst").write_text(
        md_to_rst(lines, "benchmarks/bench_strategy_fixes.py")
    )
    print("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", choices=sorted(EXPERIMENTS) + sorted(PICKS))
    p.add_argument("--seeds", default="0-9")
    p.add_argument("--report", action="store_true")
    p.add_argument(
        "--only", default="", help="picks_*: these strategies (comma-separated)"
    )
    p.add_argument("--tag", default="", help="picks_*: suffix of the result files")
    a = p.parse_args(argv)
    if a.experiment in PICKS:
        only = [x for x in a.only.split(",") if x] or None
        if not a.report:
            run_picks(a.experiment, parse_seeds(a.seeds), only, a.tag)
        report_picks(a.experiment, a.tag)
    elif a.report:
        report(a.experiment)
    else:
        run(a.experiment, parse_seeds(a.seeds))
        report(a.experiment)


if __name__ == "__main__":
    main()
