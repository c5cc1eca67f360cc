"""Strategies held to their papers: the measurements behind issue 13's fixes.

Each experiment runs :func:`skal.evaluation.evaluate` with the converged
recipe (:func:`skal.nets.make_net`) on MNIST-1D (the label-efficiency suite's
pool and test rows, :mod:`bench_label_efficiency`), one seed at a time, and
appends the records of each seed to ``results/strategies/<experiment>.csv``
as soon as it is done (a deadline loses at most one seed). ``--report``
writes ``<experiment>.md`` from the CSV: paired differences with random
sampling (mean, 95 % t interval over seeds) and the class balance of the
picks::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/bench_strategy_fixes.py \
        coreset --seeds 0-9
    python benchmarks/bench_strategy_fixes.py coreset --report

Experiments
-----------
coreset
    CoreSet on L2-normalised embeddings (the default) and on raw ones
    (``normalize=False``) against random sampling, 20 -> 320 labels.
picks_dup, picks_ood, picks_smi
    One round each (a converged net on random labels, then each strategy's
    picks): redundancy of BALD / BatchBALD / PowerBALD on a near-duplicated
    pool, OOD share of margin picks behind ``OODFilter``, SMI's rare-class
    share and class concentration.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
OUT = HERE / "results" / "strategies"
N_CLASSES = 10


def mnist1d_split(n_pool=4000):
    """(X_pool, y_pool, X_test, y_test): the suite's MNIST-1D rows."""
    from bench_label_efficiency import mnist1d

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


EXPERIMENTS = {"coreset": _coreset}


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

    return get_adapter(L).mc_proba(X, rows, n_samples=20, random_state=seed)


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


def append_seeds(path, seeds, records_of, label, *, sort_keys=False):
    """Append ``records_of(seed)`` to the CSV at ``path`` for every seed it
    does not hold yet, one seed at a time (an interrupted run keeps them);
    appended rows follow the file's header."""
    OUT.mkdir(parents=True, exist_ok=True)
    done, header = set(), None
    if path.exists():
        with open(path) as f:
            reader = csv.DictReader(f)
            done = {int(r["seed"]) for r in reader}
            header = reader.fieldnames
    for seed in seeds:
        if seed in done:
            continue
        t = time.time()
        recs = records_of(seed)
        keys = header or list(dict.fromkeys(k for r in recs for k in r))
        if sort_keys and header is None:
            keys = sorted(keys)
        header = keys
        new = not path.exists()
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerows(recs)
        print(f"{label} seed {seed}: {time.time() - t:.0f} s", flush=True)


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
        f"Command: `python benchmarks/bench_strategy_fixes.py {name} "
        f"--seeds {seeds[0]}-{seeds[-1]}`.\n\n" + table.to_markdown() + "\n"
    )
    (OUT / f"{name}{tag}.md").write_text(text)
    print(text)


def parse_seeds(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


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
            progress=False,
            **kw,
        )

    append_seeds(OUT / f"{name}.csv", seeds, records_of, name, sort_keys=True)


def read(name):
    with open(OUT / f"{name}.csv") as f:
        return list(csv.DictReader(f))


def _t_interval(d):
    from scipy import stats

    d = np.asarray(d, float)
    if d.size < 2:
        return float(d.mean()), float("nan")
    h = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean()), float(h)


def report(name):
    rows = read(name)
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    budgets = sorted({int(r["n_labels"]) for r in rows})
    acc = {
        (r["strategy"], int(r["seed"]), int(r["n_labels"])): float(r["accuracy"])
        for r in rows
    }
    seeds = sorted({int(r["seed"]) for r in rows})
    lines = [
        f"# {name}: paired differences with random sampling",
        "",
        f"MNIST-1D, converged `make_net('signal', 10)`, seeds {seeds[0]}-"
        f"{seeds[-1]} ({len(seeds)}); accuracy on the 2000 test rows; "
        "difference = strategy - random on the same seed, mean and 95 % t "
        "interval. Command: `python benchmarks/bench_strategy_fixes.py "
        f"{name} --seeds {seeds[0]}-{seeds[-1]}`.",
        "",
        "| strategy | " + " | ".join(f"{b} labels" for b in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for s in strategies:
        cells = []
        for b in budgets:
            have = [k for k in seeds if (s, k, b) in acc and ("random", k, b) in acc]
            a = np.mean([acc[(s, k, b)] for k in have]) if have else np.nan
            if s == "random" or not have:
                cells.append(f"{a:.3f}")
                continue
            m, h = _t_interval([acc[(s, k, b)] - acc[("random", k, b)] for k in have])
            cells.append(f"{a:.3f} ({m:+.3f} ± {h:.3f})")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    others = [s for s in strategies if s != "random"]
    if len(others) >= 2:  # the two variants against each other, paired
        a, b = others[:2]
        cells = []
        for x in budgets:
            have = [k for k in seeds if (a, k, x) in acc and (b, k, x) in acc]
            m, h = _t_interval([acc[(a, k, x)] - acc[(b, k, x)] for k in have])
            cells.append(f"{m:+.3f} ± {h:.3f}")
        lines.append(f"| {a} − {b} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Class balance of the labeled set at the last budget "
        "(labels of the most and least picked class; mean over seeds):",
        "",
        "| strategy | most | least | classes 0 and 6 |",
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
                f"| {counts[:, [0, 6]].sum(1).mean():.1f} |"
            )
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    (OUT / f"{name}_summary.rst").write_text(_rst(lines))
    print("\n".join(lines))


def _rst(lines):
    """The markdown tables of ``lines`` as reStructuredText list-tables (for
    the docs' ``.. include::``), the text between them as paragraphs."""
    out, table = [".. Generated by benchmarks/bench_strategy_fixes.py.", ""], []

    def flush():
        if not table:
            return
        rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
        out.extend([".. list-table::", "   :header-rows: 1", ""])
        for r in rows:
            cells = [c.strip() for c in r.strip().strip("|").split("|")]
            out.append("   * - " + cells[0])
            out.extend(f"     - {c}" for c in cells[1:])
        out.append("")
        table.clear()

    for line in lines:
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("# "):
            continue
        out.append(line.replace("`", "``"))
    flush()
    return "\n".join(out) + "\n"


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
