"""
==================================================
Finding a rare class with submodular information
==================================================

Sometimes the point of labeling is to *find* something: the 1 % of images
that show a defect, a rare species, a fraud pattern. A handful of examples
of what we look for is enough to steer the queries.
:class:`~skal.strategies.SubmodularMutualInformation` (SIMILAR, Kothawade
et al., NeurIPS 2021) picks rows similar to a *query set* — here three
examples of the rare class — while keeping the batch diverse, by greedily
maximising a submodular mutual information between the batch and the query
set.
"""

# %%
# A pool where the 8s are rare
# ----------------------------
# Keep only 15 of the 8s in the pool (about 1.3 % of it); three more 8s, not
# in the pool, form the query set: "rows like these".
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal.datasets import load_digits_images
from skal.evaluation import evaluate
from skal.strategies import (
    MarginSampling,
    RandomSampling,
    SubmodularMutualInformation,
)

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))
RARE = 8

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
rng = np.random.RandomState(0)
rare_rows = rng.permutation(np.flatnonzero(y_train == RARE))
keep = np.r_[np.flatnonzero(y_train != RARE), rare_rows[:15]]
X_pool, y_pool = X_train[keep], y_train[keep]
exemplars = X_train[rare_rows[15:18]]
print(f"{len(y_pool)} rows, {np.sum(y_pool == RARE)} of class {RARE}")

fig, axes = plt.subplots(1, 3, figsize=(3, 1.2))
for ax, img in zip(axes, exemplars):
    ax.imshow(img[0], cmap="gray_r")
    ax.axis("off")
fig.suptitle("the query set", fontsize=9)
plt.show()

# %%
# Three strategies
# ----------------
# ``SubmodularMutualInformation(query_set=exemplars)`` embeds the query set
# with the current model, like the candidates. (Without ``query_set`` it uses
# the labeled rows of the rarest labeled class, or of ``query_classes``.)
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
    "SMI (flqmi)": SubmodularMutualInformation(query_set=exemplars),
}
budgets = [30, 50] if FAST else [30, 50, 70, 90, 110]
results = evaluate(
    net,
    strategies,
    X_pool,
    y_pool,
    X_test,
    y_test,
    budgets=budgets,
    seeds=[0] if FAST else [0, 1],
    verbose=0,
)

# %%
# Rare rows found
# ---------------
# ``count_8`` is the number of 8s among the selected rows at each budget.
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for name in strategies:
    found = [
        np.mean(
            [
                r[f"count_{RARE}"]
                for r in results
                if r["strategy"] == name and r["n_labels"] == b
            ]
        )
        for b in budgets
    ]
    ax.plot(budgets, found, marker="o", label=name)
    print(f"{name:>12}: {found[-1]:.1f} of the 15 rare rows found")
ax.axhline(15, color="0.6", ls=":", label="all of them")
ax.set_xlabel("labels")
ax.set_ylabel(f"rows of class {RARE} labeled")
ax.legend()
fig.tight_layout()
plt.show()
