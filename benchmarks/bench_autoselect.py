"""AutoSelect against each fixed strategy (issue 28): chosen on selection
pools, reported on held-out pools.

Protocol (fixed before the runs):

* classifier: ``LogisticRegression(max_iter=1000)`` (``C=1``) on digits'
  pixels and MNIST-1D's raw signals; ``LogisticRegression(C=10,
  max_iter=2000)`` on the MiniLM sentence embeddings of BBC News and tweets
  (the head of ``bench_text.py``, whose ``C`` was chosen there). Converged
  nets are too slow for the shared CPUs of this run: logistic regression only.
* budgets 10, 20, 40, 80, 160, 320 labels (a random initial set of 10, then
  batches of 10, 20, 40, 80, 160), 10 seeds paired by seed
  (:func:`skal.evaluation.evaluate`: same initial set and first model for
  every strategy of a seed), AULC over log(labels)
  (:func:`skal.evaluation.paired_differences`, ``metric="aulc"``,
  ``scale="log"``, 95 % t intervals).
* **selection pools** (AutoSelect's parameters are chosen here only):
  ``sel_digits`` (digits, ``train_test_split(test_size=450, stratify=y,
  random_state=0)``) and ``sel_mnist1d`` (MNIST-1D of data seed 3: 4000 pool
  rows, 2000 test rows).
* **held-out pools** (reported, never looked at for the choice):
  ``digits`` (the split with ``random_state=1``), ``mnist1d`` (a fresh draw,
  data seed 7), ``mnist1d_lt`` (data seed 7, the first 8000 rows made
  long-tailed with :func:`skal.datasets.make_imbalanced`, ratio 10),
  ``mnist1d_ood`` (the ``mnist1d`` pool plus 20 % noise rows,
  :func:`skal.datasets.add_ood`: a query answered "none of these" costs a
  label and is not taught), ``bbc`` and ``tweets`` (``bench_text.py``'s
  splits and cached MiniLM embeddings: 1,668 / 557 and 4,000 / 2,000 rows).
  ``bench_text.py`` later chose ``C=1`` on the tweet pool; ``bbc_c1`` and
  ``tweets_c1`` repeat the two text pools with ``C=1`` (added after the
  runs above, as a check; not part of the bar).

The choice among AutoSelect's variants (``VARIANTS``: prior strength 8 or
20, reward "balance" or "none", the low-budget switch at 10, 30 or 100 labels
per class, a uniform prior) was made on the mean log-AULC over the two
selection pools: ``prior_strength=20`` (``auto``), the rest at their first
values. The ``"error"`` reward needs the predictions a stored-pool query
records, which ``evaluate``'s simulation (new rows every round) does not
keep: ``--stored`` runs AutoSelect with each reward on the stored pool, from
the same initial set of the seed (``auto_stored``, ``auto_error_stored``),
after the choice, to show the rewards side by side.

Rows go to ``results/autoselect/<pool>.csv``, one seed at a time (all arms of
that seed), so a cut-off run keeps its finished seeds::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.bench_autoselect \\
        --pools sel_digits sel_mnist1d --arms selection --seeds 0-9
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.bench_autoselect \\
        --pools digits mnist1d bbc tweets mnist1d_lt mnist1d_ood \\
        --arms heldout --seeds 0-9
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.bench_autoselect \
        --stored --pools sel_digits sel_mnist1d --seeds 0-9
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.bench_autoselect \
        --choices --pools sel_digits sel_mnist1d digits mnist1d tweets \
        mnist1d_lt mnist1d_ood bbc --seeds 0-9
    python -m benchmarks.bench_autoselect --report
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._common import (
    RESULTS,
    append_rows,
    mnist1d,
    parse_seeds,
    read_csv,
    read_rows,
)

OUT = RESULTS / "autoselect"
BUDGETS = [10, 20, 40, 80, 160, 320]
SELECTION = ["sel_digits", "sel_mnist1d"]
HELD_OUT = [
    "digits",
    "mnist1d",
    "bbc",
    "tweets",
    "mnist1d_lt",
    "mnist1d_ood",
    "bbc_c1",
    "tweets_c1",
]
#: the four pools of the issue's held-out bar
BAR_POOLS = ["digits", "mnist1d", "bbc", "tweets"]
FIXED = [
    "random",
    "margin",
    "entropy",
    "typiclust",
    "badge",
    "coreset",
    "balanced",
    "default",
]
#: AutoSelect variants compared on the selection pools
VARIANTS = {
    "auto": {},  # the default chosen on the selection pools (prior_strength=20)
    "auto_s8": {"prior_strength": 8},
    "auto_s8_none": {"prior_strength": 8, "reward": "none"},
    "auto_s8_L10": {"prior_strength": 8, "low_budget_per_class": 10},
    "auto_s8_L100": {"prior_strength": 8, "low_budget_per_class": 100},
    "auto_s8_uniform": {"prior_strength": 8, "prior": "uniform"},
}
#: the held-out arms: the fixed strategies and the chosen AutoSelect
HELD_OUT_AUTO = ["auto"]


def load_pool(name):
    """``(X_pool, y_pool, X_test, y_test, C)`` of a pool of the protocol."""
    from sklearn.model_selection import train_test_split

    from skal.datasets import add_ood, load_digits_images, make_imbalanced

    if name in ("sel_digits", "digits"):
        X, y = load_digits_images(return_X_y=True)
        X = X.reshape(len(X), -1)
        Xp, Xt, yp, yt = train_test_split(
            X,
            y,
            test_size=450,
            stratify=y,
            random_state=0 if name == "sel_digits" else 1,
        )
        return Xp, yp, Xt, yt, 1.0
    if name.startswith(("sel_mnist1d", "mnist1d")):
        seed = 3 if name == "sel_mnist1d" else 7
        X, y = mnist1d(10000, seed=seed)
        X = X.reshape(len(X), -1)  # raw signals, flat
        Xt, yt = X[-2000:], y[-2000:]
        if name == "mnist1d_lt":
            Xp, yp, _ = make_imbalanced(X[:8000], y[:8000], ratio=10, random_state=0)
        else:
            Xp, yp = X[:4000], y[:4000]
        if name == "mnist1d_ood":
            Xp, yp, _ = add_ood(Xp, yp, fraction=0.2, random_state=0)
        return Xp, yp, Xt, yt, 1.0
    if name in ("bbc", "tweets", "bbc_c1", "tweets_c1"):
        from benchmarks.bench_text import embeddings

        Xp, yp, Xt, yt = embeddings(name.removesuffix("_c1"))
        return Xp, yp, Xt, yt, 1.0 if name.endswith("_c1") else 10.0
    raise ValueError(f"unknown pool {name!r}")


def make_arm(name):
    import skal.strategies as S

    fixed = {
        "random": S.RandomSampling,
        "margin": S.MarginSampling,
        "entropy": S.EntropySampling,
        "typiclust": S.TypiClust,
        "badge": S.BADGE,
        "coreset": lambda: S.CoreSet(normalize=True),
        "balanced": S.BalancedSelection,
        "default": S.default_strategy,
    }
    if name in fixed:
        return fixed[name]()
    return S.AutoSelect(**VARIANTS[name])


def run(pools, arms, seeds):
    from sklearn.linear_model import LogisticRegression

    from skal.evaluation import evaluate

    OUT.mkdir(parents=True, exist_ok=True)
    for pool in pools:
        Xp, yp, Xt, yt, C = load_pool(pool)
        path = OUT / f"{pool}.csv"
        done = {(r["strategy"], int(r["seed"])) for r in read_rows(path)}
        est = LogisticRegression(C=C, max_iter=1000 if C == 1.0 else 2000)
        for seed in seeds:
            todo = {a: make_arm(a) for a in arms if (a, seed) not in done}
            if not todo:
                continue
            t0 = time.perf_counter()
            recs = evaluate(
                est,
                todo,
                Xp,
                yp,
                Xt,
                yt,
                budgets=BUDGETS,
                seeds=[seed],
                verbose=False,
            )
            rows = [
                {
                    "pool": pool,
                    "strategy": r["strategy"],
                    "seed": r["seed"],
                    "n_labels": r["n_labels"],
                    "accuracy": r["accuracy"],
                    "query_seconds": round(r["query_seconds"], 4),
                }
                for r in recs
            ]
            append_rows(path, rows)
            print(
                f"{pool} seed {seed}: {len(todo)} arms in "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )


#: AutoSelect arms run on a stored pool (``--stored``): the ``"error"``
#: reward reads the predictions a stored-pool query records, which the
#: simulation of ``evaluate`` (new rows every round) does not keep
STORED = {
    "auto_stored": {},
    "auto_error_stored": {"reward": "error"},
}


def run_stored(pools, seeds):
    """AutoSelect on the stored pool: ``fit`` on the whole pool (-1 for the
    unlabeled), ``query()`` / ``teach(indices=)`` each round, the test
    accuracy after each; the initial set of a seed is ``evaluate``'s (the
    same random draw), so the rows pair with the other arms by seed.
    Pools without OOD rows only."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    from skal import ActiveLearner
    from skal.strategies import AutoSelect, RandomSampling
    from skal.utils._seeding import draw_seed

    for pool in pools:
        Xp, yp, Xt, yt, C = load_pool(pool)
        if (yp == -2).any():
            raise ValueError(f"--stored runs pools without OOD rows; {pool} has them")
        path = OUT / f"{pool}.csv"
        done = {(r["strategy"], int(r["seed"])) for r in read_rows(path)}
        for seed in seeds:
            for arm, params in STORED.items():
                if (arm, seed) in done:
                    continue
                first = RandomSampling()(
                    None,
                    Xp,
                    n_instances=BUDGETS[0],
                    random_state=draw_seed(np.random.RandomState(seed)),
                )
                y_seed = np.full_like(yp, -1)
                y_seed[first] = yp[first]
                learner = ActiveLearner(
                    LogisticRegression(C=C, max_iter=1000 if C == 1.0 else 2000),
                    strategy=AutoSelect(**params),
                    random_state=seed,
                ).fit(Xp, y_seed)
                rows = [learner.score(Xt, yt)]
                for budget in BUDGETS[1:]:
                    idx = learner.query(n_instances=budget - len(learner.y_labeled_))
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        learner.teach(y=yp[idx], indices=idx)
                    rows.append(learner.score(Xt, yt))
                append_rows(
                    path,
                    [
                        {
                            "pool": pool,
                            "strategy": arm,
                            "seed": seed,
                            "n_labels": b,
                            "accuracy": acc,
                            "query_seconds": 0.0,
                        }
                        for b, acc in zip(BUDGETS, rows)
                    ],
                )
                print(f"{pool} seed {seed}: {arm}", flush=True)


