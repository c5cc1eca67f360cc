"""Sparse pools: embedding strategies without densifying (issue 16).

A TF-IDF-like CSR pool (20 non-zeros a row) and a LogisticRegression on it;
each strategy's ``query`` is timed and its peak of traced allocations
(``tracemalloc``: numpy buffers included) recorded. Run it against an older
checkout (``PYTHONPATH=<old tree>``) to compare: before issue 16 every
embedding strategy called ``toarray()`` on the pool.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_sparse_pool.py [--n 5000] \\
        [--d 20000] [--label now] [--out results/sparse_pool.md]

Appends a table to ``--out`` (default ``benchmarks/results/sparse_pool.md``).
"""

from __future__ import annotations

import argparse
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

import skal
from skal import ActiveLearner
from skal.strategies import BADGE, CoreSet, KMeansSampling, MarginSampling

try:
    from skal.strategies import ColdStartHybrid
except ImportError:  # pragma: no cover - older checkouts
    ColdStartHybrid = None

OUT = Path(__file__).resolve().parent / "results" / "sparse_pool.md"


def _time_query(X, y_seed, strategy):
    learner = ActiveLearner(
        LogisticRegression(), strategy=strategy, n_instances=50, random_state=0
    ).fit(X, y_seed)
    tracemalloc.start()
    t0 = time.perf_counter()
    learner.query()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--d", type=int, default=20000)
    ap.add_argument("--label", default="now")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    X = sp.random(args.n, args.d, density=20 / args.d, format="csr", random_state=0)
    y = np.random.RandomState(0).randint(0, 2, args.n)
    y_seed = np.where(np.arange(args.n) < 100, y, -1)
    strategies = [MarginSampling(), CoreSet(), KMeansSampling(), BADGE()]
    if ColdStartHybrid is not None:
        strategies.insert(1, ColdStartHybrid())
    src = Path(skal.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:  # pragma: no cover
        commit = ""
    lines = [
        f"## {args.label} (skal from {src}{', ' + commit if commit else ''})",
        "",
        f"{args.n} x {args.d} CSR, 20 non-zeros a row "
        f"({X.data.nbytes / 2**20:.1f} MB of values), LogisticRegression, 50 picks.",
        "",
        "| strategy | query s | peak traced MB |",
        "|---|---:|---:|",
    ]
    for s in strategies:
        t, m = _time_query(X, y_seed, s)
        lines.append(f"| {type(s).__name__} | {t:.2f} | {m:.0f} |")
        print(lines[-1], flush=True)
    with open(args.out, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
