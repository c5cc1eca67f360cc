"""Composition: pipelines of strategies, top-k narrowing, class quotas, functions.

:class:`StrategyPipeline` lives beside the protocol (:mod:`skal.base`) that
builds it with ``|``; it is public here.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, RealNotInt

from ..base import (
    BaseStrategy,
    ScoreStrategy,
    StrategyPipeline,
    get_strategy_tags,
    score_random_state,
    top_k,
)
from ..models import get_adapter
from ..utils._deprecation import DEPRECATED, DEPRECATED_CONSTRAINT, renamed_param
from ..utils._seeding import draw_seed
from ..utils._validation import Count, StrategyInstance

__all__ = ["StrategyPipeline", "TopK", "ClassBalanced", "FunctionStrategy"]


class TopK(BaseStrategy):
    """Keep the ``k`` candidates a strategy ranks first.

    As an intermediate step of a :class:`StrategyPipeline` it narrows the
    candidates to ``max(k, n_instances)``; on its own it returns the first
    ``n_instances`` of those, so it behaves like ``strategy``.

    Parameters
    ----------
    strategy : strategy
        Ranks the candidates (best first).
    k : int or float, default=1000
        Candidates kept: an int >= 1, or a float in (0, 1] for a fraction of
        the candidates.

    Examples
    --------
    >>> from skal.strategies import MarginSampling, TopK
    >>> TopK(MarginSampling(), k=2000)
    TopK(k=2000, strategy=MarginSampling())
    """

    _parameter_constraints = {
        "strategy": [StrategyInstance()],
        "k": [Count(1), Interval(RealNotInt, 0, 1, closed="right")],
    }

    def __init__(self, strategy, k=1000):
        self.strategy = strategy
        self.k = k

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        inner = get_strategy_tags(self.strategy)
        tags.deterministic = inner.deterministic
        tags.requires_model = inner.requires_model
        return tags

    def _narrow_size(self, n_final, n_candidates):
        k = self.k
        if isinstance(k, numbers.Integral):
            keep = int(k)
        else:  # a fraction of the candidates
            keep = int(np.ceil(k * n_candidates))
        return min(n_candidates, max(keep, n_final))

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        keep = self._narrow_size(n_instances, candidates.shape[0])
        ranked = self.strategy(
            learner,
            X,
            n_instances=keep,
            candidates=candidates,
            random_state=random_state,
        )
        return ranked[:n_instances]


def _balanced_quotas(available, n, random_state):
    """Split ``n`` picks over classes with ``available`` rows each.

    Water-filling: every class gets the same quota, capped by what it has; the
    remainder (< number of open classes) goes to randomly chosen open classes,
    so counts differ by at most one except for exhausted classes.
    """
    available = np.asarray(available, dtype=np.int64)
    quotas = np.zeros_like(available)
    remaining = min(n, int(available.sum()))
    while remaining > 0:
        open_ = np.flatnonzero(quotas < available)
        share = remaining // open_.size
        if share == 0:
            lucky = random_state.choice(open_, size=remaining, replace=False)
            quotas[lucky] += 1
            break
        add = np.minimum(share, available[open_] - quotas[open_])
        quotas[open_] += add
        remaining -= int(add.sum())
    return quotas


class ClassBalanced(BaseStrategy):
    """Enforce per-class quotas on another strategy's selection.

    Candidates are grouped by the model's predicted class; each class gets an
    equal share of ``n_instances`` (counts differ by at most one wherever the
    pool allows), and ``strategy`` picks within each class.

    Parameters
    ----------
    strategy : strategy
        Picks within each predicted class.

    Examples
    --------
    >>> from skal.strategies import ClassBalanced, EntropySampling
    >>> ClassBalanced(EntropySampling())
    ClassBalanced(strategy=EntropySampling())
    """

    _parameter_constraints = {"strategy": [StrategyInstance()]}

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.class_balanced = True
        return tags

    def __init__(self, strategy):
        self.strategy = strategy

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        proba = get_adapter(learner, strategy=self).predict_proba(X, candidates)
        pred = proba.argmax(axis=1)
        classes, available = np.unique(pred, return_counts=True)
        quotas = _balanced_quotas(available, n_instances, random_state)
        scores = None
        if isinstance(self.strategy, ScoreStrategy):
            scores = self.strategy.score(
                learner,
                X,
                candidates,
                random_state=score_random_state(self.strategy, random_state),
            )
        picks = []
        for c, q in zip(classes, quotas):
            if q == 0:
                continue
            members = np.flatnonzero(pred == c)
            if scores is not None:
                picks.append(
                    candidates[members[top_k(scores[members], q, random_state)]]
                )
            else:
                picks.append(
                    self.strategy(
                        learner,
                        X,
                        n_instances=int(q),
                        candidates=candidates[members],
                        random_state=draw_seed(random_state),
                    )
                )
        return np.concatenate(picks)


class FunctionStrategy(BaseStrategy):
    """Turn a plain function into a clonable, grid-searchable strategy.

    Parameters
    ----------
    func : callable
        ``func(learner, X, *, n_instances, candidates, random_state, **kw_args)``
        returning indices into ``X`` taken from ``candidates``. The contract
        (exact count, no duplicates, inside the candidates) is checked on
        every call.
    kw_args : dict, default=None
        Extra keyword arguments for ``func``.
    deterministic : bool, default=False
        Declare that ``func`` ignores ``random_state`` (used by the check
        suite to test permutation equivariance).
    requires_model : bool, default=True
        Whether ``func`` reads the model (False lets it run before the first
        labels, as an ``initial_strategy``): the strategy's ``requires_model``
        tag.
    needs_model : bool
        Deprecated alias of ``requires_model`` (removed in 0.3).

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import FunctionStrategy
    >>> def first_rows(learner, X, *, n_instances, candidates, random_state):
    ...     return candidates[:n_instances]
    >>> FunctionStrategy(first_rows)(None, np.zeros((5, 1)), n_instances=2)
    array([0, 1])
    """

    _parameter_constraints = {
        "func": [callable],
        "kw_args": [dict, None],
        "deterministic": ["boolean"],
        "requires_model": ["boolean"],
        "needs_model": ["boolean", DEPRECATED_CONSTRAINT],
    }

    def __init__(
        self,
        func,
        *,
        kw_args=None,
        deterministic=False,
        requires_model=True,
        needs_model=DEPRECATED,
    ):
        self.func = func
        self.kw_args = kw_args
        self.deterministic = deterministic
        self.requires_model = requires_model
        self.needs_model = needs_model

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.deterministic = bool(self.deterministic)
        tags.requires_model = bool(
            renamed_param(
                "FunctionStrategy",
                "needs_model",
                "requires_model",
                self.needs_model,
                self.requires_model,
                True,
            )
        )
        return tags

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        return self.func(
            learner,
            X,
            n_instances=n_instances,
            candidates=candidates.copy(),
            random_state=random_state,
            **(self.kw_args or {}),
        )
