"""The shared check suite every query strategy must pass.

:func:`check_strategy` runs the guarantees of skal's strategy contract as
hypothesis properties over generated pools (one row to thousands, duplicated
rows, constant and tied probabilities, 2 to 50 classes, ``n_instances`` above
the pool size):

1. exactly ``min(n_instances, len(candidates))`` indices;
2. no duplicates, all inside the candidates, never an already labeled row;
3. same ``random_state`` gives the same result, and a call leaves the strategy
   unchanged (stateless, clonable);
4. class-balanced strategies: per-class counts differ by at most one where the
   pool allows;
5. deterministic strategies are equivariant to a permutation of the pool.

The pools are built so that a generated row *is* its class-probability vector
(followed by free embedding features): :class:`ProbaFromX` returns the first
``n_classes`` columns as ``predict_proba``, so the tests control exactly what
the model predicts.

The suite reads the strategy protocol (:mod:`skal.base`: tags) and the model
adapters (:mod:`skal.models`), never the learner: its default learner is a
:class:`StoredPool`, and ``make_learner`` brings a real one.

The pools are generated with hypothesis, imported when a check runs: install
the ``checks`` extra (``pip install "skal-learn[checks]"``) to use the suite;
skal itself does not need hypothesis.
"""

from __future__ import annotations

import copy
import pickle
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import _num_samples

from ..base import get_strategy_tags
from ..models import get_adapter

__all__ = [
    "ProbaFromX",
    "StoredPool",
    "parametrize_with_checks",
    "check_strategy",
    "check_strategy_budget",
    "check_strategy_contract",
    "check_strategy_determinism",
    "check_strategy_class_balance",
    "check_strategy_permutation",
    "check_strategy_clone",
    "check_stopping_criterion",
    "check_stopping_clone",
    "check_stopping_determinism",
    "check_stopping_min_labels",
]


class ProbaFromX(ClassifierMixin, BaseEstimator):
    """A classifier whose ``predict_proba`` is the first columns of ``X``.

    Lets the check suite choose the model's probabilities row by row.

    Parameters
    ----------
    n_classes : int, default=2
        Number of leading columns of ``X`` that hold the probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.utils.estimator_checks import ProbaFromX
    >>> X = np.array([[0.2, 0.8, 5.0], [0.6, 0.4, -1.0]])
    >>> ProbaFromX(n_classes=2).fit(X, [0, 1]).predict(X)
    array([1, 0])
    """

    def __init__(self, n_classes=2):
        self.n_classes = n_classes

    def fit(self, X, y):
        X = np.asarray(X)
        self.classes_ = np.arange(self.n_classes)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        P = np.asarray(X, dtype=np.float64)[:, : self.n_classes]
        s = P.sum(axis=1, keepdims=True)
        return np.divide(P, s, out=np.full_like(P, 1.0 / self.n_classes), where=s > 0)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _hypothesis():
    """``(settings, given, st, scenarios, SETTINGS)``, imported when a check
    runs: hypothesis is needed by the check suite only (the ``checks``
    extra), never by skal itself."""
    try:
        from hypothesis import given, settings
        from hypothesis import strategies as st
    except ImportError as exc:
        raise ImportError(
            "skal's strategy check suite (skal.utils.estimator_checks) generates "
            "its pools with hypothesis, which is not installed. Install the "
            "'checks' extra: pip install \"skal-learn[checks]\"."
        ) from exc
    from ._check_pools import SETTINGS, scenarios

    return settings, given, st, scenarios, SETTINGS


