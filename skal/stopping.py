"""Stopping criteria: when to stop buying labels.

A criterion is a small, stateless :class:`~sklearn.base.BaseEstimator` with
two public methods, so that it clones, pickles and sits in a grid search as
``stopping__<param>`` of an :class:`~skal.ActiveLearner`:

* ``observe(learner, X, candidates=None)`` reads the learner's current model
  (through :mod:`skal.models` adapters only) and returns an *observation*, a
  small dict of numbers and arrays (always with ``n_labels``);
* ``decide(observations)`` is a pure function of the observations of
  successive models, oldest first: a reason (str) to stop now, or None.

The learner owns the observations (one per refit) and asks ``decide`` after
each refit; a criterion never stores anything, so the same object can watch
many learners. Every criterion has ``min_labels``: it never stops before the
learner holds that many labels.

Rows read: ``X`` is the learner's stored data (``fit``'s ``X``) and
``candidates`` its unlabeled rows. Each criterion reads a fixed *stop set*,
``stop_set_size`` rows of ``X`` drawn from ``random_state`` (the same rows
every round, as Bloodgood & Vijay-Shanker's stop set), restricted to the
unlabeled ones where the criterion is about the pool. ``random_state`` is
taken as scikit-learn takes it: an int, a ``RandomState`` instance (copied
before each draw, so the rows stay the same and the instance is not
consumed) or None (numpy's global generator: a new draw every round, so
comparisons across rounds read different rows; pass an int to avoid it).

Criteria are combined with ``a | b`` (:class:`AnyOf`) and ``a & b``
(:class:`AllOf`); ``Any`` and ``All``, their former names, which shadowed
:data:`typing.Any`, still work until 0.3 with a :class:`FutureWarning`.
"""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import cohen_kappa_score
from sklearn.pipeline import _name_estimators
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import _num_samples

from .base import StrategyTags, get_strategy_tags
from .models import get_adapter
from .strategies import entropy_score
from .utils._deprecation import renamed_class

__all__ = [
    "BaseStoppingCriterion",
    "StabilizingPredictions",
    "ClassificationChange",
    "OverallUncertainty",
    "MaxConfidence",
    "BudgetExhausted",
    "AnyOf",
    "AllOf",
    "prediction_kappa",
    "normalized_entropy",
]


