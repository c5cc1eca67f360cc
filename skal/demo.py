"""The main job of ``make demo``: active learning on digits with a skorch CNN.

Three learners on scikit-learn's digits (shipped with scikit-learn, nothing
is downloaded), all with the converged training schedule of :mod:`skal.nets`:

* ``fixmatch``: the recommended recipe — the default strategy around a
  :class:`~skal.semi_supervised.FixMatchClassifier`, which also trains on the
  unlabeled pool (weak/strong image augmentation, :mod:`skal.augment`);
* ``default``: the default strategy around the supervised net;
* ``random``: random sampling around the supervised net.

Prints each round as it ends, then a per-round table (labels, test accuracy,
seconds in query and fit) and writes a learning-curve PNG. Run it with
``python -m skal.demo --out demo_output``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from skal import ActiveLearner
from skal.augment import ImageAugment
from skal.datasets import load_digits_images
from skal.evaluation import plot_learning_curves
from skal.metrics import aulc
from skal.nets import CNN2d, make_net
from skal.semi_supervised import FixMatchClassifier
from skal.strategies import RandomSampling, default_strategy

# A small net and a short schedule so that the demo runs in about a minute on
# two cores; the benchmarks use skal.nets' defaults.
_NET = dict(module__channels=16, min_steps=200, steps_per_label=1.0)


def make_learner_net(name, **params):
    """The demo's net: FixMatch for ``"fixmatch"``, else the supervised net."""
    params = {**_NET, **params}
    if name == "fixmatch":
        return FixMatchClassifier(
            CNN2d,
            module__n_classes=10,
            augment_weak=ImageAugment("weak"),
            augment_strong=ImageAugment("strong"),
            mu=3,
            **params,
        )
    return make_net("image", 10, **params)


def run(
    out="demo_output",
    *,
    seeds=(0, 1),
    n_initial=20,
    n_instances=20,
    budget=80,
    net_params=None,
):
    """Run the demo simulation and return ``{name: [history per seed]}``."""
    X, y = load_digits_images(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    strategies = {"fixmatch": None, "default": None, "random": RandomSampling()}
    histories = {name: [] for name in strategies}
    for seed in seeds:
        for name, strategy in strategies.items():
            net = make_learner_net(name, **(net_params or {}))
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
    names = list(histories)
    labels = _mean_curve(histories[names[0]], "n_labels").astype(int)
    print(
        f"\nskal demo: digits (8x8 images), small skorch CNN, "
        f"{len(histories[names[0]])} seeds"
    )
    print("fixmatch = default strategy + FixMatchClassifier (uses the pool)")
    print(f"default strategy: {default_name}\n")
    head = (
        f"{'labels':>6} | "
        + " ".join(f"{'acc ' + n:>12}" for n in names)
        + " | "
        + " ".join(f"{'fit s ' + n:>14}" for n in names)
        + f" | {'query s default':>15}"
    )
    print(head)
    print("-" * len(head))
    cols = {
        name: {
            k: _mean_curve(runs, k) for k in ("score", "query_seconds", "fit_seconds")
        }
        for name, runs in histories.items()
    }
    for i, n in enumerate(labels):
        print(
            f"{n:6d} | "
            + " ".join(f"{cols[m]['score'][i]:12.3f}" for m in names)
            + " | "
            + " ".join(f"{cols[m]['fit_seconds'][i]:14.2f}" for m in names)
            + f" | {cols['default']['query_seconds'][i]:15.2f}"
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
    records = [
        {"strategy": name, "seed": seed, **h}
        for name, runs in histories.items()
        for seed, hist in enumerate(runs)
        for h in hist
    ]
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_learning_curves(records, ax, metric="score", band="std", log_x=False)
    ax.set_xlabel("labeled samples")
    ax.set_ylabel("test accuracy")
    ax.set_title("Active learning on digits (skorch CNN)")
    fig.tight_layout()
    path = out / "learning_curve.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output", help="folder for the PNG")
    parser.add_argument("--seeds", type=int, default=2, help="number of seeds")
    parser.add_argument("--budget", type=int, default=80)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    run(args.out, seeds=tuple(range(args.seeds)), budget=args.budget)
    print(
        f"Total time: {time.perf_counter() - t0:.1f} s on {os.cpu_count()} CPU core(s)"
    )


if __name__ == "__main__":
    main()