class StoredPool(BaseEstimator):
    """What a strategy reads of a fitted learner, on a pool with labeled rows.

    The learner protocol (the attributes and model that skal's strategies and
    stopping criteria read from a fitted :class:`~skal.ActiveLearner`, through
    :mod:`skal.models` adapters): ``X_labeled_``, ``y_labeled_``,
    ``labeled_indices_``, ``pool_indices_``, ``classes_`` and the fitted
    ``estimator_``, here a :class:`ProbaFromX`. The check suite's default
    learner, so that the suite needs nothing from the layer above.

    Parameters
    ----------
    n_classes : int, default=2
        Width of the model's probability output.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import MarginSampling
    >>> from skal.utils.estimator_checks import StoredPool
    >>> X = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.2, 0.8]])
    >>> learner = StoredPool(n_classes=2).fit(X, labeled=[0])
    >>> learner.pool_indices_
    array([1, 2, 3])
    >>> MarginSampling()(learner, X, n_instances=1, candidates=learner.pool_indices_)
    array([1])
    """

    _is_skal_learner = True

    def __init__(self, n_classes=2):
        self.n_classes = n_classes

    def fit(self, X, labeled):
        """Store ``X`` with the rows ``labeled`` labeled (0, 1, 0, ...); with
        fewer than two, two rows labeled 0 and 1 outside the pool come first.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The stored data (``fit``'s ``X`` of a learner).
        labeled : array-like of int
            Labeled rows of ``X``; the others are the pool.

        Returns
        -------
        self : StoredPool
        """
        labeled = np.asarray(labeled, dtype=np.intp).reshape(-1)
        X_labeled, y = np.asarray(X)[labeled], np.arange(labeled.size) % 2
        if labeled.size < 2:
            # a learner has a model from two classes on: two rows taught
            # outside the stored pool (as ``teach`` of new rows does)
            X_labeled = np.concatenate([X_labeled[:0], X[:1], X[:1], X_labeled])
            y = np.r_[0, 1, y]
        self.estimator_ = ProbaFromX(self.n_classes).fit(X_labeled, y)
        self.model_fitted_ = True
        self.classes_ = self.estimator_.classes_
        self.labeled_indices_ = labeled
        self.X_labeled_ = X_labeled
        self.y_labeled_ = y
        self.pool_indices_ = np.setdiff1d(np.arange(_num_samples(X)), labeled)
        return self


def _stored_pool(X, labeled, n_classes):
    """The default ``make_learner``: a :class:`StoredPool`."""
    return StoredPool(n_classes).fit(X, labeled)


def _learner_and_pool(case, make_learner):
    """The learner fitted on the case's pool (``make_learner`` or a
    :class:`StoredPool`), ``X`` and the learner's pool indices."""
    X, labeled = case["X"], case["labeled"]
    learner = (make_learner or _stored_pool)(X, labeled, case["n_classes"])
    return learner, X, learner.pool_indices_


def _fingerprint(strategy):
    return pickle.dumps(strategy.get_params(deep=True)), repr(strategy)


def check_strategy_contract(strategy, *, make_learner=None, max_examples=20):
    """Guarantees 1 and 2 on the stored pool: exact count, distinct, in pool.

    Examples
    --------
    >>> from skal.strategies import RandomSampling
    >>> from skal.utils.estimator_checks import check_strategy_contract
    >>> check_strategy_contract(RandomSampling(), max_examples=3)
    """
    settings, given, st, scenarios, _SETTINGS = _hypothesis()

    @settings(max_examples=max_examples, **_SETTINGS)
    @given(case=scenarios())
    def run(case):
        learner, X, pool = _learner_and_pool(case, make_learner)
        k = case["n_instances"]
        sel = strategy(
            learner, X, n_instances=k, candidates=pool, random_state=case["seed"]
        )
        assert sel.shape == (min(k, pool.size),), (
            f"{strategy!r} returned {sel.shape[0]} indices; expected "
            f"min({k}, {pool.size})"
        )
        assert np.unique(sel).size == sel.size, f"{strategy!r} returned duplicates"
        assert np.isin(sel, pool).all(), f"{strategy!r} returned a labeled row"
        assert not np.isin(sel, learner.labeled_indices_).any()

    run()


def check_strategy_budget(strategy, *, make_learner=None, max_examples=20):
    """Guarantee 1 with explicit candidates, ``n_instances`` above their size.

    Examples
    --------
    >>> from skal.strategies import RandomSampling
    >>> from skal.utils.estimator_checks import check_strategy_budget
    >>> check_strategy_budget(RandomSampling(), max_examples=3)
    """
    settings, given, st, scenarios, _SETTINGS = _hypothesis()

    @settings(max_examples=max_examples, **_SETTINGS)
    @given(case=scenarios(), data=st.data())
    def run(case, data):
        learner, X, _ = _learner_and_pool(case, make_learner)
        n = X.shape[0]
        size = data.draw(st.integers(0, n))
        cand = np.random.RandomState(case["seed"]).permutation(n)[:size]
        k = data.draw(st.integers(1, n + 20))
        sel = strategy(
            learner, X, n_instances=k, candidates=cand, random_state=case["seed"]
        )
        assert sel.shape == (min(k, size),)
        assert np.unique(sel).size == sel.size
        assert np.isin(sel, cand).all()

    run()


