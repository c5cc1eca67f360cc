"""
==============================================
Out-of-distribution rows in the pool
==============================================

Real pools hold rows that belong to no class: blurry photos, scanner noise,
images from another source. An annotator shown one answers "none of these":
the query cost a label and taught nothing. Uncertainty sampling *favours*
such rows — the model is, rightly, unsure about them.

:class:`~skal.strategies.OODFilter` is a pipeline step that scores each
candidate for being out-of-distribution (here the Mahalanobis distance of
its embedding to the labeled classes) and drops the most suspicious
fraction before the next step chooses:

.. code-block:: python

    OODFilter(contamination=0.5) | MarginSampling()
"""

# %%
# A polluted pool
# ---------------
# :func:`~skal.datasets.add_ood` appends noise images to the digits and
# labels them ``-2``, the oracle's "none of these". :func:`skal.evaluation.evaluate`
# counts such an answer as a label spent (``n_labels``) but never teaches it.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal.datasets import add_ood, load_digits_images
from skal.evaluation import evaluate, plot_learning_curves
from skal.strategies import MarginSampling, OODFilter, RandomSampling

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
X_pool, y_pool, is_ood = add_ood(
    X_train, y_train, fraction=0.3, kind="shuffle", random_state=0
)
print(f"{len(X_pool)} rows, {is_ood.sum()} of them out-of-distribution")

fig, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for ax, i in zip(axes, np.r_[0:4, len(X_pool) - 4 : len(X_pool)]):
    ax.imshow(X_pool[i, 0], cmap="gray_r")
    ax.set_title("OOD" if is_ood[i] else str(y_pool[i]), fontsize=8)
    ax.axis("off")
plt.show()

# %%
# Three strategies, paired by seed
# --------------------------------
# ``contamination`` is the fraction of the candidates the filter drops. Set it
# above the share of junk you expect: that share grows in what is left of the
# pool as the in-distribution rows get labeled.
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
    "OODFilter | margin": OODFilter(contamination=0.5) | MarginSampling(),
}
results = evaluate(
    net,
    strategies,
    X_pool,
    y_pool,
    X_test,
    y_test,
    budgets=[30, 70] if FAST else [30, 70, 110, 150, 190],
    seeds=[0] if FAST else [0, 1],
    ood_label=-2,
    verbose=0,
)

# %%
# Labels wasted, and accuracy
# ---------------------------
# At every budget ``n_labels`` counts all the queries, ``n_ood`` those the
# annotator rejected.
last = max(r["n_labels"] for r in results)
wasted = {
    name: np.mean(
        [r["n_ood"] for r in results if r["strategy"] == name and r["n_labels"] == last]
    )
    for name in strategies
}
for name, w in wasted.items():
    print(f"{name:>20}: {w:.0f} of {last} queries out-of-distribution")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
plot_learning_curves(results, ax=ax1, log_x=False)
ax1.set_xlabel("labels spent (queries)")
ax1.set_ylabel("test accuracy")
bars = ax2.barh(list(wasted), list(wasted.values()), color="tab:red")
ax2.bar_label(bars, fmt="%.0f")
ax2.set_xlabel(f"queries answered 'none of these' (of {last})")
fig.tight_layout()
plt.show()
