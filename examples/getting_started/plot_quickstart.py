"""
==========================================
Quickstart: a skorch CNN on digits
==========================================

Train a small convolutional net with active learning and compare it with
random sampling at the same number of labels.

The net is an ordinary skorch :class:`~skorch.classifier.NeuralNetClassifier`;
:class:`~skal.ActiveLearner` wraps it. With ``budget`` set, ``fit`` runs a
*simulation*: ``y`` plays the oracle, and the learner queries
``n_instances`` rows per round until ``budget`` labels are used. Each round
is recorded in ``history_``, here with the accuracy on a held-out set.
"""

# %%
# Data and net
# ------------
# scikit-learn's 8x8 digits, shaped (n, 1, 8, 8) for a 2-D CNN, ship with
# scikit-learn: nothing is downloaded.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal import ActiveLearner
from skal.datasets import load_digits_images
from skal.strategies import MarginSampling, RandomSampling

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))  # the test suite's quick mode

X, y = load_digits_images(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
print(X_pool.shape, X_test.shape)


class CNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.25), nn.Linear(64, n_classes)
        )

    def forward(self, X):
        return self.head(self.features(X))


net = NeuralNetClassifier(
    CNN,
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.005,
    max_epochs=5 if FAST else 25,
    batch_size=32,
    train_split=None,
    verbose=0,
    device="cpu",
)

# %%
# Active learning against random sampling
# ---------------------------------------
# Both learners start from the same ``n_initial`` random rows and buy
# ``n_instances`` labels per round up to ``budget``. Margin sampling asks for
# the rows whose two most likely classes are closest.
budget = 80 if FAST else 240
curves, learners = {}, {}
for name, strategy in [("margin", MarginSampling()), ("random", RandomSampling())]:
    learner = ActiveLearner(
        net, strategy=strategy, n_instances=40, budget=budget, random_state=0
    )
    learner.fit(X_pool, y_pool, eval_set=(X_test, y_test))
    learners[name] = learner
    curves[name] = (
        [h["n_labels"] for h in learner.history_],
        [h["score"] for h in learner.history_],
    )
    print(
        f"{name:>6}: {learner.score(X_test, y_test):.3f} accuracy "
        f"with {len(learner.y_labeled_)} labels"
    )

# %%
# The learning curves
# -------------------
fig, ax = plt.subplots(figsize=(6, 4))
for name, (n_labels, scores) in curves.items():
    ax.plot(n_labels, scores, marker="o", label=name)
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
ax.set_title("Small CNN on digits")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# What was labeled
# ----------------
# ``labeled_indices_`` are rows of the ``X`` passed to ``fit``. Margin
# sampling spends its labels on the confusable digits.
fig, axes = plt.subplots(2, 8, figsize=(8, 2.4))
margin = learners["margin"]
last_round = margin.history_[-1]["indices"][:16]
for ax, i in zip(axes.ravel(), last_round):
    ax.imshow(X_pool[i, 0], cmap="gray_r")
    ax.set_title(str(y_pool[i]), fontsize=9)
    ax.axis("off")
fig.suptitle("The last rows margin sampling asked for")
fig.tight_layout()
plt.show()

# %%
# Counting the labels per class shows the same thing: random sampling labels
# every digit about equally, margin sampling does not.
for name, learner in learners.items():
    print(f"{name:>6}:", np.bincount(learner.y_labeled_, minlength=10))
