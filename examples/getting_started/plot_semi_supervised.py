"""
==========================================================
The recommended recipe: a converged net that uses the pool
==========================================================

Labels are scarce; the unlabeled pool is not. Three things make labels go
further, and they compose:

1. a net trained to convergence at every label count — :mod:`skal.nets`
   trains for a number of gradient *steps* that grows with the labeled set,
   with a cosine learning-rate schedule and weight decay;
2. augmentation — :mod:`skal.augment` has seeded, batch-wise weak and strong
   augmentations for signals, images (through kornia) and tables;
3. semi-supervised training on the pool —
   :class:`~skal.semi_supervised.FreeMatchClassifier` treats rows labeled
   ``-1`` as unlabeled (scikit-learn's convention) and learns from them with
   pseudo-labels above thresholds that adapt to the model's own confidence,
   and weak/strong consistency; its ``"auto"`` schedule gives the pool 0.4
   steps per unlabeled row on the CPU. :class:`~skal.ActiveLearner` hands it
   the pool on every refit.

Here the three are compared on scikit-learn's digits: the default strategy
around FreeMatch, the default strategy around the supervised net, and random
sampling.
"""

# %%
# Data and nets
# -------------
import os

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from skal import ActiveLearner
from skal.augment import ImageAugment
from skal.datasets import load_digits_images
from skal.nets import CNN2d, make_net
from skal.semi_supervised import FreeMatchClassifier
from skal.strategies import RandomSampling

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))  # the test suite's quick mode

X, y = load_digits_images(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
schedule = dict(min_steps=10, steps_per_label=0) if FAST else dict(min_steps=300)
supervised = make_net("image", n_classes=10, module__channels=16, **schedule)
freematch = FreeMatchClassifier(
    CNN2d,
    module__n_classes=10,
    module__channels=16,
    augment_weak=ImageAugment("weak"),  # translations
    augment_strong=ImageAugment("strong"),  # affine, noise, erasing
    # steps, batch size and unlabeled rows per labeled row: "auto" (the device's)
    **(schedule if FAST else {}),
)

# %%
# Three learners, one budget
# --------------------------
# In a simulation (``budget`` set) ``y`` is the oracle. The learner around
# FreeMatch passes every pool row it has not labeled (up to ``max_unlabeled``)
# to each refit, marked ``-1``.
budget = 40 if FAST else 80
learners = {
    "freematch + default": ActiveLearner(freematch, n_instances=20, budget=budget),
    "supervised + default": ActiveLearner(supervised, n_instances=20, budget=budget),
    "supervised + random": ActiveLearner(
        supervised, strategy=RandomSampling(), n_instances=20, budget=budget
    ),
}
curves = {}
for name, learner in learners.items():
    learner.set_params(random_state=0).fit(X_pool, y_pool, eval_set=(X_test, y_test))
    curves[name] = (
        [h["n_labels"] for h in learner.history_],
        [h["score"] for h in learner.history_],
    )
    print(f"{name:>22}: accuracy {curves[name][1][-1]:.3f} with {budget} labels")

# %%
# Learning curves
# ---------------
# The benchmark behind the recommendation (10 seeds, MNIST-1D and digits,
# ``benchmarks/results/label_efficiency/training/``) measures the same three
# ingredients one at a time.
fig, ax = plt.subplots(figsize=(6, 4))
for name, (n_labels, scores) in curves.items():
    ax.plot(n_labels, scores, marker="o", label=name)
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
ax.set_title("Digits: the pool and a converged net")
ax.legend()
fig.tight_layout()
plt.show()
