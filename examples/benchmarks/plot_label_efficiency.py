"""
==========================================
The label-efficiency benchmark
==========================================

``benchmarks/bench_label_efficiency.py`` runs every strategy with several
seeds on offline data sets with :func:`skal.evaluation.evaluate` and writes
tidy per-round records (CSV) and plots to
``benchmarks/results/label_efficiency/``. This example reads those committed
results and shows how to read them: learning curves with confidence bands,
and each strategy's difference from random sampling, paired by seed.

When the results are not there (a fresh checkout before the benchmark was
run), it runs a tiny evaluation instead, so the example always works.
"""

# %%
# Load the records
# ----------------
import csv
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skal.datasets import load_digits_images
from skal.evaluation import evaluate, paired_differences, plot_learning_curves
from skal.strategies import EntropySampling, MarginSampling, RandomSampling

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))
REQUIRED = {"strategy", "seed", "n_labels", "accuracy"}


def find_results():
    """The benchmark's results folder, searched upwards from here."""
    starts = [Path.cwd()]
    if "__file__" in globals():
        starts.append(Path(__file__).resolve().parent)
    for start in starts:
        for folder in [start, *start.parents]:
            res = folder / "benchmarks" / "results" / "label_efficiency"
            if res.is_dir():
                return res
    return None


def read_records(path):
    """Rows of a CSV as dicts, numbers converted."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = float(value) if "." in value or "e" in value else int(value)
            except (TypeError, ValueError):
                pass
    return rows


datasets = {}
folder = find_results()
if folder is not None:
    for path in sorted(folder.rglob("*.csv")):
        with open(path, newline="") as f:
            header = set(next(csv.reader(f), []))
        if REQUIRED <= header:
            datasets[path.stem] = read_records(path)
if datasets:
    print("benchmark results:", ", ".join(sorted(datasets)))
else:
    # No committed results: a tiny evaluation with the same protocol.
    print("no benchmark results found; running a tiny evaluation")
    X, y = load_digits_images(return_X_y=True)
    X = X.reshape(len(X), -1)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    datasets["digits (tiny rerun)"] = evaluate(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)),
        {
            "random": RandomSampling(),
            "margin": MarginSampling(),
            "entropy": EntropySampling(),
        },
        X_pool,
        y_pool,
        X_test,
        y_test,
        budgets=[20, 40, 80] if FAST else [20, 40, 80, 160],
        seeds=[0, 1] if FAST else [0, 1, 2],
        verbose=0,
    )

# %%
# Learning curves
# ---------------
# Mean accuracy over seeds against the number of labels (log scale), with a
# 95 % band. Every strategy of one seed starts from the same initial labeled
# set, so the curves differ only by the queries.
names = sorted(datasets)[: 2 if FAST else 4]
fig, axes = plt.subplots(
    1, len(names), figsize=(5 * len(names), 4), squeeze=False, sharey=False
)
for ax, name in zip(axes[0], names):
    plot_learning_curves(datasets[name], ax=ax)
    ax.set_title(name)
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %%
# Paired differences from random sampling
# ---------------------------------------
# For each seed, a strategy's area under the learning curve minus random
# sampling's, averaged over seeds with a bootstrap interval. "better" means
# the interval lies above 0. With geometric budgets the area is taken over
# log(labels), so that every doubling of the budget weighs the same.
for name in names:
    records = datasets[name]
    if not any(r["strategy"] == "random" for r in records):
        continue
    # geometric budgets (20, 40, 80, ...): integrate over log(labels)
    budgets = sorted({r["n_labels"] for r in records})
    ratios = np.diff(np.log(budgets))
    geometric = ratios.size > 1 and np.ptp(ratios) < 0.1 * ratios.min()
    scale = "log" if geometric else "linear"
    table = paired_differences(
        records,
        metric="aulc",
        scale=scale,
        n_boot=200 if FAST else 2000,
        random_state=0,
    )
    table = sorted(table, key=lambda row: -row["mean"])
    print(f"\n{name}: AULC ({scale} labels) minus random, mean [95 % CI]")
    for row in table:
        print(
            f"  {row['strategy']:>28} {row['mean']:+.4f} "
            f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}] {row['significant']}"
        )

    fig, ax = plt.subplots(figsize=(6, 0.35 * len(table) + 1))
    labels = [row["strategy"] for row in table][::-1]
    means = np.array([row["mean"] for row in table][::-1])
    lo = means - np.array([row["ci_low"] for row in table][::-1])
    hi = np.array([row["ci_high"] for row in table][::-1]) - means
    ax.errorbar(means, labels, xerr=[lo, hi], fmt="o", capsize=3)
    ax.axvline(0, color="0.5", ls="--")
    ax.set_xlabel("AULC difference from random sampling")
    ax.set_title(name)
    fig.tight_layout()
    plt.show()

# %%
# The committed plots
# -------------------
# The benchmark also saves its own figures next to the CSV files.
pngs = sorted(folder.rglob("*.png"))[: 1 if FAST else 4] if folder else []
for png in pngs:
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.imshow(plt.imread(png))
    ax.set_title(png.name, fontsize=9)
    ax.axis("off")
    plt.show()
if not pngs:
    print("no committed plots")
