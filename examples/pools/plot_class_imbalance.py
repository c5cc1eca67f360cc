"""
=================================================
Class-imbalanced pools: BASE and ClassBalanced
=================================================

On a long-tailed pool, uncertainty sampling keeps asking about the classes
it sees most, and the rare classes stay rare in the labeled set.
:class:`~skal.strategies.BalancedSelection` (BASE, Emam et al. 2021) gives
every *predicted* class an equal share of each batch, filled with the rows
closest to the class boundary. :class:`~skal.strategies.ClassBalanced` adds
the same per-class quotas to any strategy:
``ClassBalanced(MarginSampling())``.
"""

# %%
# A long-tailed pool
# ------------------
# :func:`~skal.datasets.make_imbalanced` keeps an exponentially decaying
# number of rows per class: the largest class has 20 times the rows of the
# smallest. The test set stays balanced, so accuracy weighs every class the
# same.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal.datasets import load_digits_images, make_imbalanced
from skal.evaluation import evaluate, plot_learning_curves
from skal.strategies import (
    BalancedSelection,
    ClassBalanced,
    MarginSampling,
    RandomSampling,
)

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
X_pool, y_pool, _ = make_imbalanced(X_train, y_train, ratio=20, random_state=0)
print("pool rows per class:", np.bincount(y_pool).tolist())

# %%
# Four strategies
# ---------------
torch.manual_seed(0)  # the module below is built here: fix its initial weights
net = NeuralNetClassifier(
    nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(256, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    ),
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.01,
    max_epochs=5 if FAST else 20,
    batch_size=32,
    train_split=None,
    verbose=0,
)
strategies = {
    "random": RandomSampling(),
    "margin": MarginSampling(),
    "ClassBalanced(margin)": ClassBalanced(MarginSampling()),
    "BalancedSelection": BalancedSelection(),
}
results = evaluate(
    net,
    strategies,
    X_pool,
    y_pool,
    X_test,
    y_test,
    budgets=[30, 60] if FAST else [30, 60, 90, 120, 150],
    seeds=[0] if FAST else [0, 1],
    verbose=0,
)

# %%
# Who gets the labels
# -------------------
# ``evaluate`` records, at every budget, how many selected rows each class
# has (``count_<class>``). Random sampling mirrors the pool's tail;
# the balanced strategies pull the rare classes up.
last = max(r["n_labels"] for r in results)
counts = {
    name: np.mean(
        [
            [r[f"count_{c}"] for c in range(10)]
            for r in results
            if r["strategy"] == name and r["n_labels"] == last
        ],
        axis=0,
    )
    for name in strategies
}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
width = 0.8 / len(counts)
for i, (name, c) in enumerate(counts.items()):
    ax1.bar(np.arange(10) + i * width, c, width=width, label=name)
ax1.set_xticks(np.arange(10) + 0.4 - width / 2, [str(c) for c in range(10)])
ax1.set_xlabel("class (rarer to the right)")
ax1.set_ylabel(f"labels after {last} queries")
ax1.legend(fontsize=8)
plot_learning_curves(results, ax=ax2, log_x=False)
ax2.set_ylabel("accuracy on a balanced test set")
fig.tight_layout()
plt.show()

# %%
# In one number: the share of the labels that went to the five rarest classes
# (they hold 16 % of the pool).
for name, c in counts.items():
    print(f"{name:>22}: {c[5:].sum() / c.sum():.0%} of the labels")
