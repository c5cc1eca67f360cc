"""
=====================================
When to stop labeling
=====================================

Labels bought after the model stopped improving are wasted. A stopping
criterion from :mod:`skal.stopping` watches every refit of an
:class:`~skal.ActiveLearner` and says when to stop: in a simulation the loop
ends there (``history_`` records why), with a human in the loop
:meth:`~skal.ActiveLearner.should_stop` tells.

This example simulates margin sampling on the digits with a logistic
regression, draws the learning curve, and marks where each criterion would
have stopped. See :ref:`stopping` for the measured trade-offs.
"""

# %%
# A simulation that stops by itself
# ---------------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skal import ActiveLearner
from skal.stopping import (
    AnyOf,
    ClassificationChange,
    MaxConfidence,
    OverallUncertainty,
    StabilizingPredictions,
)
from skal.strategies import MarginSampling

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))
BUDGET = 200 if FAST else 500

X, y = load_digits(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=450, stratify=y, random_state=0
)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def simulation(stopping):
    return ActiveLearner(
        model,
        strategy=MarginSampling(),
        n_instances=10,
        n_initial=20,
        budget=BUDGET,
        stopping=stopping,
        random_state=0,
    )


learner = simulation(StabilizingPredictions(kappa=0.99)).fit(X_pool, y_pool)
last = learner.history_[-1]
print(f"stopped at {last['n_labels']} of {BUDGET} labels: {last['stop_reason']}")
print(f"test accuracy at the stop: {learner.score(X_test, y_test):.3f}")

# %%
# Every criterion on one run
# --------------------------
# A criterion only reads the models; it never changes what is selected. So
# one run to the full budget shows where each would stop: combine them in
# :class:`~skal.stopping.AnyOf` with ``min_labels`` above the budget (it
# watches them all and never fires), then replay each criterion's ``decide``
# over the learner's ``stop_observations_``.
criteria = {
    "StabilizingPredictions": StabilizingPredictions(),
    "ClassificationChange": ClassificationChange(),
    "OverallUncertainty": OverallUncertainty(),
    "MaxConfidence": MaxConfidence(),
}
watch = AnyOf(list(criteria.items()), min_labels=BUDGET + 1)
full = simulation(watch).fit(X_pool, y_pool, eval_set=(X_test, y_test))
n_labels = np.array([r["n_labels"] for r in full.history_])
accuracy = np.array([r["score"] for r in full.history_])

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(n_labels, accuracy, color="black", label="margin sampling")
for i, (name, crit) in enumerate(criteria.items()):
    seen = [o["criteria"][i] for o in full.stop_observations_]
    stop = next((r for r in range(len(seen)) if crit.decide(seen[: r + 1])), None)
    if stop is None:
        print(f"{name:>24}: never fired within {BUDGET} labels")
        continue
    print(
        f"{name:>24}: stops at {n_labels[stop]} labels, accuracy "
        f"{accuracy[stop]:.3f} (full budget: {accuracy[-1]:.3f})"
    )
    ax.axvline(n_labels[stop], ls="--", color=f"C{i}", label=name)
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
ax.legend(loc="lower right")
ax.set_title("Where each stopping criterion fires")
fig.tight_layout()

# %%
# With a human in the loop
# ------------------------
# ``should_stop()`` answers after every ``teach``; labeling may go on past it.
y_seed = np.full_like(y_pool, -1)
first = [np.flatnonzero(y_pool == c)[0] for c in range(10)]
y_seed[first] = y_pool[first]
human = ActiveLearner(
    model,
    strategy=MarginSampling(),
    n_instances=10,
    stopping=StabilizingPredictions(kappa=0.99),
    random_state=0,
).fit(X_pool, y_seed)
while not human.should_stop() and len(human.y_labeled_) < BUDGET:
    idx = human.query()
    human.teach(y=y_pool[idx], indices=idx)  # the human's answers
print(f"the human may stop at {len(human.y_labeled_)} labels: {human.stop_reason_}")
plt.show()
