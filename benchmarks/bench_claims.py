"""Every strategy held to its paper: the claims table (issue 13, item 4).

Each strategy's row -- strategy | the paper's claim | the setting that tests
it here | measured | verdict -- lives in its own file
``results/claims/<strategy>.md`` (a markdown table with that header and one
row), written by whoever measured it. ``--report`` assembles them, in the
order of ``skal.strategies.__all__``, into ``results/claims.md`` and the
docs' ``docs/user_guide/_claims_table.rst``; a strategy without a row file
gets a "not measured" row.

``--measure`` runs the cheap one-round setting behind several rows: on the
MNIST-1D long-tailed pool of the suite (``bench_label_efficiency``'s
``mnist1d_lt``, ratio 10), the converged net (:func:`skal.nets.make_net`) is
fitted on 100 random labels, then every strategy picks 100 rows from the
rest; the picks' composition is recorded (share from the 3 rarest classes,
classes covered, the current model's error rate and mean margin on the
picks), 5 seeds, paired by seed (same labels, same model for every
strategy). ``--rows`` writes the rows this script owns from that CSV and
from ``results/default_choice/``::

    python benchmarks/bench_claims.py --measure --seeds 5
    python benchmarks/bench_claims.py --rows
    python benchmarks/bench_claims.py --report
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_label_efficiency as ble  # noqa: E402

CLAIMS = HERE / "results" / "claims"
TABLE = HERE / "results" / "claims.md"
DOCS = HERE.parent / "docs" / "user_guide" / "_claims_table.rst"
HEADER = (
    "| strategy | the paper's claim | the setting that tests it here | measured | "
    "verdict |"
)
N_LABELED, N_QUERY = 100, 100


# --------------------------------------------------------------------------
# the one-round setting
# --------------------------------------------------------------------------
def one_round_strategies():
    import skal.strategies as S

    return {
        "random": S.RandomSampling(),
        "least_confidence": S.LeastConfidence(),
        "margin": S.MarginSampling(),
        "entropy": S.EntropySampling(),
        "variation_ratios": S.VariationRatios(),
        "kmeans": S.KMeansSampling(),
        "badge": S.BADGE(),
        "cluster_margin": S.ClusterMargin(),
        "base": S.BalancedSelection(),
        "power": S.PowerSampling(),
        "facility_location": S.FacilityLocation(),
        "default": S.default_strategy(),
        "class_balanced_margin": S.ClassBalanced(S.MarginSampling()),
        "topk_margin_coreset": S.TopK(S.MarginSampling(), k=1000) | S.CoreSet(),
    }


def measure(seeds, out):
    from skal import ActiveLearner

    Xp, yp, _, _, dim, _ = ble.load_dataset("mnist1d_lt")
    counts = np.bincount(yp)
    rare = np.argsort(counts)[:3]
    strategies = one_round_strategies()
    path = out / "one_round.csv"
    rows = ble.read_csv(path) if path.exists() else []
    for seed in seeds:
        t0 = time.perf_counter()
        rng = np.random.RandomState(seed)
        labeled = rng.choice(len(yp), N_LABELED, replace=False)
        y = np.full(len(yp), -1)
        y[labeled] = yp[labeled]
        learner = ActiveLearner(
            ble.make_estimator("converged", dim), n_instances=N_QUERY, random_state=seed
        ).fit(Xp, y)
        proba = learner.predict_proba(Xp)
        top2 = np.sort(proba, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        wrong = proba.argmax(axis=1) != yp
        cand = np.setdiff1d(np.arange(len(yp)), labeled)
        fit_s = time.perf_counter() - t0
        new = []
        for name, s in strategies.items():
            t1 = time.perf_counter()
            idx = np.asarray(
                s(learner, Xp, n_instances=N_QUERY, candidates=cand, random_state=seed)
            )
            c = np.bincount(yp[idx], minlength=len(counts))
            new.append(
                dict(
                    strategy=name,
                    seed=seed,
                    rare_share=float(np.isin(yp[idx], rare).mean()),
                    pool_rare_share=float(np.isin(yp[cand], rare).mean()),
                    classes=int((c > 0).sum()),
                    min_class=int(c.min()),
                    max_class=int(c.max()),
                    error_rate=float(wrong[idx].mean()),
                    pool_error_rate=float(wrong[cand].mean()),
                    mean_margin=float(margin[idx].mean()),
                    query_seconds=time.perf_counter() - t1,
                    fit_seconds=fit_s,
                )
            )
        rows = [r for r in rows if int(r["seed"]) != seed] + new
        ble.write_csv(rows, path)
        print(f"[one round] seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)


# --------------------------------------------------------------------------
# row files
# --------------------------------------------------------------------------
def parse_row(path):
    """(cells) of a row file; raises if the header is not the agreed one."""
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if HEADER not in lines:
        raise ValueError(f"{path}: the header must be exactly {HEADER!r}")
    i = lines.index(HEADER)
    body = [ln for ln in lines[i + 2 :] if ln.startswith("|")]
    if len(body) != 1:
        raise ValueError(f"{path}: expected exactly one row, got {len(body)}")
    cells = [c.strip() for c in body[0].strip().strip("|").split("|")]
    if len(cells) != 5:
        raise ValueError(f"{path}: expected 5 cells, got {len(cells)}")
    return cells


def write_row(name, cells):
    CLAIMS.mkdir(parents=True, exist_ok=True)
    cells = [" ".join(str(c).split()).replace("|", "/") for c in cells]
    text = HEADER + "\n|---|---|---|---|---|\n| " + " | ".join(cells) + " |\n"
    (CLAIMS / f"{name}.md").write_text(text)


def strategy_classes():
    """Class names of ``skal.strategies.__all__``, in their order."""
    import skal.strategies as S
    from skal.base import BaseStrategy

    return [
        n
        for n in S.__all__
        if inspect.isclass(getattr(S, n)) and issubclass(getattr(S, n), BaseStrategy)
    ]


def _key(text):
    return "".join(ch for ch in text.lower() if ch.isalnum())


def report():
    files = sorted(CLAIMS.glob("*.md"))
    rows = []
    for f in files:
        try:
            rows.append((f, parse_row(f)))
        except ValueError as exc:
            print(f"skipping {exc}", file=sys.stderr)
    classes = strategy_classes()

    def owner(cells, f):
        """The class a row is about: the first class name in its strategy
        cell or its file name (longest names first: BALD inside BatchBALD)."""
        for text in (cells[0], f.stem):
            k = _key(text)
            for c in sorted(classes, key=len, reverse=True):
                if _key(c) in k:
                    return c
        return None

    by_class = {}
    for f, cells in rows:
        by_class.setdefault(owner(cells, f), []).append(cells)
    table = []
    for c in classes:
        table += by_class.get(c) or [
            [c, "—", "—", "not measured", "not measured: no row file was written"]
        ]
    table += by_class.get(None, [])
    md = [
        "# Every strategy held to its paper",
        "",
        "Assembled by `python benchmarks/bench_claims.py --report` from the row",
        "files in `benchmarks/results/claims/` (one per strategy, written by whoever",
        "measured it; commands in each benchmark's README). AULC differences are",
        "paired by seed with 95 % t intervals unless a row says otherwise.",
        "",
        HEADER,
        "|---|---|---|---|---|",
    ] + ["| " + " | ".join(r) + " |" for r in table]
    TABLE.write_text("\n".join(md) + "\n")
    rst = [
        ".. Generated by benchmarks/bench_claims.py --report; do not edit.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 12 22 22 26 18",
        "",
        "   * - Strategy",
        "     - The paper's claim",
        "     - The setting that tests it here",
        "     - Measured",
        "     - Verdict",
    ]
    for r in table:
        r = [_md_to_rst(x) for x in r]
        rst += [f"   * - {r[0]}"] + [f"     - {x}" for x in r[1:]]
    DOCS.write_text("\n".join(rst) + "\n")
    print("\n".join(md))


def _md_to_rst(text):
    """Inline markdown of a cell as reStructuredText (code and bold)."""
    return text.replace("`", "``").replace("````", "``") or "—"


def write_rows():
    """The rows this script owns (see the module docstring)."""
    raise NotImplementedError


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--measure", action="store_true")
    p.add_argument("--rows", action="store_true")
    p.add_argument("--report", action="store_true")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.measure:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(1)
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        measure(list(seeds), CLAIMS)
    if args.rows:
        write_rows()
    if args.report or not (args.measure or args.rows):
        report()


if __name__ == "__main__":
    main()