def check_strategy_determinism(strategy, *, make_learner=None, max_examples=10):
    """Guarantee 3: same seed, same result; the call leaves the strategy as is.

    Examples
    --------
    >>> from skal.strategies import RandomSampling
    >>> from skal.utils.estimator_checks import check_strategy_determinism
    >>> check_strategy_determinism(RandomSampling(), max_examples=3)
    """
    settings, given, st, scenarios, _SETTINGS = _hypothesis()

    @settings(max_examples=max_examples, **_SETTINGS)
    @given(case=scenarios(max_rows=500))
    def run(case):
        learner, X, pool = _learner_and_pool(case, make_learner)
        before = _fingerprint(strategy)
        kw = dict(n_instances=case["n_instances"], candidates=pool)
        a = strategy(learner, X, random_state=case["seed"], **kw)
        b = strategy(learner, X, random_state=case["seed"], **kw)
        np.testing.assert_array_equal(a, b, err_msg=f"{strategy!r} not reproducible")
        c = strategy(learner, X, random_state=np.random.RandomState(case["seed"]), **kw)
        d = strategy(learner, X, random_state=np.random.RandomState(case["seed"]), **kw)
        np.testing.assert_array_equal(c, d, err_msg=f"{strategy!r} not reproducible")
        assert _fingerprint(strategy) == before, f"{strategy!r} changed when called"

    run()


def check_strategy_class_balance(strategy, *, make_learner=None, max_examples=20):
    """Guarantee 4: per predicted class, counts differ by at most one.

    A class may fall short only when all its candidates were selected.

    Examples
    --------
    >>> from skal.strategies import ClassBalanced, RandomSampling
    >>> from skal.utils.estimator_checks import check_strategy_class_balance
    >>> check_strategy_class_balance(ClassBalanced(RandomSampling()), max_examples=3)
    """
    settings, given, st, scenarios, _SETTINGS = _hypothesis()

    @settings(max_examples=max_examples, **_SETTINGS)
    @given(case=scenarios())
    def run(case):
        learner, X, pool = _learner_and_pool(case, make_learner)
        sel = strategy(
            learner,
            X,
            n_instances=case["n_instances"],
            candidates=pool,
            random_state=case["seed"],
        )
        pred_pool = get_adapter(learner).predict_proba(X, pool).argmax(axis=1)
        pred_sel = get_adapter(learner).predict_proba(X, sel).argmax(axis=1)
        classes, available = np.unique(pred_pool, return_counts=True)
        counts = np.array([(pred_sel == c).sum() for c in classes])
        open_ = counts < available
        if open_.any():
            assert counts.max() <= counts[open_].min() + 1, (
                f"{strategy!r} is not class-balanced: counts {counts.tolist()} "
                f"with {available.tolist()} available"
            )

    run()


def check_strategy_permutation(strategy, *, make_learner=None, max_examples=10):
    """Guarantee 5: a deterministic strategy commutes with pool permutations.

    Examples
    --------
    >>> from skal.strategies import MarginSampling
    >>> from skal.utils.estimator_checks import check_strategy_permutation
    >>> check_strategy_permutation(MarginSampling(), max_examples=3)
    """
    settings, given, st, scenarios, _SETTINGS = _hypothesis()

    @settings(max_examples=max_examples, **_SETTINGS)
    @given(case=scenarios(max_rows=500, distinct=True))
    def run(case):
        X, labeled = case["X"], case["labeled"]
        make = make_learner or _stored_pool
        learner = make(X, labeled, case["n_classes"])
        perm = np.random.RandomState(case["seed"]).permutation(X.shape[0])
        inv = np.argsort(perm)
        learner_p = make(X[perm], inv[labeled], case["n_classes"])
        k = case["n_instances"]
        a = strategy(
            learner,
            X,
            n_instances=k,
            candidates=learner.pool_indices_,
            random_state=1,
        )
        b = strategy(
            learner_p,
            X[perm],
            n_instances=k,
            candidates=learner_p.pool_indices_,
            random_state=2,
        )
        np.testing.assert_array_equal(
            np.sort(a),
            np.sort(perm[b]),
            err_msg=f"{strategy!r} is not permutation-equivariant",
        )

    run()


def check_strategy_clone(strategy):
    """Stateless parameters: clone, get/set_params round trip, pickling.

    Examples
    --------
    >>> from skal.strategies import RandomSampling
    >>> from skal.utils.estimator_checks import check_strategy_clone
    >>> check_strategy_clone(RandomSampling())
    """
    cloned = clone(strategy)
    assert type(cloned) is type(strategy)
    assert _fingerprint(cloned) == _fingerprint(strategy)
    params = strategy.get_params(deep=False)
    assert type(strategy)(**params).get_params(deep=False).keys() == params.keys()
    restored = pickle.loads(pickle.dumps(strategy))
    assert repr(restored) == repr(strategy)


