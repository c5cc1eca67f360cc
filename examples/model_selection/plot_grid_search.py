"""
=====================================================
Grid search over strategies and their parameters
=====================================================

With ``budget`` set, :class:`~skal.ActiveLearner` simulates active learning
inside ``fit`` (the training labels play the oracle), and the final model is
the one trained on what the strategy selected. ``score`` therefore measures
what a strategy buys with a fixed number of labels, and
:class:`~sklearn.model_selection.GridSearchCV` compares strategies — and
their parameters, as ``strategy__<param>`` — at equal budget.

A scikit-learn pipeline keeps this example fast; a skorch net goes in the
same place (see :ref:`sphx_glr_auto_examples_getting_started_plot_quickstart.py`).
"""

# %%
# The simulated learner
# ---------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skal import ActiveLearner
from skal.strategies import (
    EntropySampling,
    MarginSampling,
    RandomSampling,
    TopK,
)

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

X, y = load_digits(return_X_y=True)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
sim = ActiveLearner(model, n_instances=20, budget=60 if FAST else 160, random_state=0)

# %%
# The grid
# --------
# A list of grids, as usual in scikit-learn: strategies without parameters,
# then a pipeline of strategies whose first step's ``k`` is searched through
# the step's name (``strategy__topk__k``).
param_grid = [
    {"strategy": [RandomSampling(), MarginSampling(), EntropySampling()]},
    {
        "strategy": [TopK(EntropySampling(), k=100) | RandomSampling()],
        "strategy__topk__k": [40, 200] if FAST else [40, 100, 400],
    },
]
search = GridSearchCV(
    sim, param_grid, cv=StratifiedKFold(3, shuffle=True, random_state=0), n_jobs=1
)
search.fit(X, y)
print("best:", search.best_params_, f"{search.best_score_:.3f}")

# %%
# The results
# -----------
# ``cv_results_`` holds one row per candidate, as for any estimator.
res = search.cv_results_
names = np.array(
    [
        f"TopK(Entropy, k={p['strategy__topk__k']}) | Random"
        if "strategy__topk__k" in p
        else repr(p["strategy"])
        for p in res["params"]
    ]
)
mean, std = res["mean_test_score"], res["std_test_score"]
for name, m, s in zip(names, mean, std):
    print(f"{name:>32}  {m:.3f} ± {s:.3f}")

fig, ax = plt.subplots(figsize=(6.5, 3.5))
order = np.argsort(mean)
ax.barh(names[order], mean[order], xerr=std[order], color="tab:blue")
ax.set_xlabel(f"accuracy with {sim.budget} labels (3-fold CV)")
ax.set_xlim(mean.min() - 0.1, 1)
fig.tight_layout()
plt.show()

# %%
# The winner is an ordinary fitted estimator
# ------------------------------------------
# ``best_estimator_`` was refit on all of ``X`` with the best strategy: its
# model was trained on ``budget`` labels only.
best = search.best_estimator_
print(len(best.y_labeled_), "labels;", best.strategy)
