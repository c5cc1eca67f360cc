"""
===============================================
BALD with MC dropout
===============================================

A net's softmax says how unsure it is, not *why*. An image may be ambiguous
(a 1 that looks like a 7: more data will not help) or simply unlike anything
the net has seen (the weights are unsure: a label helps a lot). With dropout
left on at prediction time, each forward pass is a draw from an approximate
posterior over the weights (Gal & Ghahramani, 2016); when the draws
*disagree*, the weights are unsure. :class:`~skal.strategies.BALD` ranks
rows by that disagreement, the mutual information between the label and the
weights (:func:`~skal.strategies.bald_score`).

skal reads the samples through the model adapter
(:func:`skal.models.get_adapter`), which switches only the dropout modules
to train mode for the duration of the call: any skorch net with dropout
works, unchanged.
"""

# %%
# A CNN with dropout
# ------------------
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal import ActiveLearner
from skal.datasets import load_digits_images
from skal.models import get_adapter
from skal.strategies import (
    BALD,
    EntropySampling,
    RandomSampling,
    bald_score,
    entropy_score,
)

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
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(64, 10),
    ),
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.005,
    max_epochs=5 if FAST else 30,
    batch_size=32,
    train_split=None,
    verbose=0,
)

# %%
# Epistemic and total uncertainty
# -------------------------------
# Fit on 60 labels, draw 20 MC-dropout predictions for every pool row, and
# compare the entropy of the mean prediction (total uncertainty) with BALD
# (the part due to the weights).
learner = ActiveLearner(net, n_instances=60, budget=60, random_state=0)
learner.fit(X_pool, y_pool)
samples = get_adapter(learner).mc_proba(
    X_pool, n_draws=5 if FAST else 20, random_state=0
)
print(samples.shape)  # (rows, MC samples, classes)
total = entropy_score(samples.mean(axis=1))
bald = bald_score(samples)

top_bald = np.argsort(-bald)[:20]
top_entropy = np.argsort(-total)[:20]
fig, ax = plt.subplots(figsize=(5.5, 4))
ax.scatter(total, bald, s=5, c="0.7", label="pool")
ax.scatter(
    total[top_entropy],
    bald[top_entropy],
    s=30,
    marker="s",
    facecolor="none",
    edgecolor="tab:orange",
    label="top entropy",
)
ax.scatter(total[top_bald], bald[top_bald], s=12, c="tab:blue", label="top BALD")
ax.set_xlabel("entropy of the mean prediction (nats)")
ax.set_ylabel("BALD: mutual information (nats)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# What each one asks for
# ----------------------
# The top rows by total uncertainty include digits that are simply
# ambiguous (every MC draw hesitates between the same two classes); BALD's
# top rows are those on which the draws disagree.
fig, axes = plt.subplots(2, 8, figsize=(8, 2.6))
for row, (name, top) in zip(axes, [("entropy", top_entropy), ("BALD", top_bald)]):
    for ax, i in zip(row, top):
        ax.imshow(X_pool[i, 0], cmap="gray_r")
        ax.set_title(str(y_pool[i]), fontsize=8, pad=1)
        ax.axis("off")
    row[0].text(-0.3, 0.5, name, transform=row[0].transAxes, ha="right", va="center")
fig.tight_layout()
plt.show()

# %%
# In a learner
# ------------
# ``BALD(n_mc_samples=...)`` is an ordinary strategy: the learner seeds its
# dropout masks from ``random_state`` (inside ``torch.random.fork_rng``, so
# the global torch generator is left alone). Compare it with random sampling
# at equal budget; on a pool this small and easy the gain, if any, is small —
# measure on your own data (see the label-efficiency benchmark).
budget = 80 if FAST else 160
curves = {}
for name, strategy in {
    "random": RandomSampling(),
    "entropy": EntropySampling(),
    "BALD": BALD(n_mc_samples=10),
}.items():
    sim = ActiveLearner(
        net, strategy=strategy, n_instances=40, budget=budget, random_state=0
    )
    sim.fit(X_pool, y_pool, eval_set=(X_test, y_test))
    curves[name] = [(h["n_labels"], h["score"]) for h in sim.history_]
    print(f"{name:>8}: {sim.score(X_test, y_test):.3f}")

fig, ax = plt.subplots(figsize=(5.5, 3.8))
for name, curve in curves.items():
    ax.plot(*zip(*curve), marker="o", label=name)
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
plt.show()