def choices(pools, seeds):
    """Which candidate AutoSelect chose each round: ``choices.csv``.

    The simulation of :func:`skal.evaluation.evaluate` (same initial set of
    a seed, rows queried from the unseen pool, taught as new rows), written
    with the public API so that the learner can be read afterwards; the
    choices are read back from the session with ``AutoSelect.rounds``.
    """
    import warnings

    from sklearn.linear_model import LogisticRegression

    from skal import ActiveLearner
    from skal.strategies import AutoSelect, RandomSampling

    path = OUT / "choices.csv"
    done = {(r["pool"], int(r["seed"])) for r in read_rows(path)}
    for pool in pools:
        Xp, yp, _, _, C = load_pool(pool)
        for seed in seeds:
            if (pool, seed) in done:
                continue
            seen = np.zeros(len(yp), dtype=bool)
            init_rng = np.random.RandomState(seed)
            first = RandomSampling()(
                None, Xp, n_instances=BUDGETS[0], random_state=init_rng.randint(2**31)
            )
            seen[first] = True
            keep = yp[first] != -2
            learner = ActiveLearner(
                LogisticRegression(C=C, max_iter=1000 if C == 1.0 else 2000),
                strategy=AutoSelect(),
                random_state=seed,
            ).fit(Xp[first[keep]], yp[first[keep]])
            for budget in BUDGETS[1:]:
                cand = np.flatnonzero(~seen)
                rows = cand[learner.query(Xp[cand], n_instances=budget - seen.sum())]
                seen[rows] = True
                ok = yp[rows] != -2
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    learner.teach(Xp[rows[ok]], yp[rows[ok]])
            out = [
                {"pool": pool, "seed": seed, "round": r, "chosen": name, "reward": rew}
                for r, name, rew in AutoSelect().rounds(learner)
            ]
            append_rows(path, out, fields=["pool", "seed", "round", "chosen", "reward"])
            print(
                f"choices {pool} seed {seed}: {[o['chosen'] for o in out]}", flush=True
            )