# ----------------------------------------------------------------- functions
def prediction_kappa(a, b):
    """Cohen's kappa between two models' predictions on the same rows.

    Identical predictions count as full agreement (1.0) even when they hold
    a single class, where Cohen's formula is 0/0.

    Parameters
    ----------
    a, b : array-like of shape (n_rows,)
        Predicted labels of two models.

    Returns
    -------
    kappa : float
        In [-1, 1]; 1 is perfect agreement.

    Examples
    --------
    >>> from skal.stopping import prediction_kappa
    >>> prediction_kappa([0, 1, 1, 0], [0, 1, 1, 0])
    1.0
    >>> round(prediction_kappa([0, 1, 1, 0], [0, 1, 0, 0]), 3)
    0.5
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            "prediction_kappa needs two 1-D arrays of the same length; got shapes "
            f"{a.shape} and {b.shape}."
        )
    if a.size == 0 or np.array_equal(a, b):
        return 1.0
    kappa = cohen_kappa_score(a, b)
    return 0.0 if np.isnan(kappa) else float(kappa)


def normalized_entropy(proba):
    """Entropy of each row's predicted distribution, divided by ``log(n_classes)``.

    Parameters
    ----------
    proba : array-like of shape (n_rows, n_classes)

    Returns
    -------
    entropy : ndarray of shape (n_rows,)
        In [0, 1]: 0 is a certain prediction, 1 a uniform one.

    Examples
    --------
    >>> from skal.stopping import normalized_entropy
    >>> normalized_entropy([[1.0, 0.0], [0.5, 0.5]])
    array([0., 1.])
    """
    proba = np.asarray(proba, dtype=np.float64)
    h = entropy_score(proba)
    return h / np.log(proba.shape[1]) if proba.shape[1] > 1 else np.zeros_like(h)


# ---------------------------------------------------------------------- base
def _n_labels(learner):
    y = getattr(learner, "y_labeled_", None)
    return 0 if y is None else int(_num_samples(y))


class BaseStoppingCriterion(BaseEstimator):
    """Base class of stopping criteria.

    Subclasses declare their parameters in ``__init__`` and implement
    ``_observe(learner, X, stop_rows, unlabeled)`` (a dict of what this
    model says) and ``_decide(observations)`` (a reason or None). The public
    methods validate the parameters, add ``n_labels`` to each observation
    and enforce ``min_labels``.

    ``a | b`` builds :class:`AnyOf`, ``a & b`` builds :class:`AllOf`.
    Whether ``observe`` reads the model is the ``requires_model`` tag
    (:func:`skal.base.get_strategy_tags`; True here): a learner without a
    model skips the criteria that need one.

    Examples
    --------
    >>> from skal.stopping import BaseStoppingCriterion
    >>> class AfterTenLabels(BaseStoppingCriterion):
    ...     def _observe(self, learner, X, stop_rows, unlabeled):
    ...         return {}
    ...     def _decide(self, observations):
    ...         return "ten labels" if observations[-1]["n_labels"] >= 10 else None
    >>> AfterTenLabels().decide([{"n_labels": 12}])
    'ten labels'
    """

    _parameter_constraints = {
        "min_labels": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, *, min_labels=0):
        self.min_labels = min_labels

    def __skal_tags__(self):
        """The criterion's tags: ``requires_model`` (True: reads the model)."""
        return StrategyTags()

    # -- stop set ------------------------------------------------------------
    def _stop_rows(self, n_rows):
        size = getattr(self, "stop_set_size", None)
        if size is None or size >= n_rows:
            return np.arange(n_rows, dtype=np.intp)
        rs = getattr(self, "random_state", 0)
        # an instance is copied: the same rows every round, and not consumed
        rng = copy.deepcopy(rs) if isinstance(rs, np.random.RandomState) else rs
        rng = check_random_state(rng)
        return np.sort(rng.choice(n_rows, size=size, replace=False)).astype(np.intp)

    def observe(self, learner, X, candidates=None) -> dict:
        """What the learner's current model says, for :meth:`decide`.

        Parameters
        ----------
        learner : ActiveLearner
            A fitted learner (read through :mod:`skal.models` adapters).
        X : array-like of shape (n_samples, ...)
            The learner's stored data (``fit``'s ``X``).
        candidates : array-like of int, default=None
            The rows of ``X`` still unlabeled; None means all of them.

        Returns
        -------
        observation : dict
            Numbers and arrays only, with ``n_labels``.
        """
        self._validate_params()
        n_rows = _num_samples(X)
        stop_rows = self._stop_rows(n_rows)
        if candidates is None:
            unlabeled = np.ones(stop_rows.shape[0], dtype=bool)
        else:
            unlabeled = np.isin(stop_rows, np.asarray(candidates))
        obs = {"n_labels": _n_labels(learner)}
        obs.update(self._observe(learner, X, stop_rows, unlabeled))
        return obs

    def decide(self, observations) -> str | None:
        """A reason to stop after the last observation, or None.

        Parameters
        ----------
        observations : sequence of dict
            Observations of successive models, oldest first, as returned by
            :meth:`observe`.

        Returns
        -------
        reason : str or None
            Why to stop now; None to go on. Always None below ``min_labels``
            labels and without observations.
        """
        self._validate_params()
        observations = list(observations)
        if not observations or observations[-1]["n_labels"] < self.min_labels:
            return None
        return self._decide(observations)

    def _observe(self, learner, X, stop_rows, unlabeled):
        raise NotImplementedError

    def _decide(self, observations):
        raise NotImplementedError

    def __or__(self, other):
        return AnyOf.from_criteria(self, other)

    def __and__(self, other):
        return AllOf.from_criteria(self, other)


#: The parameters of the criteria that read a stop set.
_STOP_SET_CONSTRAINTS = {
    **BaseStoppingCriterion._parameter_constraints,
    "stop_set_size": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
}
_WINDOW_CONSTRAINT = {"window": [Interval(Integral, 1, None, closed="left")]}


