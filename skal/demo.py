"""The main job of ``make demo``: active learning on digits with a skorch CNN.

Runs the default strategy beside random sampling on scikit-learn's digits
(shipped with scikit-learn, nothing is downloaded), prints a per-round table
(labels, test accuracy, seconds in query and fit) and writes a learning-curve
PNG. Run it with ``python -m skal.demo --out demo_output``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from skal import ActiveLearner
from skal.datasets import load_digits_images
from skal.metrics import aulc
from skal.strategies import RandomSampling, default_strategy
from skal.utils._testing import make_step_net


def run(
    out="demo_output",
    *,
    seeds=(0, 1, 2, 3, 4),
    n_initial=20,
    n_instances=20,
    budget=200,
    n_steps=150,
):
    """Run the demo simulation and return ``{name: [history per seed]}``."""
    X, y = load_digits_images(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    strategies = {"default": None, "random": RandomSampling()}
    histories = {name: [] for name in strategies}
    for seed in seeds:
        for name, strategy in strategies.items():
            net = make_step_net(n_steps=n_steps, n_classes=10, dim=2)
            learner = ActiveLearner(
                net,
                strategy=strategy,
                n_instances=n_instances,
                n_initial=n_initial,
                budget=budget,
                random_state=seed,
                verbose=1,  # a progress bar, and each round's line as it ends
            )
            print(f"\n{name} strategy, seed {seed}:", flush=True)
            learner.fit(X_pool, y_pool, eval_set=(X_test, y_test))
            histories[name].append(learner.history_)
    _print_table(histories, default_name=repr(default_strategy()))
    path = _plot(histories, Path(out))
    print(f"\nLearning curves written to {path}")
    return histories


def _mean_curve(runs, key):
    return np.mean([[h[key] for h in hist] for hist in runs], axis=0)


def _print_table(histories, default_name):
    labels = _mean_curve(histories["default"], "n_labels").astype(int)
    print(
        f"skal demo: digits (8x8 images), small skorch CNN, "
        f"{len(histories['default'])} seeds"
    )
    print(f"default strategy: {default_name}\n")
    head = (
        f"{'labels':>6} | {'acc default':>11} {'acc random':>10} | "
        f"{'query s':>7} {'fit s':>6} (default) | {'query s':>7} {'fit s':>6}"
        " (random)"
    )
    print(head)
    print("-" * len(head))
    cols = {
        name: {
            k: _mean_curve(runs, k) for k in ("score", "query_seconds", "fit_seconds")
        }
        for name, runs in histories.items()
    }
    d, r = cols["default"], cols["random"]
    for i, n in enumerate(labels):
        print(
            f"{n:6d} | {d['score'][i]:11.3f} {r['score'][i]:10.3f} | "
            f"{d['query_seconds'][i]:7.2f} {d['fit_seconds'][i]:6.2f}"
            f"{'':10} | {r['query_seconds'][i]:7.2f} {r['fit_seconds'][i]:6.2f}"
        )
    print()
    for name in histories:
        area = [
            aulc([h["n_labels"] for h in hist], [h["score"] for h in hist])
            for hist in histories[name]
        ]
        print(
            f"AULC {name:8s}: {np.mean(area):.4f} ± {np.std(area):.4f} "
            "(mean ± std over seeds)"
        )


def _plot(histories, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in histories.items():
        n = _mean_curve(runs, "n_labels")
        acc = np.array([[h["score"] for h in hist] for hist in runs])
        ax.plot(n, acc.mean(0), marker="o", label=name)
        ax.fill_between(n, acc.min(0), acc.max(0), alpha=0.2)
    ax.set_xlabel("labeled samples")
    ax.set_ylabel("test accuracy")
    ax.set_title("Active learning on digits (skorch CNN)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "learning_curve.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output", help="folder for the PNG")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds")
    parser.add_argument("--budget", type=int, default=200)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    run(args.out, seeds=tuple(range(args.seeds)), budget=args.budget)
    print(
        f"Total time: {time.perf_counter() - t0:.1f} s on {os.cpu_count()} CPU core(s)"
    )


if __name__ == "__main__":
    main()
