"""Composition: pipelines of strategies, top-k narrowing, class quotas, functions."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.pipeline import _name_estimators
from sklearn.utils._param_validation import (
    Interval,
    RealNotInt,
    validate_parameter_constraints,
)
from sklearn.utils.metaestimators import _BaseComposition

from ..base import BaseStrategy, ScoreStrategy, top_k
from ..models import get_adapter
from ..utils._validation import Count, StrategyInstance

__all__ = ["StrategyPipeline", "TopK", "ClassBalanced", "FunctionStrategy"]


def _check_strategy(strategy, name, owner):
    validate_parameter_constraints(
        {name: [StrategyInstance()]}, {name: strategy}, owner
    )
    return strategy


def _narrow_size(step, n_final, n_candidates):
    """How many candidates an intermediate pipeline step keeps."""
    if hasattr(step, "_narrow_size"):
        return step._narrow_size(n_final, n_candidates)
    return min(n_candidates, 10 * n_final)


class StrategyPipeline(_BaseComposition, BaseStrategy):
    """Chain strategies, each narrowing the candidates of the next.

    Built with ``|``: ``TopK(MarginSampling(), k=2000) | CoreSet()`` keeps the
    2000 most uncertain candidates and lets CoreSet pick ``n_instances`` among
    them. An intermediate step keeps the size it declares (``TopK``'s ``k``);
    a plain strategy used as an intermediate step keeps ``10 * n_instances``.
    The last step selects the final ``n_instances``.

    Parameters
    ----------
    steps : list of (str, strategy) tuples
        Named steps; their parameters are reachable as ``<name>__<param>``,
        so inside an :class:`~skal.ActiveLearner` as
        ``strategy__<name>__<param>``.

    Examples
    --------
    >>> from skal.strategies import MarginSampling, RandomSampling, TopK
    >>> pipe = TopK(MarginSampling(), k=100) | RandomSampling()
    >>> [name for name, _ in pipe.steps]
    ['topk', 'randomsampling']
    >>> pipe.get_params()["topk__k"]
    100
    """

    def __init__(self, steps):
        self.steps = steps

    @classmethod
    def from_strategies(cls, *strategies):
        """Flatten pipelines and name the steps like ``make_pipeline``."""
        flat = []
        for i, s in enumerate(strategies):
            if isinstance(s, StrategyPipeline):
                flat.extend(step for _, step in s.steps)
            else:
                flat.append(_check_strategy(s, f"step {i}", "StrategyPipeline"))
        return cls(_name_estimators(flat))

    def get_params(self, deep=True):
        return self._get_params("steps", deep=deep)

    def set_params(self, **params):
        self._set_params("steps", **params)
        return self

    def _validate_steps(self):
        if not isinstance(self.steps, list | tuple) or not self.steps:
            raise ValueError(
                "The 'steps' parameter of StrategyPipeline must be a non-empty "
                f"list of (name, strategy) tuples. Got {self.steps!r} instead."
            )
        names, strategies = zip(*self.steps)
        self._validate_names(names)
        for name, s in self.steps:
            _check_strategy(s, f"steps[{name!r}]", "StrategyPipeline")
            # an intermediate step's size (``_narrow_size``) is read before
            # the step is called: its parameters are checked up front
            if hasattr(s, "_check_params"):
                s._check_params()
        return strategies

    @property
    def named_steps(self):
        return dict(self.steps)

    @property
    def _deterministic(self):
        return all(getattr(s, "_deterministic", False) for _, s in self.steps)

    # Balance of the last step holds over the narrowed candidates only; wrap
    # the whole pipeline in ClassBalanced for balance over the pool.
    _class_balanced = False

    @property
    def _needs_model(self):
        return any(getattr(s, "_needs_model", True) for _, s in self.steps)

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        strategies = self._validate_steps()
        for step in strategies[:-1]:
            keep = _narrow_size(step, n_instances, candidates.shape[0])
            candidates = step(
                learner,
                X,
                n_instances=keep,
                candidates=candidates,
                random_state=random_state.randint(np.iinfo(np.int32).max),
            )
        return strategies[-1](
            learner,
            X,
            n_instances=n_instances,
            candidates=candidates,
            random_state=random_state.randint(np.iinfo(np.int32).max),
        )


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

    @property
    def _deterministic(self):
        return getattr(self.strategy, "_deterministic", False)

    @property
    def _needs_model(self):
        return getattr(self.strategy, "_needs_model", True)

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

    _class_balanced = True

    _parameter_constraints = {"strategy": [StrategyInstance()]}

    def __init__(self, strategy):
        self.strategy = strategy

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        proba = get_adapter(learner, strategy=self).predict_proba(X, candidates)
        pred = proba.argmax(axis=1)
        classes, available = np.unique(pred, return_counts=True)
        quotas = _balanced_quotas(available, n_instances, random_state)
        scores = None
        if isinstance(self.strategy, ScoreStrategy):
            scores = self.strategy.score(learner, X, candidates)
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
                        random_state=random_state.randint(np.iinfo(np.int32).max),
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
    needs_model : bool, default=True
        Whether ``func`` reads the model (False lets it run before the first
        labels, as an ``initial_strategy``).

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
        "needs_model": ["boolean"],
    }

    def __init__(self, func, *, kw_args=None, deterministic=False, needs_model=True):
        self.func = func
        self.kw_args = kw_args
        self.deterministic = deterministic
        self.needs_model = needs_model

    @property
    def _deterministic(self):
        return bool(self.deterministic)

    @property
    def _needs_model(self):
        return bool(self.needs_model)

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        return self.func(
            learner,
            X,
            n_instances=n_instances,
            candidates=candidates.copy(),
            random_state=random_state,
            **(self.kw_args or {}),
        )
