"""The default strategy: chosen on selection pools, reported on held-out pools.

Protocol (written in ``results/default_choice/README.md`` before any run):

* **selection pools** (the choice may look at these): ``sel_mnist1d``,
  MNIST-1D generated with data seed 3 (5000-row pool, 2000 test rows);
  ``sel_digits``, scikit-learn digits split with ``random_state=0``
  (1347-row pool, 450 test rows);
* **held-out pools** (reported, never looked at for the choice):
  ``ho_mnist1d``, MNIST-1D with data seed 4 (same sizes); ``ho_mnist1d_lt``,
  its long-tailed version (:func:`skal.datasets.make_imbalanced`, ratio 10,
  from a 20,000-row pool of seed 4); ``ho_digits``, digits split with
  ``random_state=1``;
* classifier :func:`skal.nets.make_net` (``"signal"`` or ``"image"``, 10
  classes: the converged recipe), seeds 0-9 paired by seed (same initial
  random set of 20 labels and same first model for every strategy of a
  seed), budgets doubling from 20 to 640 (MNIST-1D) or 320 (digits), AULC
  over log(labels) (:func:`skal.metrics.aulc`, ``scale="log"``).

Each seed is written to ``<pool>.csv`` as soon as it finishes (a crash
loses at most the running seed). ``--report`` rebuilds ``summary.md`` from
the CSV files: per pool and strategy the AULC, the paired difference with
random (95 % t interval, p value), TOST at ``--margin`` (0.005 AULC) and the
power of the paired t-test to detect 0.005 and 0.02
(:func:`skal.evaluation.equivalence_test`).

Data loading, strategies, the estimator and the CSV helpers are those of
``bench_label_efficiency.py`` (imported, not copied)::

    python -m benchmarks.bench_default_choice --pools sel_mnist1d sel_digits \\
        --strategies random badge margin --n-jobs 2
    python -m benchmarks.bench_default_choice --report
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from benchmarks import _common as common

HERE = common.HERE
RESULTS = common.RESULTS / "default_choice"
SELECTION = ["sel_mnist1d", "sel_digits"]
HELD_OUT = ["ho_mnist1d", "ho_mnist1d_lt", "ho_digits"]
POOLS = SELECTION + HELD_OUT
# the amendment: the choice reads sel_mnist1d only (sel_digits has 1 seed)
CHOICE_POOLS = ["sel_mnist1d"]
CANDIDATES = ["default", "badge"]  # margin stopped at 2 seeds: not a candidate
MNIST1D_SEED = {"sel_mnist1d": 3, "ho_mnist1d": 4, "ho_mnist1d_lt": 4}
DIGITS_SPLIT = {"sel_digits": 0, "ho_digits": 1}
N_POOL, N_TEST = 5000, 2000
MARGINS = (0.005, 0.02)
DOCS_TABLE = HERE.parent / "docs" / "user_guide" / "_default_choice.rst"
# budgets above this are neither run nor read (the 640 of the first seeds
# of sel_mnist1d are ignored): the amendment of the protocol, see README
MAX_BUDGET = 320


def load_pool(name):
    """(X_pool, y_pool, X_test, y_test, dim, budgets) of a pool of the protocol."""
    from sklearn.model_selection import train_test_split

    from skal.datasets import load_digits_images, make_imbalanced
    from skal.evaluation import geometric_budgets

    if name in MNIST1D_SEED:
        X, y = common.mnist1d(24000, seed=MNIST1D_SEED[name])
        X_test, y_test = X[-N_TEST:], y[-N_TEST:]
        if name.endswith("_lt"):
            Xp, yp, _ = make_imbalanced(X[:20000], y[:20000], ratio=10, random_state=0)
        else:
            Xp, yp = X[:N_POOL], y[:N_POOL]
        return Xp, yp, X_test, y_test, 1, geometric_budgets(20, 640)
    X, y = load_digits_images(return_X_y=True)
    Xp, X_test, yp, y_test = train_test_split(
        X, y, test_size=450, stratify=y, random_state=DIGITS_SPLIT[name]
    )
    return Xp, yp, X_test, y_test, 2, geometric_budgets(20, 320)


def make_candidates(names):
    """``bench_label_efficiency``'s strategies plus the default's variants."""
    from sklearn.base import clone

    from skal.strategies import default_strategy

    out = common.make_strategies([n for n in names if not n.startswith("default_")])
    default = default_strategy()
    params = default.get_params()
    variants = {}
    if "normalize" in params:  # the default on raw (unnormalised) embeddings
        variants["default_raw"] = dict(normalize=False)
    if "random_share" in params:
        variants["default_no_random"] = dict(random_share=0.0)
    for n in names:
        if n in variants:
            out[n] = clone(default).set_params(**variants[n])
        elif n.startswith("default_"):
            print(f"skipping {n!r}: not available in this skal", file=sys.stderr)
    return {n: out[n] for n in names if n in out}


def run(pool, names, seeds, n_jobs, out, max_budget=MAX_BUDGET):

    Xp, yp, Xt, yt, dim, budgets = load_pool(pool)
    budgets = [b for b in budgets if b <= max_budget]
    est = common.make_estimator("converged", dim)
    strategies = make_candidates(names)
    print(
        f"[{pool}] pool {len(yp)}, test {len(yt)}, budgets {budgets}, "
        f"{list(strategies)} x seeds {seeds}",
        flush=True,
    )
    common.evaluate_seed_by_seed(
        est,
        strategies,
        (Xp, yp, Xt, yt),
        budgets,
        seeds,
        out / f"{pool}.csv",
        n_jobs=n_jobs,
        tag=pool,
        extra=dict(pool=pool),
    )


def read_pool(out, pool):
    """Records of ``pool``: ``<pool>.csv`` and those of the runs that wrote
    beside it (``parts/*/<pool>.csv``, two processes never share a file);
    a (strategy, seed) is taken from one file only."""
    paths = [out / f"{pool}.csv"] + sorted(out.glob(f"parts/*/{pool}.csv"))
    records, seen = [], set()
    for path in paths:
        if not path.exists():
            continue
        rows = common.read_csv(path)
        keys = {(r["strategy"], r["seed"]) for r in rows} - seen
        records += [r for r in rows if (r["strategy"], r["seed"]) in keys]
        seen |= keys
    return records


def pool_rows(records, margin=0.005, baseline="random"):
    """Per strategy: AULC, paired difference with ``baseline``, TOST, power.

    Each strategy is compared with the baseline on the seeds both have
    finished (every budget); its AULC is the mean over those seeds.
    """
    from skal.evaluation import equivalence_test, paired_differences, paired_t_power

    names = list(dict.fromkeys(r["strategy"] for r in records))
    top = max(r["n_labels"] for r in records)
    done = {}
    for r in records:
        if r["n_labels"] == top:
            done.setdefault(r["strategy"], set()).add(r["seed"])
    rows = []
    for name in names:
        seeds = done.get(name, set()) & done.get(baseline, set())
        if name == baseline:
            seeds = done.get(name, set())
        recs = [
            r
            for r in records
            if r["seed"] in seeds and r["strategy"] in (name, baseline)
        ]
        if not recs:
            continue
        a = {
            r["strategy"]: r
            for r in paired_differences(recs, None, "aulc", scale="log")
        }[name]
        row = {"strategy": name, "aulc": a["mean"], "n_seeds": a["n_seeds"]}
        if name != baseline:
            (t,) = equivalence_test(
                recs, baseline, margin=margin, metric="aulc", scale="log"
            )
            row.update(t, strategy=name)
            row["power"] = [
                paired_t_power(m, t["sd"], t["n_seeds"]) if t["n_seeds"] > 1 else np.nan
                for m in MARGINS
            ]
        rows.append(row)
    return rows


def _p(p):
    return "—" if not np.isfinite(p) else (f"{p:.1e}" if p < 1e-3 else f"{p:.3f}")


def summary(out, margin=0.005):
    from skal.evaluation import equivalence_test  # noqa: F401  (fails early if absent)

    lines = [
        "# The default, chosen on selection pools and reported on held-out pools",
        "",
        "Generated by `python -m benchmarks.bench_default_choice --report` from the",
        "CSV files beside it (protocol and commands: `README.md`). AULC over",
        "log(labels); differences paired by seed with a 95 % t interval; TOST:",
        f"equivalence within ±{margin} AULC (p < 0.05: equivalent); non-inferiority:",
        f"the one-sided test of H0 'difference ≤ −{margin}' (p < 0.05: not worse",
        f"than random by more than {margin}); power: of the",
        "two-sided paired t-test (α = 0.05) to detect a true difference of 0.005",
        "and 0.02 AULC given the observed SD of the paired differences and n.",
        "",
    ]
    all_rows = {}
    for pool in POOLS:
        records = [r for r in read_pool(out, pool) if r["n_labels"] <= MAX_BUDGET]
        if not records:
            continue
        rows = pool_rows(records, margin)
        all_rows[pool] = rows
        kind = "selection" if pool in SELECTION else "held-out"
        if pool in SELECTION and pool not in CHOICE_POOLS:
            kind = "dropped by the amendment, not read by the choice"
        lines += [
            f"## {pool} ({kind})",
            "",
            "| strategy | seeds | AULC | − random [95 % CI] | p | TOST p "
            f"(±{margin}) | non-inferiority p (−{margin}) | power 0.005 | "
            "power 0.02 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            if "ci_low" not in r:
                lines.append(
                    f"| {r['strategy']} | {r['n_seeds']} | {r['aulc']:.4f} "
                    "| (baseline) | | | | | |"
                )
                continue
            lines.append(
                f"| {r['strategy']} | {r['n_seeds']} | {r['aulc']:.4f} | "
                f"{r['mean']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] | "
                f"{_p(r['p_value'])} | {_p(r['tost_p_value'])} | "
                f"{_p(r['p_lower'])} | "
                f"{r['power'][0]:.2f} | {r['power'][1]:.2f} |"
            )
        lines.append("")
    decided = decision(all_rows, margin)
    lines += decided
    (out / "summary.md").write_text("\n".join(lines))
    if out.resolve() == RESULTS.resolve():
        write_rst(all_rows, decided, margin)
    print("\n".join(lines))
    return all_rows


def write_rst(all_rows, decided, margin):
    """The docs' table (``docs/user_guide/_default_choice.rst``)."""
    rst = [
        ".. Generated by benchmarks/bench_default_choice.py --report; do not edit.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Pool",
        "     - Strategy",
        "     - Seeds",
        "     - AULC",
        "     - − random [95 % CI]",
        "     - p",
        f"     - TOST p (±{margin})",
        f"     - Non-inferiority p (−{margin})",
        "     - Power at 0.005 / 0.02",
    ]
    for pool, rows in all_rows.items():
        if pool in SELECTION and pool not in CHOICE_POOLS:
            continue
        kind = "selection" if pool in SELECTION else "held-out"
        for r in rows:
            if "ci_low" not in r:
                cells = ["(baseline)", "", "", "", ""]
            else:
                cells = [
                    f"{r['mean']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]",
                    _p(r["p_value"]),
                    _p(r["tost_p_value"]),
                    _p(r["p_lower"]),
                    f"{r['power'][0]:.2f} / {r['power'][1]:.2f}",
                ]
            cells = [
                f"``{pool}`` ({kind})",
                f"``{r['strategy']}``",
                str(r["n_seeds"]),
                f"{r['aulc']:.4f}",
            ] + cells
            rst += [f"   * - {cells[0]}"] + [f"     - {c or '—'}" for c in cells[1:]]
    rst += [""] + [
        ln.replace("`", "``").replace("**``", "**").replace("``**", "**")
        for ln in decided
        if not ln.startswith("##")
    ]
    DOCS_TABLE.write_text("\n".join(rst) + "\n")


def decision(all_rows, margin=0.005, incumbent="default"):
    """The rule of the README applied to the selection pools; the bar on the
    held-out pools."""
    lines = ["## The choice (selection pools only)", ""]
    sel = {
        p: {r["strategy"]: r for r in all_rows[p]}
        for p in CHOICE_POOLS
        if p in all_rows
    }
    cands = sorted(
        {n for rows in sel.values() for n in rows if n in CANDIDATES},
        key=lambda n: (n != incumbent, n),
    )
    score, eligible = {}, {}
    for n in cands:
        rs = [rows[n] for rows in sel.values() if n in rows]
        if len(rs) < len(sel) or any(r["n_seeds"] < 10 for r in rs):
            continue  # not run on every selection pool with 10 seeds
        score[n] = float(np.mean([r["mean"] for r in rs]))
        eligible[n] = all(r["ci_high"] >= 0 for r in rs)
        lines.append(
            f"* `{n}`: S = {score[n]:+.4f} (mean paired AULC difference with "
            f"random over {len(rs)} selection pool(s)); "
            + ("eligible" if eligible[n] else "not eligible (significantly below)")
        )
    ok = [n for n in score if eligible[n]]
    if not ok:
        lines += ["", "No candidate has 10 seeds on every selection pool yet.", ""]
        return lines
    best = max(ok, key=score.get)
    chosen = best
    if incumbent in ok and score[best] - score[incumbent] <= margin:
        chosen = incumbent
    lines += [
        "",
        f"Largest S: `{best}`. Chosen: **`{chosen}`** (the incumbent `{incumbent}` "
        f"is kept unless another candidate's S exceeds it by more than {margin}).",
        "",
        "## The issue's bar (held-out pools only)",
        "",
    ]
    for p in HELD_OUT:
        rows = {r["strategy"]: r for r in all_rows.get(p, [])}
        for n, need in ((chosen, "default"), ("coreset", "coreset")):
            r = rows.get(n)
            if r is None or r["n_seeds"] < 2:
                lines.append(f"* `{p}` / `{n}`: not measured")
                continue
            sig_up = r["ci_low"] > 0
            if need == "coreset":
                ok = r["ci_high"] >= 0
                text = "not significantly below random" if ok else "significantly below"
            elif p == "ho_digits":
                ok = sig_up
                text = "significantly above random" if ok else "not significantly above"
            else:
                ok = sig_up and r["mean"] >= 0.02
                text = (
                    f"mean {r['mean']:+.4f}, "
                    + ("significant" if sig_up else "not significant")
                    + (", ≥ +0.02" if r["mean"] >= 0.02 else ", below +0.02")
                    + f" (95 % CI [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"
                    + (
                        ": the interval also clears +0.02)"
                        if r["ci_low"] >= 0.02
                        else ": a gain below +0.02 is not excluded)"
                    )
                )
            lines.append(
                f"* `{p}` / `{n}` ({r['n_seeds']} seeds): {text} → "
                + ("**holds**" if ok else "**does not hold**")
                + (
                    f" (provisional: {r['n_seeds']} of the 10 seeds the protocol asks)"
                    if r["n_seeds"] < 10
                    else ""
                )
            )
    lines.append("")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pools", nargs="+", default=POOLS, choices=POOLS)
    p.add_argument("--strategies", nargs="+", default=["random", "default"])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--margin", type=float, default=0.005)
    p.add_argument("--report", action="store_true", help="only rebuild summary.md")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report:
        summary(args.out, args.margin)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import skal

    print(f"skal from {Path(skal.__file__).parent}", flush=True)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    for pool in args.pools:
        run(pool, args.strategies, seeds, args.n_jobs, args.out)


if __name__ == "__main__":
    main()