def _records(pool):
    return [
        {
            "strategy": r["strategy"],
            "seed": int(r["seed"]),
            "n_labels": int(r["n_labels"]),
            "accuracy": float(r["accuracy"]),
        }
        for r in read_csv(OUT / f"{pool}.csv")
    ]


def _complete(recs):
    """Only the seeds every arm of the pool finished (paired)."""
    arms = {r["strategy"] for r in recs}
    by = {}
    for r in recs:
        by.setdefault(r["seed"], set()).add(r["strategy"])
    keep = {s for s, a in by.items() if a == arms}
    return [r for r in recs if r["seed"] in keep], sorted(keep)


def pool_table(pool):
    """Per arm: log-AULC (mean), minus random and AutoSelect minus it."""
    from skal.evaluation import paired_differences

    recs, seeds = _complete(_records(pool))
    if not recs:
        return None
    absolute = {
        r["strategy"]: r for r in paired_differences(recs, None, "aulc", scale="log")
    }
    vs_random = {
        r["strategy"]: r
        for r in paired_differences(recs, "random", "aulc", scale="log")
    }
    autos = [a for a in absolute if a.startswith("auto")]
    vs_auto = {}
    for auto in autos:
        # AutoSelect minus each arm: each arm as the baseline
        for arm in absolute:
            if arm == auto:
                continue
            sub = [r for r in recs if r["strategy"] in (arm, auto)]
            row = {
                r["strategy"]: r
                for r in paired_differences(sub, arm, "aulc", scale="log")
            }[auto]
            vs_auto[(auto, arm)] = row
    return {
        "seeds": seeds,
        "absolute": absolute,
        "vs_random": vs_random,
        "vs_auto": vs_auto,
    }


