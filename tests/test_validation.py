"""One validation style: scikit-learn's parameter constraints, everywhere.

Every parameter of ActiveLearner is declared in ``_parameter_constraints`` and
checked at ``fit``; a bad value raises scikit-learn's ``InvalidParameterError``
(a ``ValueError`` and a ``TypeError``) that names the parameter, what was
expected and what was received.
"""

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError, StrOptions

from skal import ActiveLearner
from skal.base import BaseStrategy, check_n_instances
from skal.strategies import (
    ClassBalanced,
    ColdStartHybrid,
    MarginSampling,
    RandomSampling,
    StrategyPipeline,
    TopK,
)
from skal.utils._validation import Count, Described, StrategyInstance, check_int


@pytest.fixture(scope="module")
def seeded():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = np.full(40, -1)
    y[:6] = [0, 1, 0, 1, 0, 1]
    return X, y


def _my_strategy(learner, X, *, n_instances, candidates, random_state):
    return candidates[:n_instances]


# One or more bad values per parameter, and words the message must hold.
BAD = [
    ("estimator", 3, "a classifier"),
    ("estimator", "logreg", "a classifier"),
    ("strategy", "margin", r"FunctionStrategy\(func\)"),
    ("strategy", _my_strategy, r"FunctionStrategy\(func\)"),
    ("n_instances", 0, r"an int in the range \[1, inf\)"),
    ("n_instances", 2.5, r"an int in the range \[1, inf\)"),
    ("n_instances", True, r"an int in the range \[1, inf\)"),
    ("budget", -3, r"an int in the range \[1, inf\) or None"),
    ("budget", "10", r"an int in the range \[1, inf\) or None"),
    ("stopping", "kappa", r"a skal stopping criterion \(skal.stopping\) or None"),
    ("n_initial", 0, r"an int in the range \[1, inf\) or None"),
    ("n_initial", 1.0, r"an int in the range \[1, inf\) or None"),
    ("initial_strategy", "random", r"FunctionStrategy\(func\)"),
    ("warm_start", "yes", "an instance of 'bool'"),
    ("warm_start", 1, "an instance of 'bool'"),
    ("executor", "modal", r"a skal executor \(LocalExecutor\(\), ModalExecutor"),
    ("random_state", "seed", "numpy.random.mtrand.RandomState"),
    ("random_state", -1, r"an int in the range \[0, 4294967295\]"),
    ("verbose", -1, r"an int in the range \[0, inf\)"),
    ("verbose", "loud", r"an int in the range \[0, inf\)"),
    ("journal", 3, "an instance of 'str', an instance of 'os.PathLike' or None"),
    ("missing_label", [-1], r"a number \(-1 or NaN\), an instance of 'str' or None"),
    ("missing_label", True, r"a number \(-1 or NaN\), an instance of 'str' or None"),
    ("max_unlabeled", 0, r"an int in the range \[1, inf\) or None"),
    ("max_unlabeled", 1e4, r"an int in the range \[1, inf\) or None"),
    ("callbacks", "tqdm", r"a list of callbacks \(skal.callbacks\) or None"),
    ("classes", 3, "an array-like or None"),
]


def test_every_parameter_is_declared():
    """The constraints cover exactly the parameters: they cannot drift apart."""
    params = ActiveLearner(LogisticRegression()).get_params(deep=False)
    assert set(ActiveLearner._parameter_constraints) == set(params)


def test_every_parameter_has_a_bad_value_below():
    assert {name for name, _, _ in BAD} == set(ActiveLearner._parameter_constraints)


@pytest.mark.parametrize(
    "name, bad, expected",
    BAD,
    # a function's repr holds its address, which differs between xdist workers
    ids=[f"{n}={getattr(b, '__qualname__', None) or repr(b)}" for n, b, _ in BAD],
)
def test_bad_value_names_the_parameter(seeded, name, bad, expected):
    X, y = seeded
    params = {"estimator": LogisticRegression(), name: bad}
    learner = ActiveLearner(**params)
    with pytest.raises(InvalidParameterError) as info:
        learner.fit(X, y)
    msg = str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert re.search(
        rf"^The '{name}' parameter of ActiveLearner must be .*{expected}.* "
        rf"Got {re.escape(repr(bad))} instead",
        msg,
    ), msg
    assert not hasattr(learner, "estimator_")  # refused before any work


@pytest.mark.parametrize("name", ["strategy", "initial_strategy"])
def test_a_strategy_class_says_to_instantiate_it(seeded, name):
    X, y = seeded
    learner = ActiveLearner(LogisticRegression(), **{name: MarginSampling})
    with pytest.raises(
        InvalidParameterError,
        match=rf"^The '{name}' parameter of ActiveLearner must be a strategy "
        r"instance or None\. Got the class MarginSampling instead: pass "
        r"MarginSampling\(\)\.$",
    ):
        learner.fit(X, y)