def _last_pairs(observations, window):
    """The last ``window`` pairs of successive observations, oldest first;
    None while there are fewer."""
    last = observations[-(window + 1) :]
    if len(last) < window + 1:
        return None
    return list(zip(last[:-1], last[1:], strict=True))


def _predictions(learner, X, rows):
    """Predicted labels of ``rows`` of ``X``, by the adapter's probabilities."""
    if rows.shape[0] == 0:
        return np.empty(0, dtype=np.intp)
    proba = get_adapter(learner).predict_proba(X, rows)
    arg = np.asarray(proba).argmax(axis=1)
    classes = getattr(learner, "classes_", None)
    if classes is not None and len(classes) == proba.shape[1]:
        return np.asarray(classes)[arg]
    return arg


def _proba(learner, X, rows):
    if rows.shape[0] == 0:
        return np.empty((0, 2))
    return np.asarray(get_adapter(learner).predict_proba(X, rows), dtype=np.float64)


# ----------------------------------------------------------------- criteria
class StabilizingPredictions(BaseStoppingCriterion):
    """Stop when successive models agree on a stop set (Bloodgood & Vijay-Shanker).

    After each refit the model predicts a fixed stop set; the criterion
    stops when the mean Cohen's kappa between the predictions of the last
    ``window`` pairs of successive models reaches ``kappa``.

    Parameters
    ----------
    kappa : float, default=0.99
        Agreement needed; the paper's 0.99 is conservative, lower values stop
        sooner.
    window : int, default=3
        Number of successive pairs whose kappas are averaged.
    stop_set_size : int or None, default=1000
        Rows of ``X`` predicted each round (labeled ones included); None
        uses every row.
    random_state : int, RandomState instance or None, default=0
        Chooses the stop set (the same rows every round; see the module
        notes for None).
    min_labels : int, default=0
        Never stop below this many labels.

    References
    ----------
    M. Bloodgood and K. Vijay-Shanker, "A method for stopping active learning
    based on stabilizing predictions and the need for user-adjustable
    stopping", CoNLL 2009.

    Examples
    --------
    >>> from skal.stopping import StabilizingPredictions
    >>> crit = StabilizingPredictions(kappa=0.9, window=2)
    >>> obs = [{"n_labels": n, "predictions": [0, 1, 1, 0]} for n in (10, 20, 30)]
    >>> crit.decide(obs)
    'StabilizingPredictions: mean kappa 1.0000 >= 0.9 over the last 2 pairs of models'
    >>> crit.decide(obs[:2]) is None  # two models make one pair, not two
    True
    """

    _parameter_constraints = {
        **_STOP_SET_CONSTRAINTS,
        **_WINDOW_CONSTRAINT,
        "kappa": [Interval(Real, -1, 1, closed="both")],
    }

    def __init__(
        self,
        kappa=0.99,
        *,
        window=3,
        stop_set_size=1000,
        random_state=0,
        min_labels=0,
    ):
        self.kappa = kappa
        self.window = window
        self.stop_set_size = stop_set_size
        self.random_state = random_state
        self.min_labels = min_labels

    def _observe(self, learner, X, stop_rows, unlabeled):
        return {"predictions": _predictions(learner, X, stop_rows)}

    def _decide(self, observations):
        pairs = _last_pairs(observations, self.window)
        if pairs is None:
            return None
        kappas = [
            prediction_kappa(a["predictions"], b["predictions"]) for a, b in pairs
        ]
        mean = float(np.mean(kappas))
        if mean >= self.kappa:
            return (
                f"StabilizingPredictions: mean kappa {mean:.4f} >= {self.kappa} "
                f"over the last {self.window} pairs of models"
            )
        return None