def _yield_strategy_checks(strategy, *, make_learner=None, max_examples=20):
    """Every property of the suite as ``(check, reason)``: ``check(strategy)``
    runs it; ``reason`` says why it does not apply (None: it does)."""
    kw = dict(make_learner=make_learner)
    few = max(1, max_examples // 2)
    tags = get_strategy_tags(strategy)
    yield check_strategy_clone, None
    yield partial(check_strategy_contract, max_examples=max_examples, **kw), None
    yield partial(check_strategy_budget, max_examples=max_examples, **kw), None
    yield partial(check_strategy_determinism, max_examples=few, **kw), None
    yield (
        partial(check_strategy_class_balance, max_examples=max_examples, **kw),
        None if tags.class_balanced else "tag class_balanced is False",
    )
    yield (
        partial(check_strategy_permutation, max_examples=few, **kw),
        None if tags.deterministic else "tag deterministic is False",
    )


def _check_name(check):
    return getattr(check, "func", check).__name__


def check_strategy(strategy, *, make_learner=None, max_examples=20):
    """Run the whole check suite on ``strategy``; raise on the first failure.

    The properties that apply follow the strategy's tags
    (:func:`skal.base.get_strategy_tags`): class balance for
    ``class_balanced``, permutation equivariance for ``deterministic``.

    Parameters
    ----------
    strategy : BaseStrategy
        The strategy to check.
    make_learner : callable, default=None
        ``make_learner(X, labeled, n_classes)`` returning a fitted learner
        (an :class:`~skal.ActiveLearner` fitted on ``X`` with the rows
        ``labeled`` labeled, or any object with the same protocol); None uses
        a :class:`StoredPool` with a :class:`ProbaFromX` model.
    max_examples : int, default=20
        Hypothesis examples per property.

    See Also
    --------
    parametrize_with_checks : the same properties, one pytest test each.

    Examples
    --------
    >>> from skal.strategies import MarginSampling
    >>> from skal.utils.estimator_checks import check_strategy
    >>> check_strategy(MarginSampling(), max_examples=3)
    """
    for check, reason in _yield_strategy_checks(
        strategy, make_learner=make_learner, max_examples=max_examples
    ):
        if reason is None:
            check(strategy)


def parametrize_with_checks(strategies, *, make_learner=None, max_examples=20):
    """Pytest decorator: every property of the suite as its own test.

    Like scikit-learn's and imbalanced-learn's ``parametrize_with_checks``:
    the decorated test takes ``strategy`` and ``check`` and calls
    ``check(strategy)``. Each test id names the strategy (its position in
    ``strategies`` and its class) and the property, so a failure says which
    property broke; a property that does not apply under the strategy's tags
    is reported as skipped, with the reason.

    Parameters
    ----------
    strategies : list of BaseStrategy
        The strategies to check.
    make_learner : callable, default=None
        See :func:`check_strategy`.
    max_examples : int, default=20
        Hypothesis examples per property.

    Returns
    -------
    decorator : pytest.mark.parametrize
        Parametrizes ``strategy, check``.

    Examples
    --------
    >>> from skal.strategies import MarginSampling, RandomSampling
    >>> from skal.utils.estimator_checks import parametrize_with_checks
    >>> @parametrize_with_checks([MarginSampling(), RandomSampling()])
    ... def test_strategies(strategy, check):
    ...     check(strategy)
    >>> [p.id for p in test_strategies.pytestmark[0].args[1]][:2]
    ['0-MarginSampling-check_strategy_clone', '0-MarginSampling-check_strategy_contract']
    """  # noqa: E501
    import pytest

    params = []
    for i, strategy in enumerate(strategies):
        for check, reason in _yield_strategy_checks(
            strategy, make_learner=make_learner, max_examples=max_examples
        ):
            params.append(
                pytest.param(
                    strategy,
                    check,
                    id=f"{i}-{type(strategy).__name__}-{_check_name(check)}",
                    marks=[pytest.mark.skip(reason=reason)] if reason else [],
                )
            )
    return pytest.mark.parametrize("strategy, check", params)


# --------------------------------------------------------------------------
# stopping criteria
# --------------------------------------------------------------------------
def _observations(criterion, case, make_learner, n_rounds):
    """Observe ``n_rounds`` learners whose labeled set grows on one pool."""
    n = case["X"].shape[0]
    order = np.random.RandomState(case["seed"]).permutation(n)
    # from 2 labeled rows up (two classes), as a learner fits a model
    low = 2 if n >= 3 else 1
    sizes = np.unique(np.linspace(low, max(low, n - 1), n_rounds).astype(int))
    observations = []
    for size in sizes:
        learner, X_fit, pool = _learner_and_pool(
            {**case, "labeled": order[:size]}, make_learner
        )
        observations.append(criterion.observe(learner, X_fit, pool))
    return observations


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is b
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def check_stopping_clone(criterion):
    """Stateless parameters: clone, get/set_params round trip, pickling.

    Examples
    --------
    >>> from skal.stopping import StabilizingPredictions
    >>> from skal.utils.estimator_checks import check_stopping_clone
    >>> check_stopping_clone(StabilizingPredictions())
    """
    check_strategy_clone(criterion)
    assert "min_labels" in criterion.get_params(), (
        f"{criterion!r} has no 'min_labels' parameter"
    )


def check_stopping_determinism(criterion, *, make_learner=None, max_examples=10):
    """Same model, same observation and decision; calls leave the criterion as is.

    Examples
    --------
    >>> from skal.stopping import OverallUncertainty
    >>> from skal.utils.estimator_checks import check_stopping_determinism
    >>> check_stopping_determinism(OverallUncertainty(), max_examples=3)
    """
    settings, given, st, scenarios, _SETTINGS = _hypothesis()
    original = criterion

    @settings(max_examples=max_examples, report_multiple_bugs=False, **_SETTINGS)
    @given(case=scenarios(max_rows=500))
    def run(case):
        # each example watches a fresh copy, so a mutation shows every time
        criterion = copy.deepcopy(original)
        before = _fingerprint(criterion)
        a = _observations(criterion, case, make_learner, 4)
        b = _observations(criterion, case, make_learner, 4)
        assert _same(a, b), f"{criterion!r}.observe is not deterministic"
        kept = pickle.dumps(a)
        for j in range(len(a) + 1):
            first, second = criterion.decide(a[:j]), criterion.decide(a[:j])
            assert first == second, f"{criterion!r}.decide is not deterministic"
            assert first is None or (isinstance(first, str) and first), (
                f"{criterion!r}.decide must return None or a reason; got {first!r}"
            )
        assert criterion.decide([]) is None
        assert pickle.dumps(a) == kept, f"{criterion!r}.decide changed its input"
        assert _fingerprint(criterion) == before, f"{criterion!r} changed when called"

    run()


def check_stopping_min_labels(criterion, *, make_learner=None, max_examples=10):
    """Never a stop below ``min_labels`` labels; at or above, ``min_labels`` is moot.

    Examples
    --------
    >>> from skal.stopping import StabilizingPredictions
    >>> from skal.utils.estimator_checks import check_stopping_min_labels
    >>> check_stopping_min_labels(StabilizingPredictions(window=1), max_examples=3)
    """
    settings, given, st, scenarios, _SETTINGS = _hypothesis()

    @settings(max_examples=max_examples, report_multiple_bugs=False, **_SETTINGS)
    @given(case=scenarios(max_rows=500))
    def run(case):
        observations = _observations(criterion, case, make_learner, 6)
        free = clone(criterion).set_params(min_labels=0)
        for j in range(1, len(observations) + 1):
            seen = observations[:j]
            n = seen[-1]["n_labels"]
            strict = clone(criterion).set_params(min_labels=n + 1)
            assert strict.decide(seen) is None, (
                f"{criterion!r} stopped at {n} labels with min_labels={n + 1}"
            )
            loose = clone(criterion).set_params(min_labels=n)
            assert loose.decide(seen) == free.decide(seen)

    run()


def check_stopping_criterion(criterion, *, make_learner=None, max_examples=10):
    """Run the stopping-criterion check suite; raise on the first failure.

    Parameters
    ----------
    criterion : BaseStoppingCriterion
        The criterion to check.
    make_learner : callable, default=None
        As for :func:`check_strategy`.
    max_examples : int, default=10
        Hypothesis examples per property.

    Examples
    --------
    >>> from skal.stopping import ClassificationChange
    >>> from skal.utils.estimator_checks import check_stopping_criterion
    >>> check_stopping_criterion(ClassificationChange(), max_examples=2)
    """
    kw = dict(make_learner=make_learner, max_examples=max_examples)
    check_stopping_clone(criterion)
    check_stopping_determinism(criterion, **kw)
    check_stopping_min_labels(criterion, **kw)
