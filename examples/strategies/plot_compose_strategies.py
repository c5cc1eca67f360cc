"""
==============================================
Composing strategies with ``|``
==============================================

Uncertainty sampling scores rows one by one, so in a pool with many
near-copies it spends a batch on copies of the same confusing image.
Diversity sampling (:class:`~skal.strategies.CoreSet`) spreads a batch out
but ignores what the model finds hard. ``a | b`` builds a
:class:`~skal.strategies.StrategyPipeline` in which each step narrows the
candidates of the next:

.. code-block:: python

    TopK(MarginSampling(), k=200) | CoreSet()

keeps the 200 most uncertain rows, then picks a diverse batch among them.
"""

# %%
# A redundant pool
# ----------------
# :func:`~skal.datasets.add_near_duplicates` appends 5 noisy copies of 30 %
# of the digits. ``source`` tells which original row each row comes from, so
# we can count the labels spent on a row already labeled in another copy.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal import ActiveLearner
from skal.datasets import add_near_duplicates, load_digits_images
from skal.strategies import CoreSet, MarginSampling, RandomSampling, TopK

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
X_pool, y_pool, source = add_near_duplicates(
    X_train, y_train, fraction=0.3, n_copies=5, noise=0.05, random_state=0
)
print(f"{len(X_train)} rows + {len(X_pool) - len(X_train)} near-copies")

torch.manual_seed(0)  # the module below is built here: fix its initial weights
net = NeuralNetClassifier(
    nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    ),
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.005,
    max_epochs=5 if FAST else 25,
    batch_size=32,
    train_split=None,
    verbose=0,
)

# %%
# The pipeline and its parameters
# -------------------------------
# Steps are named after their class, as in :func:`~sklearn.pipeline.make_pipeline`,
# so a step's parameters are reachable (and grid-searchable inside a learner
# as ``strategy__topk__k``).
pipe = TopK(MarginSampling(), k=200) | CoreSet()
print(pipe)
print({k: v for k, v in pipe.get_params().items() if "__" in k})

# %%
# Four strategies, one budget
# ----------------------------
strategies = {
    "random": RandomSampling(),
    "margin": MarginSampling(),
    "coreset": CoreSet(),
    "topk(margin) | coreset": pipe,
}
budget, batch = (80, 40) if FAST else (200, 40)
curves, wasted = {}, {}
for name, strategy in strategies.items():
    learner = ActiveLearner(
        net, strategy=strategy, n_instances=batch, budget=budget, random_state=0
    )
    learner.fit(X_pool, y_pool, eval_set=(X_test, y_test))
    curves[name] = [(h["n_labels"], h["score"]) for h in learner.history_]
    # labels on a row whose source was labeled already
    wasted[name] = len(learner.labeled_indices_) - len(
        np.unique(source[learner.labeled_indices_])
    )
    print(
        f"{name:>24}: accuracy {learner.score(X_test, y_test):.3f}, "
        f"{wasted[name]} labels on duplicates"
    )

# %%
# Accuracy, and labels wasted on duplicates
# -----------------------------------------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
for name, curve in curves.items():
    n_labels, scores = zip(*curve)
    ax1.plot(n_labels, scores, marker="o", label=name)
ax1.set_xlabel("labels")
ax1.set_ylabel("test accuracy")
ax1.legend()
bars = ax2.barh(list(wasted), list(wasted.values()), color="tab:red")
ax2.bar_label(bars)
ax2.set_xlabel("labels spent on a row labeled already (as another copy)")
fig.tight_layout()
plt.show()