class ClassificationChange(BaseStoppingCriterion):
    """Stop when the predictions on the pool stop changing (Zhu et al. 2008).

    Compares the predicted labels of successive models on the stop-set rows
    that are unlabeled in both rounds; stops when at most a ``threshold``
    fraction of them changed, for ``window`` successive pairs.

    Parameters
    ----------
    threshold : float, default=0.0
        Largest fraction of changed predictions (0: none changed, as in the
        paper).
    window : int, default=1
        Successive pairs that must all stay under ``threshold``.
    stop_set_size : int or None, default=1000
        Rows of ``X`` watched; None watches every row.
    random_state : int, RandomState instance or None, default=0
        Chooses the watched rows (see the module notes for None).
    min_labels : int, default=0
        Never stop below this many labels.

    References
    ----------
    J. Zhu, H. Wang and E. Hovy, "Multi-criteria-based strategy to stop
    active learning for data annotation", COLING 2008.

    Examples
    --------
    >>> from skal.stopping import ClassificationChange
    >>> crit = ClassificationChange(threshold=0.25)
    >>> a = {"n_labels": 10, "predictions": [0, 1, 1, 0], "unlabeled": [1, 1, 1, 1]}
    >>> b = {"n_labels": 20, "predictions": [0, 1, 0, 0], "unlabeled": [1, 1, 1, 1]}
    >>> crit.decide([a, b])
    'ClassificationChange: 25.00 % of the pool rows changed prediction (<= 25.00 %)'
    """

    _parameter_constraints = {
        **_STOP_SET_CONSTRAINTS,
        **_WINDOW_CONSTRAINT,
        "threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        threshold=0.0,
        *,
        window=1,
        stop_set_size=1000,
        random_state=0,
        min_labels=0,
    ):
        self.threshold = threshold
        self.window = window
        self.stop_set_size = stop_set_size
        self.random_state = random_state
        self.min_labels = min_labels

    def _observe(self, learner, X, stop_rows, unlabeled):
        return {
            "predictions": _predictions(learner, X, stop_rows),
            "unlabeled": unlabeled,
        }

    def _decide(self, observations):
        pairs = _last_pairs(observations, self.window)
        if pairs is None:
            return None
        worst = 0.0
        for a, b in pairs:
            both = np.asarray(a["unlabeled"], bool) & np.asarray(b["unlabeled"], bool)
            if not both.any():
                return None
            pa, pb = np.asarray(a["predictions"]), np.asarray(b["predictions"])
            worst = max(worst, float(np.mean(pa[both] != pb[both])))
        if worst <= self.threshold:
            return (
                f"ClassificationChange: {100 * worst:.2f} % of the pool rows "
                f"changed prediction (<= {100 * self.threshold:.2f} %)"
            )
        return None


class OverallUncertainty(BaseStoppingCriterion):
    """Stop when the model is confident on the pool on average (Zhu et al. 2008).

    The uncertainty of a row is its normalised entropy
    (:func:`normalized_entropy`, 0 to 1); the criterion stops when the mean
    over the unlabeled stop-set rows falls to ``threshold``.

    Parameters
    ----------
    threshold : float, default=0.05
        Mean normalised entropy to reach.
    stop_set_size : int or None, default=1000
        Rows of ``X`` watched (their unlabeled part counts); None uses all.
    random_state : int, RandomState instance or None, default=0
        Chooses the watched rows (see the module notes for None).
    min_labels : int, default=0
        Never stop below this many labels.

    Examples
    --------
    >>> from skal.stopping import OverallUncertainty
    >>> crit = OverallUncertainty(threshold=0.1)
    >>> crit.decide([{"n_labels": 50, "uncertainty": 0.08}])
    'OverallUncertainty: mean normalised entropy 0.0800 <= 0.1 on the pool'
    """

    _parameter_constraints = {
        **_STOP_SET_CONSTRAINTS,
        "threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self, threshold=0.05, *, stop_set_size=1000, random_state=0, min_labels=0
    ):
        self.threshold = threshold
        self.stop_set_size = stop_set_size
        self.random_state = random_state
        self.min_labels = min_labels

    def _observe(self, learner, X, stop_rows, unlabeled):
        rows = stop_rows[unlabeled]
        h = normalized_entropy(_proba(learner, X, rows)) if rows.size else []
        return {"uncertainty": float(np.mean(h)) if len(h) else float("nan")}

    def _decide(self, observations):
        u = observations[-1]["uncertainty"]
        if not np.isnan(u) and u <= self.threshold:
            return (
                f"OverallUncertainty: mean normalised entropy {u:.4f} <= "
                f"{self.threshold} on the pool"
            )
        return None


