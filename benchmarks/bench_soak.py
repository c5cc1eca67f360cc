"""Soak: a 300-round simulation whose memory and per-round overhead stay flat.

Runs ``ActiveLearner`` simulations of 300 rounds (``n_instances=2``) and
records, for every round, the process's resident set size and the round's
*overhead*: wall time of the round minus the time spent fitting the model,
i.e. the query (margin over the pool) plus skal's bookkeeping (recording the
labels, shrinking the pool, the simulation checkpoint, the journal write when
one is set, the history record). A probe strategy wrapping
``MarginSampling`` timestamps the start of each round.

Configurations:

* ``lr``: ``LogisticRegression`` on a 20 000 × 20 pool;
* ``lr+journal``: the same with ``journal=`` (one fsync per round);
* ``net`` (``--net``): a tiny skorch MLP (1 epoch) on a 2 000 × 20 pool;

and, on their own, 600 journal appends (the journal's cost per round).

Usage::

    python benchmarks/bench_soak.py            # lr and lr+journal
    python benchmarks/bench_soak.py --net      # the skorch net as well
    python benchmarks/bench_soak.py --rounds 50

Writes ``benchmarks/results/soak.csv`` (one row per round and configuration)
and ``soak.md`` (slopes of memory and overhead against the round, means of the
first and last 50 rounds). No assertions: read the table.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner
from skal.strategies import FunctionStrategy, MarginSampling

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_INSTANCES = 2
N_INITIAL = 20


def rss_mb():
    """Current resident set size of this process, in MiB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(config, rounds, seed=0):
    n_pool = 2_000 if config == "net" else 20_000
    X, y = make_classification(
        n_samples=n_pool,
        n_features=20,
        n_informative=10,
        n_classes=3,
        random_state=seed,
    )
    X = X.astype(np.float32)
    stamps = []  # (time, rss) at the start of each model-driven round
    inner = MarginSampling()

    def probe(learner, X, *, n_instances, candidates, random_state):
        stamps.append((time.perf_counter(), rss_mb()))
        return inner(
            learner,
            X,
            n_instances=n_instances,
            candidates=candidates,
            random_state=random_state,
        )

    if config == "net":
        from skal.utils._testing import MLP, make_net

        estimator = make_net(MLP, n_classes=3, max_epochs=1, hidden=16)
        estimator.set_params(batch_size=512)
    else:
        estimator = LogisticRegression(max_iter=200)
    budget = N_INITIAL + (rounds - 1) * N_INSTANCES
    with tempfile.TemporaryDirectory() as tmp:
        journal = os.path.join(tmp, "labels.jsonl") if "journal" in config else None
        sim = ActiveLearner(
            estimator,
            strategy=FunctionStrategy(probe),
            n_instances=N_INSTANCES,
            n_initial=N_INITIAL,
            budget=budget,
            random_state=seed,
            journal=journal,
        )
        gc.collect()
        t0 = time.perf_counter()
        sim.fit(X, y)
        stamps.append((time.perf_counter(), rss_mb()))  # the end of the last round
        total = time.perf_counter() - t0
    rows = []
    # round 0 is picked by the initial strategy (no model yet); rounds 1..
    # start with a probe call, so round r spans stamps[r - 1] .. stamps[r]
    for r in range(1, len(sim.history_)):
        h = sim.history_[r]
        (t_start, _), (t_end, rss) = stamps[r - 1], stamps[r]
        wall = t_end - t_start
        rows.append(
            {
                "config": config,
                "round": r,
                "n_labels": h["n_labels"],
                "pool": n_pool - h["n_labels"],
                "rss_mb": round(rss, 3),
                "query_seconds": h["query_seconds"],
                "fit_seconds": h["fit_seconds"],
                "overhead_seconds": wall - h["fit_seconds"],
            }
        )
    return rows, total