def test_good_values_are_accepted(seeded, tmp_path):
    X, y = seeded
    learner = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=np.int64(2),
        n_initial=np.int32(3),
        initial_strategy=RandomSampling(),
        warm_start=np.bool_(False),
        random_state=np.random.RandomState(0),
        verbose=False,
        journal=Path(tmp_path / "labels.jsonl"),
        max_unlabeled=None,
    ).fit(X, y)
    assert learner.query().shape == (2,)
    for marker, y_marked in [
        (np.nan, np.where(y == -1, np.nan, y)),
        ("?", np.where(y == -1, "?", y.astype(str))),
        (None, np.array([None if v == -1 else v for v in y], dtype=object)),
    ]:
        fitted = ActiveLearner(LogisticRegression(), missing_label=marker)
        assert fitted.fit(X, y_marked).pool_indices_.shape == (34,)


def test_query_n_instances_names_the_learner(seeded):
    learner = ActiveLearner(LogisticRegression()).fit(*seeded)
    with pytest.raises(
        InvalidParameterError,
        match=r"^The 'n_instances' parameter of ActiveLearner must be an int in "
        r"the range \[1, inf\)\. Got 0 instead\.$",
    ):
        learner.query(n_instances=0)


def test_a_strategy_call_names_the_strategy(seeded):
    X, _ = seeded
    with pytest.raises(
        InvalidParameterError,
        match=r"^The 'n_instances' parameter of RandomSampling must be an int",
    ):
        RandomSampling()(None, X, n_instances=-1)


@pytest.mark.parametrize(
    "strategy, name, owner",
    [
        (TopK(MarginSampling, k=5), "strategy", "TopK"),
        (TopK(MarginSampling(), k=1.5), "k", "TopK"),
        (TopK(MarginSampling(), k=True), "k", "TopK"),
        (ClassBalanced("margin"), "strategy", "ClassBalanced"),
        (StrategyPipeline([("a", len)]), r"steps\['a'\]", "StrategyPipeline"),
        (ColdStartHybrid(k=0), "k", "ColdStartHybrid"),
        (ColdStartHybrid(random_share=True), "random_share", "ColdStartHybrid"),
        (ColdStartHybrid(hybrid="bald"), "hybrid", "ColdStartHybrid"),
    ],
)
def test_composite_strategies_name_the_parameter(seeded, strategy, name, owner):
    X, y = seeded
    learner = ActiveLearner(LogisticRegression(), strategy=strategy).fit(X, y)
    with pytest.raises(
        InvalidParameterError,
        match=rf"^The ['\"]{name}['\"] parameter of {owner} must be",
    ):
        learner.query()


# ----------------------------------------------------------- the constraints
@given(st.integers(-(2**40), 2**40), st.integers(-5, 5))
def test_count_is_an_int_at_least_low(value, low):
    assert Count(low).is_satisfied_by(value) == (value >= low)
    assert Count(low).is_satisfied_by(np.int64(value)) == (value >= low)
    if value >= low:
        assert check_int(value, "n", "Owner", low=low) == value
        assert type(check_int(np.int64(value), "n", "Owner", low=low)) is int
    else:
        with pytest.raises(ValueError, match=r"^The 'n' parameter of Owner must be"):
            check_int(value, "n", "Owner", low=low)


@given(
    st.one_of(
        st.booleans(),
        st.floats(allow_nan=True),
        st.text(max_size=3),
        st.none(),
        st.just(np.bool_(True)),
    )
)
def test_count_refuses_every_non_int(value):
    assert not Count(0).is_satisfied_by(value)
    with pytest.raises(TypeError, match=r"^The 'n_instances' parameter of X must"):
        check_n_instances(value, owner="X")


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans()))
def test_described_keeps_the_constraint_and_refuses_bools(value):
    from numbers import Real

    from sklearn.utils._param_validation import Interval

    inner = Interval(Real, 0, 1, closed="both")
    loose = Described(inner)
    strict = Described(inner, "a share", refuse_bool=True)
    assert loose.is_satisfied_by(value) == inner.is_satisfied_by(value)
    assert strict.is_satisfied_by(value) == (
        inner.is_satisfied_by(value) and not isinstance(value, bool)
    )
    assert str(loose) == str(inner) and str(strict) == "a share"


