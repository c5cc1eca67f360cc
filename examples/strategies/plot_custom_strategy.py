"""
==========================================
Writing your own strategy
==========================================

Two ways, both clonable, grid-searchable and checked against skal's
strategy contract:

1. :class:`~skal.strategies.FunctionStrategy` wraps a plain function;
2. a subclass of :class:`~skal.base.ScoreStrategy` (or
   :class:`~skal.base.BaseStrategy`) implements only ``_score`` (or
   ``_query``); the public ``__call__`` validates the arguments and checks
   the result.

Both read the model through :func:`skal.models.get_adapter`, so they work
for skorch nets and scikit-learn models alike.
"""

# %%
# A function
# ----------
# The function gets the learner, the pool ``X`` and the ``candidates`` it may
# pick from, and returns indices into ``X``. Extra parameters come from
# ``kw_args`` — and are grid-searchable as ``strategy__kw_args``.
import os
from numbers import Real

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval

from skal import ActiveLearner
from skal.base import ScoreStrategy
from skal.models import get_adapter
from skal.strategies import FunctionStrategy, RandomSampling
from skal.utils.estimator_checks import check_strategy

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))


def least_confident(learner, X, *, n_instances, candidates, random_state, power=1):
    """The rows whose most likely class is least likely, sharpened by ``power``."""
    proba = get_adapter(learner).predict_proba(X, candidates)
    score = (1 - proba.max(axis=1)) ** power
    # sample in proportion to the score: a stochastic variant
    p = score + 1e-12
    pick = random_state.choice(
        len(candidates), n_instances, replace=False, p=p / p.sum()
    )
    return candidates[pick]


stochastic_lc = FunctionStrategy(least_confident, kw_args={"power": 3})
print(stochastic_lc)

# %%
# A subclass
# ----------
# ``__init__`` only stores parameters (so ``clone``, ``repr`` and
# ``strategy__<param>`` work) and ``_parameter_constraints`` declares what
# they may be (the base class checks them at every call, with scikit-learn's
# machinery); ``_score`` returns one score per candidate, higher meaning
# "label this first". The base class takes the ``n_instances`` best and breaks
# ties with ``random_state``.


class SmallestMargin(ScoreStrategy):
    """Rank rows by the margin between the two most likely classes.

    Parameters
    ----------
    temperature : float, default=1.0
        Softens the probabilities before taking the margin.
    """

    _parameter_constraints = {
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, temperature=1.0):
        self.temperature = temperature

    def _score(self, learner, X, candidates):
        proba = get_adapter(learner, strategy=self).predict_proba(X, candidates)
        soft = proba ** (1 / self.temperature)
        soft /= soft.sum(axis=1, keepdims=True)
        top2 = np.sort(soft, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])


print(SmallestMargin(temperature=2.0))

# %%
# Check them
# ----------
# :func:`~skal.utils.estimator_checks.check_strategy` runs the contract as
# hypothesis properties (exact count, no duplicates, never a labeled row,
# determinism, statelessness, permutation equivariance for deterministic
# strategies) and raises on the first failure. ``SmallestMargin`` inherits
# the tag ``deterministic=True`` from ``ScoreStrategy`` (see
# :class:`~skal.base.StrategyTags`; a strategy changes its tags by overriding
# ``__skal_tags__``).
n_examples = 3 if FAST else 10
check_strategy(stochastic_lc, max_examples=n_examples)
check_strategy(SmallestMargin(), max_examples=n_examples)
print("both strategies keep the contract")

# %%
# Use them
# --------
X, y = load_digits(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
budget = 60 if FAST else 200
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for name, strategy in {
    "random": RandomSampling(),
    "FunctionStrategy(least_confident)": stochastic_lc,
    "SmallestMargin()": SmallestMargin(),
}.items():
    sim = ActiveLearner(
        model, strategy=strategy, n_instances=20, budget=budget, random_state=0
    ).fit(X_pool, y_pool, eval_set=(X_test, y_test))
    ax.plot(
        [h["n_labels"] for h in sim.history_],
        [h["score"] for h in sim.history_],
        marker="o",
        label=name,
    )
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
plt.show()