class MaxConfidence(BaseStoppingCriterion):
    """Stop when even the least confident pool row is confident (Zhu et al. 2008).

    The confidence of a row is its largest predicted probability; the
    criterion stops when the smallest confidence over the unlabeled stop-set
    rows reaches ``threshold`` — the row an uncertainty strategy would ask
    about next is no longer uncertain.

    Parameters
    ----------
    threshold : float, default=0.9
        Confidence the least confident row must reach.
    stop_set_size : int or None, default=1000
        Rows of ``X`` watched (their unlabeled part counts); None uses all.
    random_state : int, RandomState instance or None, default=0
        Chooses the watched rows (see the module notes for None).
    min_labels : int, default=0
        Never stop below this many labels.

    Examples
    --------
    >>> from skal.stopping import MaxConfidence
    >>> MaxConfidence(threshold=0.8).decide([{"n_labels": 50, "min_confidence": 0.85}])
    'MaxConfidence: least confident pool row at 0.8500 >= 0.8'
    """

    _parameter_constraints = {
        **_STOP_SET_CONSTRAINTS,
        "threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self, threshold=0.9, *, stop_set_size=1000, random_state=0, min_labels=0
    ):
        self.threshold = threshold
        self.stop_set_size = stop_set_size
        self.random_state = random_state
        self.min_labels = min_labels

    def _observe(self, learner, X, stop_rows, unlabeled):
        rows = stop_rows[unlabeled]
        proba = _proba(learner, X, rows)
        conf = float(proba.max(axis=1).min()) if rows.size else float("nan")
        return {"min_confidence": conf}

    def _decide(self, observations):
        c = observations[-1]["min_confidence"]
        if not np.isnan(c) and c >= self.threshold:
            return (
                f"MaxConfidence: least confident pool row at {c:.4f} >= "
                f"{self.threshold}"
            )
        return None


class BudgetExhausted(BaseStoppingCriterion):
    """Stop at a number of labels, or when the pool is empty.

    Parameters
    ----------
    budget : int or None, default=None
        Labels to stop at; None uses the learner's ``budget`` (and only an
        empty pool stops a learner without one).
    min_labels : int, default=0
        Never stop below this many labels.

    Examples
    --------
    >>> from skal.stopping import BudgetExhausted
    >>> BudgetExhausted(100).decide([{"n_labels": 100, "n_pool": 900, "budget": 100}])
    'BudgetExhausted: 100 labels >= budget 100'
    """

    _parameter_constraints = {
        **BaseStoppingCriterion._parameter_constraints,
        "budget": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, budget=None, *, min_labels=0):
        self.budget = budget
        self.min_labels = min_labels

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.requires_model = False  # counts labels and rows only
        return tags

    def observe(self, learner, X, candidates=None):  # noqa: D102 - see base
        self._validate_params()
        budget = (
            self.budget if self.budget is not None else getattr(learner, "budget", None)
        )
        n_pool = _num_samples(X) if candidates is None else len(candidates)
        return {
            "n_labels": _n_labels(learner),
            "n_pool": int(n_pool),
            "budget": None if budget is None else int(budget),
        }

    observe.__doc__ = BaseStoppingCriterion.observe.__doc__

    def _decide(self, observations):
        last = observations[-1]
        if last["budget"] is not None and last["n_labels"] >= last["budget"]:
            return (
                f"BudgetExhausted: {last['n_labels']} labels >= budget {last['budget']}"
            )
        if last["n_pool"] == 0:
            return "BudgetExhausted: the pool is empty"
        return None


