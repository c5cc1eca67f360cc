"""
================================================
Cold start: TypiClust and ProbCover
================================================

With very few labels, uncertainty is useless: the model that would measure
it has barely been trained. Picking *typical* rows that *cover* the data
works better at small budgets (Hacohen et al., ICML 2022).
:class:`~skal.strategies.TypiClust` takes the most typical row of each
cluster; :class:`~skal.strategies.ProbCover` greedily covers the data with
balls of a fixed radius. Both need no model — before one exists they read
the rows of ``X`` themselves — so they can be the learner's
``initial_strategy``, the one that picks the first labels.
"""

# %%
# Data and net
# ------------
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal import ActiveLearner
from skal.datasets import load_digits_images
from skal.strategies import ProbCover, RandomSampling, TypiClust

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

X, y = load_digits_images(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
torch.manual_seed(0)  # the module below is built here: fix its initial weights
net = NeuralNetClassifier(
    nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(256, 10),
    ),
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.01,
    max_epochs=10 if FAST else 40,
    batch_size=16,
    train_split=None,
    verbose=0,
)

# %%
# The first labels only
# ---------------------
# ``initial_strategy`` picks the ``n_initial`` first rows; with ``budget``
# equal to ``n_initial`` the simulation stops right there, so ``score``
# measures the first labels alone.
budgets = [10, 30] if FAST else [10, 20, 40]
seeds = [0] if FAST else [0, 1]
strategies = {
    "random": RandomSampling(),
    "TypiClust": TypiClust(),
    "ProbCover": ProbCover(),
}
scores = {name: [] for name in strategies}
for name, strategy in strategies.items():
    for b in budgets:
        runs = [
            ActiveLearner(
                net,
                initial_strategy=strategy,
                n_initial=b,
                budget=b,
                random_state=seed,
            )
            .fit(X_pool, y_pool)
            .score(X_test, y_test)
            for seed in seeds
        ]
        scores[name].append(np.mean(runs))
    print(f"{name:>10}:", " ".join(f"{s:.3f}" for s in scores[name]))

# %%
# Accuracy at small budgets
# -------------------------
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for name, s in scores.items():
    ax.plot(budgets, s, marker="o", label=name)
ax.set_xlabel("labels (all picked before any model exists)")
ax.set_ylabel(f"test accuracy (mean of {len(seeds)} seeds)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Where the first 20 labels go
# ----------------------------
# On a 2-D PCA map of the pool, random picks clump where the data is dense
# and miss whole regions; TypiClust's spread over the clusters, and each sits
# in the middle of one.
flat = X_pool.reshape(len(X_pool), -1)
xy = PCA(n_components=2, random_state=0).fit_transform(flat)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), sharex=True, sharey=True)
for ax, (name, strategy) in zip(axes, strategies.items()):
    picks = strategy(None, X_pool, n_instances=20, random_state=0)
    ax.scatter(*xy.T, c=y_pool, cmap="tab10", s=4, alpha=0.3)
    ax.scatter(
        *xy[picks].T, c=y_pool[picks], cmap="tab10", vmin=0, vmax=9, s=60, edgecolor="k"
    )
    ax.set_title(f"{name}: {len(np.unique(y_pool[picks]))} classes in 20 picks")
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()