def test_strategy_instance():
    constraint = StrategyInstance()
    assert constraint.is_satisfied_by(MarginSampling())
    assert not constraint.is_satisfied_by(MarginSampling)
    assert not constraint.is_satisfied_by(_my_strategy)
    assert not constraint.is_satisfied_by("margin")


# ------------------------------------------- public functions: validate_params
def _required_args():
    X, y = np.zeros((8, 2)), np.array([0, 1] * 4)
    curve = {"n_labels": [1, 2, 4], "scores": [0.5, 0.6, 0.7]}
    random = {"random_n_labels": [1, 2, 4], "random_scores": [0.4, 0.5, 0.6]}
    return {"X": X, "y": y, **curve, **random, "target": 0.55}


def _public_functions():
    import inspect

    import skal.datasets
    import skal.metrics

    for module in (skal.datasets, skal.metrics):
        for name in module.__all__:
            func = getattr(module, name)
            for param in inspect.signature(func).parameters:
                yield pytest.param(func, param, id=f"{name}({param})")


@pytest.mark.parametrize("func, param", list(_public_functions()))
def test_public_functions_name_every_parameter(func, param):
    """Each parameter of skal.datasets / skal.metrics is declared: a value no
    constraint takes (a bare object) is refused by name before any work."""
    import inspect

    given = _required_args()
    sig = inspect.signature(func).parameters
    kwargs = {k: v for k, v in given.items() if k in sig and k != param}
    kwargs[param] = bad = object()
    with pytest.raises(
        InvalidParameterError,
        match=rf"^The '{param}' parameter of {func.__name__} must be .* Got "
        rf"{re.escape(repr(bad))} instead",
    ):
        func(**kwargs)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.make_mnist1d(n_samples=True),
        lambda d: d.add_near_duplicates(np.zeros((4, 2)), [0, 1, 0, 1], n_copies=True),
        lambda d: d.add_label_noise([0, 1, 0, 1], n_classes=1),
    ],
)
def test_dataset_counts_refuse_bools_and_small_ints(call):
    import skal.datasets

    with pytest.raises(InvalidParameterError, match=r"must be an int in the range"):
        call(skal.datasets)


def test_function_strategy_func_is_declared(seeded):
    from skal.strategies import FunctionStrategy

    with pytest.raises(
        InvalidParameterError,
        match=r"^The 'func' parameter of FunctionStrategy must be a callable\. "
        r"Got 'first' instead",
    ):
        FunctionStrategy("first")(None, seeded[0], n_instances=1)


# ------------------------------------------- BaseStrategy.__call__ validates
class _EveryOther(BaseStrategy):
    """A user's strategy: ``_query`` and ``_parameter_constraints`` only."""

    _parameter_constraints = {"step": [Count(1)], "where": [StrOptions({"a", "b"})]}

    def __init__(self, step=2, where="a"):
        self.step = step
        self.where = where

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        return candidates[:: self.step][:n_instances]


@pytest.mark.parametrize(
    "params, name",
    [({"step": 0}, "step"), ({"step": 1.5}, "step"), ({"where": "c"}, "where")],
    ids=["step-zero", "step-float", "where-unknown"],
)
def test_a_user_strategy_is_validated_at_its_first_call(params, name):
    X = np.zeros((10, 2))
    strategy = _EveryOther(**params)
    with pytest.raises(
        InvalidParameterError, match=rf"^The '{name}' parameter of _EveryOther must"
    ):
        strategy(None, X, n_instances=2)
    # even when there is nothing to select
    with pytest.raises(InvalidParameterError):
        strategy(None, X, n_instances=2, candidates=np.empty(0, dtype=int))
    # through a learner's query as well
    learner = ActiveLearner(LogisticRegression(), strategy=strategy)
    y = np.full(10, -1)
    y[:4] = [0, 1, 0, 1]
    with pytest.raises(InvalidParameterError, match=rf"'{name}' parameter"):
        learner.fit(np.arange(20.0).reshape(10, 2), y).query()


def test_a_user_strategy_with_good_parameters_runs():
    picks = _EveryOther(step=3)(None, np.zeros((10, 2)), n_instances=3)
    np.testing.assert_array_equal(picks, [0, 3, 6])


def test_parameter_validation_can_be_skipped_like_sklearns():
    from sklearn import config_context

    with config_context(skip_parameter_validation=True):
        picks = _EveryOther(where="c")(None, np.zeros((10, 2)), n_instances=2)
    np.testing.assert_array_equal(picks, [0, 2])


def test_score_validates_the_parameters():
    from skal.strategies import BALD

    with pytest.raises(InvalidParameterError, match="'n_mc_samples' parameter"):
        BALD(n_mc_samples=0).score(None, np.zeros((3, 1)))