# ------------------------------------------------------------- combinators
class _Combination(_BaseComposition, BaseStoppingCriterion):
    """Named criteria combined; observations hold one per criterion."""

    _parameter_constraints = {
        **BaseStoppingCriterion._parameter_constraints,
        "criteria": [list],
    }

    def __init__(self, criteria, *, min_labels=0):
        self.criteria = criteria
        self.min_labels = min_labels

    @classmethod
    def from_criteria(cls, *criteria):
        """Combine criteria (flattening this kind), named as ``make_pipeline``."""
        flat = []
        for i, c in enumerate(criteria):
            if type(c) is cls and c.min_labels == 0:
                flat.extend(step for _, step in c.criteria)
            else:
                flat.append(_check_criterion(c, f"criterion {i}"))
        return cls(_name_estimators(flat))

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.requires_model = any(
            get_strategy_tags(c).requires_model for _, c in self.criteria
        )
        return tags

    def get_params(self, deep=True):
        return self._get_params("criteria", deep=deep)

    def set_params(self, **params):
        self._set_params("criteria", **params)
        return self

    def _checked(self):
        self._validate_params()
        if not self.criteria:
            raise ValueError(
                f"The 'criteria' parameter of {type(self).__name__} must hold at "
                "least one (name, criterion) pair; got an empty list."
            )
        for item in self.criteria:
            if not (
                isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            ):
                raise TypeError(
                    f"The 'criteria' parameter of {type(self).__name__} must be a "
                    f"list of (name, criterion) tuples; got {item!r}. Build it "
                    "with a | b or a & b to have the names chosen for you."
                )
            _check_criterion(item[1], f"criteria[{item[0]!r}]")
        self._validate_names([name for name, _ in self.criteria])
        return self.criteria

    def observe(self, learner, X, candidates=None):  # noqa: D102 - see base
        criteria = self._checked()
        model = getattr(learner, "model_fitted_", True)
        parts = [
            c.observe(learner, X, candidates)
            if model or not get_strategy_tags(c).requires_model
            else None
            for _, c in criteria
        ]
        return {"n_labels": _n_labels(learner), "criteria": parts}

    observe.__doc__ = BaseStoppingCriterion.observe.__doc__

    def _reasons(self, observations):
        reasons = []
        for i, (_, c) in enumerate(self._checked()):
            seq = [o["criteria"][i] for o in observations]
            # a criterion that needs a model starts after the first one
            while seq and seq[0] is None:
                seq.pop(0)
            reasons.append(None if not seq or seq[-1] is None else c.decide(seq))
        return reasons


def _check_criterion(c, name):
    if not (
        hasattr(c, "observe") and hasattr(c, "decide") and hasattr(c, "get_params")
    ):
        raise TypeError(
            f"The '{name}' parameter must be a skal stopping criterion (a "
            f"BaseStoppingCriterion instance); got {c!r} of type "
            f"{type(c).__name__}."
        )
    return c


class AnyOf(_Combination):
    """Stop as soon as any of the criteria says so.

    Built with ``|``: ``StabilizingPredictions() | BudgetExhausted(1000)``.

    Parameters
    ----------
    criteria : list of (str, criterion) tuples
        Named criteria; their parameters are reachable as
        ``<name>__<param>`` (``stopping__<name>__<param>`` in a learner).
    min_labels : int, default=0
        Never stop below this many labels.

    Examples
    --------
    >>> from skal.stopping import BudgetExhausted, StabilizingPredictions
    >>> crit = StabilizingPredictions() | BudgetExhausted(500)
    >>> [name for name, _ in crit.criteria]
    ['stabilizingpredictions', 'budgetexhausted']
    >>> crit.get_params()["stabilizingpredictions__kappa"]
    0.99
    """

    def _decide(self, observations):
        return next((r for r in self._reasons(observations) if r is not None), None)


class AllOf(_Combination):
    """Stop when every criterion says so at the same time.

    Built with ``&``: ``StabilizingPredictions() & OverallUncertainty()``.

    Parameters
    ----------
    criteria : list of (str, criterion) tuples
        Named criteria; their parameters are reachable as
        ``<name>__<param>``.
    min_labels : int, default=0
        Never stop below this many labels.

    Examples
    --------
    >>> from skal.stopping import BudgetExhausted
    >>> crit = BudgetExhausted(100) & BudgetExhausted(200)
    >>> obs = {"n_labels": 150, "criteria": [
    ...     {"n_labels": 150, "n_pool": 10, "budget": 100},
    ...     {"n_labels": 150, "n_pool": 10, "budget": 200}]}
    >>> crit.decide([obs]) is None
    True
    """

    def _decide(self, observations):
        reasons = self._reasons(observations)
        if all(r is not None for r in reasons):
            return " and ".join(reasons)
        return None


#: Former names (they shadowed :data:`typing.Any`): removed in 0.3.
Any = renamed_class(AnyOf, "Any")
All = renamed_class(AllOf, "All")
