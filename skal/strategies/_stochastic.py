"""Stochastic batch acquisition: sample rows in proportion to a power of a score."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval

from ..base import BaseStrategy, get_strategy_tags, score_random_state, top_k
from ._uncertainty import EntropySampling

__all__ = ["PowerSampling", "power_keys"]


def power_keys(scores, beta, random_state):
    """Gumbel-perturbed log-weights: their top-k is a weighted sample.

    Sorting ``beta * log(score) + Gumbel`` keys and keeping the ``k`` largest
    draws ``k`` rows without replacement with probability proportional to
    ``score ** beta`` (the Gumbel-top-k trick; Kool, van Hoof & Welling,
    ICML 2019).

    Parameters
    ----------
    scores : array-like of shape (n,)
        Non-negative scores; zero, negative and NaN scores get weight 0 (key
        ``-inf``) unless ``beta == 0``.
    beta : float
        Exponent (``>= 0``); 0 samples uniformly, large values approach top-k.
    random_state : RandomState instance
        Source of the Gumbel noise.

    Returns
    -------
    keys : ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import power_keys
    >>> keys = power_keys([0.0, 1.0, 2.0], 1.0, np.random.RandomState(0))
    >>> bool(np.isneginf(keys[0]))
    True
    """
    s = np.asarray(scores, dtype=np.float64)
    u = random_state.random_sample(s.shape[0])
    gumbel = -np.log(-np.log(np.clip(u, 1e-300, 1.0 - 1e-16)))
    if beta == 0:
        return gumbel
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = np.where(s > 0, beta * np.log(np.where(s > 0, s, 1.0)), -np.inf)
    return logw + gumbel


class PowerSampling(BaseStrategy):
    """Stochastic batch acquisition: draw rows with probability ∝ score^beta.

    Taking the top-``n`` of a score fills a batch with near-duplicates; drawing
    the batch without replacement with probabilities proportional to
    ``score ** beta`` keeps the informative rows likely while diversifying the
    batch, at the cost of one scoring pass. Kirsch, Farquhar, Atighehchian,
    Jesson, Branchaud-Charron & Gal, "Stochastic Batch Acquisition: A Simple
    Baseline for Deep Active Learning", TMLR 2023 (PowerBALD is
    ``PowerSampling(BALD())``). Sampling uses the Gumbel-top-k trick
    (:func:`power_keys`).

    Not deterministic: the draws come from ``random_state``.

    Parameters
    ----------
    strategy : ScoreStrategy, default=None
        Provides the scores (any strategy with a ``score`` method, whose
        scores are non-negative, e.g. :class:`EntropySampling`,
        :class:`MarginSampling`, :class:`BALD`). None uses
        ``EntropySampling()``.
    beta : float, default=1.0
        Exponent of the scores (``>= 0``): 0 samples uniformly, large values
        approach the top-``n`` of the score.

    Examples
    --------
    >>> from skal.strategies import BALD, PowerSampling
    >>> PowerSampling(BALD(), beta=2.0)
    PowerSampling(beta=2.0, strategy=BALD())
    """

    _parameter_constraints = {
        "strategy": [HasMethods(["score"]), None],
        "beta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, strategy=None, beta=1.0):
        self.strategy = strategy
        self.beta = beta

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        if self.strategy is not None:
            tags.requires_model = get_strategy_tags(self.strategy).requires_model
        return tags

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        strategy = self.strategy if self.strategy is not None else EntropySampling()
        scores = strategy.score(
            learner,
            X,
            candidates,
            random_state=score_random_state(strategy, random_state),
        )
        scores = np.asarray(scores, dtype=np.float64)
        keys = power_keys(scores, float(self.beta), random_state)
        return candidates[top_k(keys, n_instances, random_state)]
