"""
==============================================
A human in the loop: fit, query, teach
==============================================

In a real project nobody knows ``y``: a person labels the rows the learner
asks for. This example runs such a session. ``fit`` gets the few labels we
start with and ``-1`` for every unlabeled row (they become the *stored
pool*); then ``query`` → *label* → ``teach`` repeats as answers arrive.

The person is played by a function that reads the true labels, so the
example runs unattended; in your code it would show the rows in a labeling
tool and wait.
"""

# %%
# A pool with 20 labels
# ---------------------
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal import ActiveLearner
from skal.datasets import load_digits_images
from skal.strategies import MarginSampling

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

X, y = load_digits_images(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

rng = np.random.RandomState(0)
y_seed = np.full_like(y_pool, -1)  # -1: unlabeled
seed_rows = rng.choice(len(y_pool), size=20, replace=False)
y_seed[seed_rows] = y_pool[seed_rows]


def ask_a_person(rows):
    """Stands for the labeling tool: returns the labels of ``X_pool[rows]``."""
    return y_pool[rows]


# %%
# The learner
# -----------
# The skorch net is the same as in any supervised project. ``fit`` trains it
# on the 20 labeled rows and keeps the others as the pool.
torch.manual_seed(0)  # the module below is built here: fix its initial weights
net = NeuralNetClassifier(
    nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    ),
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.005,
    max_epochs=5 if FAST else 40,
    batch_size=32,
    train_split=None,
    verbose=0,
)
learner = ActiveLearner(net, strategy=MarginSampling(), n_instances=16, random_state=0)
learner.fit(X_pool, y_seed)
print(
    f"{len(learner.y_labeled_)} labeled, {len(learner.pool_indices_)} in the pool, "
    f"accuracy {learner.score(X_test, y_test):.3f}"
)

# %%
# Query, label, teach
# -------------------
# ``query()`` returns indices into ``X_pool``, taken from the pool: never a
# labeled row, never twice the same. ``teach(y=..., indices=...)`` records
# the answers *first*, then refits, so a failed refit loses no label (the
# previous model keeps predicting; :meth:`~skal.ActiveLearner.refit` retries).
n_rounds = 2 if FAST else 4
asked, accuracy = [], [learner.score(X_test, y_test)]
for _ in range(n_rounds):
    idx = learner.query()
    asked.append(idx)
    learner.teach(y=ask_a_person(idx), indices=idx)
    accuracy.append(learner.score(X_test, y_test))
    print(f"{len(learner.y_labeled_):3d} labels: accuracy {accuracy[-1]:.3f}")

# %%
# What the person was asked
# -------------------------
# Each row of the figure is one round of questions.
fig, axes = plt.subplots(n_rounds, 16, figsize=(10, 0.75 * n_rounds + 0.4))
for r, idx in enumerate(asked):
    for ax, i in zip(axes[r], idx):
        ax.imshow(X_pool[i, 0], cmap="gray_r")
        ax.set_title(str(y_pool[i]), fontsize=7, pad=1)
        ax.axis("off")
fig.suptitle("Rows queried, round by round (title: the answer)")
plt.show()

# %%
# Accuracy as labels arrive
# -------------------------
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(20 + 16 * np.arange(n_rounds + 1), accuracy, marker="o")
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
fig.tight_layout()
plt.show()

# %%
# New rows arriving
# -----------------
# ``query(X_new)`` picks among rows that were not in the pool at ``fit``
# (say, today's uploads) and returns indices into ``X_new``; ``teach`` then
# takes those rows themselves.
X_new, y_new = X_test[:100], y_test[:100]
idx = learner.query(X_new, n_instances=5)
learner.teach(X_new[idx], y_new[idx])
print(
    f"{len(learner.y_labeled_)} labels; pool still has "
    f"{len(learner.pool_indices_)} rows"
)

# %%
# Stop, resume, and never lose a label
# ------------------------------------
# A labeling session spans days. ``save`` writes the whole session (labels,
# pool, history, random state and the net's weights) to a zip file that
# :meth:`~skal.ActiveLearner.load` reads back without running any code from
# it. With ``journal=``, every label is also appended to a file *as it is
# taught*, before the refit: after a crash,
# :meth:`~skal.ActiveLearner.replay_journal` recovers them.
workdir = Path(tempfile.mkdtemp())
learner.save(workdir / "session.skal")
restored = ActiveLearner.load(workdir / "session.skal", estimator=net)
print(
    f"restored: {len(restored.y_labeled_)} labels, "
    f"accuracy {restored.score(X_test, y_test):.3f}"
)

journaled = ActiveLearner(
    net, n_instances=8, journal=str(workdir / "labels.jsonl"), random_state=0
).fit(X_pool, y_seed)
idx = journaled.query()
journaled.teach(y=ask_a_person(idx), indices=idx)
records = ActiveLearner.read_journal(workdir / "labels.jsonl")
labels = [r for r in records if r["kind"] == "label"]
print(
    f"{len(labels)} labels in the journal; the last: row {labels[-1]['index']}, "
    f"label {labels[-1]['label']}"
)