def _fmt(row):
    return f"{row['mean']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"


def _choices_table():
    """Share of the rounds each candidate played, per pool (``choices.csv``)."""
    rows = read_rows(OUT / "choices.csv")
    if not rows:
        return []
    pools = list(dict.fromkeys(r["pool"] for r in rows))
    names = sorted({r["chosen"] for r in rows})
    out = [
        "## What AutoSelect chose (`--choices`: the rounds after the initial "
        "10 labels, 10 seeds)",
        "",
        "| pool | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for pool in pools:
        got = [r["chosen"] for r in rows if r["pool"] == pool]
        cells = [f"{got.count(n) / len(got):.0%}" for n in names]
        out.append(f"| {pool} | " + " | ".join(cells) + " |")
    by_round = {}
    for r in rows:
        by_round.setdefault(int(r["round"]), []).append(r["chosen"])
    out += ["", "All pools, per round (labels before the round):", ""]
    for rnd, got in sorted(by_round.items()):
        top = max(set(got), key=got.count)
        out.append(
            f"- round {rnd} ({BUDGETS[rnd - 1]} labels): {top} "
            f"{got.count(top) / len(got):.0%} of the sessions"
        )
    return out + [""]


def report():
    from skal.evaluation import paired_differences

    lines = ["# AutoSelect vs fixed strategies (issue 28)", ""]
    lines += [
        "LogisticRegression, budgets 10 -> 320 labels, AULC over log(labels), "
        "paired by seed, 95 % t intervals (`skal.evaluation.paired_differences`). "
        "Written by `python -m benchmarks.bench_autoselect --report`; the "
        "protocol is the module docstring.",
        "",
    ]
    bar = []
    for pool in SELECTION + HELD_OUT:
        if not (OUT / f"{pool}.csv").exists():
            continue
        t = pool_table(pool)
        if t is None:
            continue
        kind = "selection" if pool in SELECTION else "held-out"
        lines += [f"## {pool} ({kind}; {len(t['seeds'])} seeds)", ""]
        lines += [
            "| arm | log-AULC | minus random | AutoSelect minus arm |",
            "|---|---|---|---|",
        ]
        autos = [a for a in t["absolute"] if a.startswith("auto")]
        main = "auto" if "auto" in autos else (autos[0] if autos else None)
        for arm, row in sorted(t["absolute"].items(), key=lambda kv: -kv[1]["mean"]):
            vr = t["vs_random"].get(arm)
            va = t["vs_auto"].get((main, arm)) if main else None
            lines.append(
                f"| {arm} | {row['mean']:.4f} | "
                f"{_fmt(vr) if vr and arm != 'random' else ''} | "
                f"{_fmt(va) if va else ''} |"
            )
        lines.append("")
        if pool in BAR_POOLS and main:
            fixed = {a: r["mean"] for a, r in t["absolute"].items() if a in FIXED}
            best = max(fixed, key=fixed.get)
            median = float(np.median(list(fixed.values())))
            recs, _ = _complete(_records(pool))
            sub = [r for r in recs if r["strategy"] in ("random", main)]
            one_sided = {
                r["strategy"]: r
                for r in paired_differences(
                    sub, "random", "aulc", scale="log", confidence=0.90
                )
            }[main]
            bar.append(
                {
                    "pool": pool,
                    "auto": t["absolute"][main]["mean"],
                    "minus_random": t["vs_random"][main]["mean"],
                    "lower95": one_sided["ci_low"],
                    "median": median,
                    "best": best,
                    "best_value": fixed[best],
                }
            )
    if bar:
        lines += [
            "## The held-out bar (digits, MNIST-1D, BBC News, tweets)",
            "",
            "| pool | AutoSelect | − random (one-sided 95 % lower bound) | "
            "median fixed | best fixed | AutoSelect − best | holds |",
            "|---|---|---|---|---|---|---|",
        ]
        close = 0
        for b in bar:
            gap = b["auto"] - b["best_value"]
            close += gap >= -0.01
            ok = (
                b["minus_random"] >= -0.005
                and b["lower95"] > -0.01
                and b["auto"] >= b["median"]
            )
            lines.append(
                f"| {b['pool']} | {b['auto']:.4f} | {b['minus_random']:+.4f} "
                f"({b['lower95']:+.4f}) | {b['median']:.4f} | {b['best']} "
                f"{b['best_value']:.4f} | {gap:+.4f} | "
                f"{'yes' if ok else 'NO'}{', within 0.01' if gap >= -0.01 else ''} |"
            )
        lines += [
            "",
            f"Within 0.01 of the best fixed strategy on {close} of {len(bar)} "
            "pools (the bar asks for 3 of 4).",
            "",
        ]
    lines += _choices_table()
    (OUT / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pools", nargs="+", default=SELECTION)
    p.add_argument(
        "--arms",
        nargs="+",
        default=["selection"],
        help="arm names, or 'selection' (fixed + variants) / 'heldout'",
    )
    p.add_argument("--seeds", default="0-9")
    p.add_argument("--report", action="store_true")
    p.add_argument("--choices", action="store_true", help="record AutoSelect's choices")
    p.add_argument("--stored", action="store_true", help="AutoSelect on a stored pool")
    a = p.parse_args(argv)
    if a.report:
        report()
        return
    if a.choices:
        choices(a.pools, parse_seeds(a.seeds))
        return
    if a.stored:
        run_stored(a.pools, parse_seeds(a.seeds))
        return
    arms = []
    for arm in a.arms:
        if arm == "selection":
            arms += FIXED + list(VARIANTS)
        elif arm == "heldout":
            arms += FIXED + HELD_OUT_AUTO
        else:
            arms.append(arm)
    run(a.pools, list(dict.fromkeys(arms)), parse_seeds(a.seeds))


if __name__ == "__main__":
    main()