def journal_appends(n=600):
    """Time ``n`` journal appends of two labels each (flush + fsync)."""
    from skal._persistence import _journal

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "labels.jsonl")
        times = []
        for i in range(n):
            records = _journal.label_records(
                "soak", 2 * i + 1, np.array([0, 1]), indices=np.array([i, n + i])
            )
            t0 = time.perf_counter()
            _journal.append_records(path, records)
            times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    return {
        "n": n,
        "first100": float(np.median(ms[:100])),
        "last100": float(np.median(ms[-100:])),
        "slope": float(np.polyfit(np.arange(n), ms, 1)[0]),
    }


def summarize(rows):
    r = np.array([row["round"] for row in rows], dtype=float)
    out = {}
    for key, scale in (
        ("rss_mb", 1.0),
        ("overhead_seconds", 1e3),
        ("query_seconds", 1e3),
        ("fit_seconds", 1e3),
    ):
        v = np.array([row[key] for row in rows]) * scale
        slope = np.polyfit(r, v, 1)[0]
        out[key] = {
            "slope": slope,
            "first50": v[:50].mean(),
            "last50": v[-50:].mean(),
            "median": np.median(v),
        }
    return out


def write_markdown(path, summaries, totals, rounds, appends):
    lines = [
        "# Soak: memory and per-round overhead over a long simulation",
        "",
        f"`python benchmarks/bench_soak.py` — {rounds} rounds of "
        f"`n_instances={N_INSTANCES}` after an initial set of {N_INITIAL} "
        "(MarginSampling through a timing probe). Overhead = round wall time "
        "minus fit time (query + bookkeeping + journal write when set). "
        "Slopes are least-squares fits against the round number; "
        "first/last 50 are means over rounds 1–50 and the last 50.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other "
        f"jobs, Python {platform.python_version()}, numpy {np.__version__}.",
        "",
        "| config | total s | RSS first 50 (MiB) | RSS last 50 (MiB) | RSS slope "
        "(MiB/round) | overhead first 50 (ms) | overhead last 50 (ms) | overhead "
        "slope (ms/round) | query median (ms) | fit median (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for config, s in summaries.items():
        m, o = s["rss_mb"], s["overhead_seconds"]
        lines.append(
            f"| {config} | {totals[config]:.1f} | {m['first50']:.1f} | "
            f"{m['last50']:.1f} | {m['slope']:+.4f} | {o['first50']:.2f} | "
            f"{o['last50']:.2f} | {o['slope']:+.5f} | "
            f"{s['query_seconds']['median']:.2f} | {s['fit_seconds']['median']:.2f} |"
        )
    lines += [
        "",
        f"Journal appends alone ({appends['n']} appends of two labels, each "
        f"flushed and fsynced): median {appends['first100']:.2f} ms over the "
        f"first 100, {appends['last100']:.2f} ms over the last 100, slope "
        f"{appends['slope']:+.5f} ms/append.",
        "",
        "Per-round data: `soak.csv` (one row per round and configuration).",
        "",
    ]
    path.write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--net", action="store_true", help="also a skorch MLP")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    configs = ["lr", "lr+journal"] + (["net"] if args.net else [])
    all_rows, summaries, totals = [], {}, {}
    for config in configs:
        rows, total = run(config, args.rounds)
        all_rows += rows
        summaries[config] = summarize(rows)
        totals[config] = total
        s = summaries[config]
        print(
            f"{config:12s} total {total:6.1f}s  RSS {s['rss_mb']['first50']:.1f}"
            f" -> {s['rss_mb']['last50']:.1f} MiB  overhead "
            f"{s['overhead_seconds']['first50']:.2f} -> "
            f"{s['overhead_seconds']['last50']:.2f} ms",
            flush=True,
        )
    appends = journal_appends()
    print(f"journal append {appends['first100']:.2f} -> {appends['last100']:.2f} ms")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "soak.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(all_rows[0]))
        writer.writeheader()
        writer.writerows(all_rows)
    write_markdown(args.out / "soak.md", summaries, totals, args.rounds, appends)
    print(f"wrote {args.out / 'soak.csv'} and {args.out / 'soak.md'}")


if __name__ == "__main__":
    main()
