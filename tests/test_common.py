"""Both check suites over everything public.

* skal's strategy check suite
  (:func:`skal.utils.estimator_checks.parametrize_with_checks`: one test per
  property) over every public strategy, discovered from
  ``skal.strategies.__all__``, so a new strategy is tested the moment it
  exists;
* scikit-learn's ``parametrize_with_checks`` over ActiveLearner configurations.
"""

import inspect
from numbers import Real

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.estimator_checks import parametrize_with_checks

import skal.strategies as S
from skal import ActiveLearner
from skal.base import BaseStrategy, top_k
from skal.stopping import BudgetExhausted, StabilizingPredictions
from skal.utils import estimator_checks as skal_checks
from skal.utils._testing import MLP, make_net
from skal.utils.estimator_checks import check_strategy


def _first_rows(learner, X, *, n_instances, candidates, random_state):
    return np.sort(candidates)[:n_instances]


# Arguments for strategies that cannot be built without one.
_REQUIRED = {
    "strategy": lambda: S.MarginSampling(),
    "steps": lambda: [
        ("topk", S.TopK(S.MarginSampling(), k=5)),
        ("random", S.RandomSampling()),
    ],
    "func": lambda: _first_rows,
}


def _instances():
    for name in S.__all__:
        cls = getattr(S, name)
        if not (inspect.isclass(cls) and issubclass(cls, BaseStrategy)):
            continue
        sig = inspect.signature(cls.__init__)
        kwargs = {
            p: _REQUIRED[p]()
            for p, v in sig.parameters.items()
            if p != "self"
            and v.default is inspect.Parameter.empty
            and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)
        }
        yield cls(**kwargs)
    # composites worth checking on their own
    yield S.ClassBalanced(S.RandomSampling())
    yield S.TopK(S.EntropySampling(), k=0.3) | S.ClassBalanced(S.MarginSampling())
    # a user's strategy: _parameter_constraints and _query, nothing else
    yield _FarFromTheMean(power=2.0)


class _FarFromTheMean(BaseStrategy):
    _parameter_constraints = {"power": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, power=1.0):
        self.power = power

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        rows = np.asarray(X)[candidates]
        far = np.linalg.norm(rows - rows.mean(0), axis=1) ** self.power
        return candidates[top_k(far, n_instances, random_state)]


STRATEGIES = list(_instances())


def test_every_public_strategy_is_discovered():
    names = {type(s).__name__ for s in STRATEGIES}
    expected = {n for n in S.__all__ if inspect.isclass(getattr(S, n))}
    assert expected <= names


@skal_checks.parametrize_with_checks(STRATEGIES, max_examples=15)
def test_strategy_check_suite(strategy, check):
    check(strategy)


def test_one_test_per_property():
    """Each property is its own test id; those that do not apply under the
    strategy's tags are skipped with the reason."""
    marker = skal_checks.parametrize_with_checks(
        [S.MarginSampling(), S.RandomSampling()]
    )
    params = marker.args[1]
    ids = [p.id for p in params]
    assert len(ids) == len(set(ids)) == 12
    assert "0-MarginSampling-check_strategy_permutation" in ids
    skipped = {p.id: p.marks[0].kwargs["reason"] for p in params if p.marks}
    assert skipped == {
        "0-MarginSampling-check_strategy_class_balance": "tag class_balanced is False",
        "1-RandomSampling-check_strategy_class_balance": "tag class_balanced is False",
        "1-RandomSampling-check_strategy_permutation": "tag deterministic is False",
    }


def _ignores_candidates(learner, X, *, n_instances, candidates, random_state):
    return np.arange(n_instances)


class _Unbalanced(S.MarginSampling):
    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.class_balanced = True
        return tags


def test_check_suite_catches_a_broken_strategy():
    """The suite must fail a strategy that ignores the candidates."""
    with pytest.raises((AssertionError, RuntimeError)):
        check_strategy(S.FunctionStrategy(_ignores_candidates), max_examples=10)


def test_check_suite_catches_an_unbalanced_strategy():
    with pytest.raises(AssertionError, match="not class-balanced"):
        check_strategy(_Unbalanced(), max_examples=15)


# ------------------------------------------------------------ scikit-learn
_MINUS_ONE = (
    "-1 marks unlabeled rows (as in SelfTrainingClassifier), so the check's "
    "labels {-1, 1} leave a single labeled class"
)
_ALL_NAN = (
    "NaN marks unlabeled rows (missing_label='auto'), so y all NaN is a cold "
    "start with every row in the pool, not an error"
)
_SKORCH_FAILS = {
    "check_classifiers_classes": _MINUS_ONE,
    "check_supervised_y_no_nan": _ALL_NAN,
    "check_sample_weight_equivalence_on_dense_data": "no sample_weight in skorch",
    "check_sample_weight_equivalence_on_sparse_data": "no sample_weight in skorch",
    "check_estimator_sparse_array": "the MLP module takes dense tensors only",
    "check_estimator_sparse_matrix": "the MLP module takes dense tensors only",
    "check_estimator_sparse_tag": "the MLP module takes dense tensors only",
    "check_classifiers_one_label": (
        "a skorch net trains on a single class without complaint"
    ),
    "check_classifiers_train": (
        "the net's output size is fixed at 3 classes, the check uses 2 as well"
    ),
    "check_classifier_multioutput": "skorch nets do not validate targets",
    "check_classifiers_predictions": (
        "the net's output size is fixed at 3 classes, the check uses 2"
    ),
    "check_dtype_object": "torch cannot take object arrays",
    "check_complex_data": "torch accepts complex tensors",
}


def _expected_failed(estimator):
    from skal.models import is_skorch_net

    if is_skorch_net(estimator.estimator):
        return _SKORCH_FAILS
    if estimator.budget is not None:  # a simulation: y is the oracle
        return {"check_classifiers_classes": _MINUS_ONE}
    return {
        "check_classifiers_classes": _MINUS_ONE,
        "check_supervised_y_no_nan": _ALL_NAN,
    }


@parametrize_with_checks(
    [
        ActiveLearner(LogisticRegression(), random_state=0),
        ActiveLearner(
            make_pipeline(StandardScaler(), LogisticRegression()),
            strategy=S.EntropySampling(),
            random_state=0,
        ),
        ActiveLearner(
            LogisticRegression(),
            strategy=S.MarginSampling(),
            n_instances=5,
            budget=30,
            random_state=0,
        ),
        ActiveLearner(
            LogisticRegression(),
            strategy=S.MarginSampling(),
            n_instances=5,
            budget=30,
            stopping=StabilizingPredictions(window=1) | BudgetExhausted(20),
            random_state=0,
        ),
        ActiveLearner(
            make_net(MLP, n_classes=3, max_epochs=2),
            strategy=S.MarginSampling(),
            random_state=0,
        ),
    ],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_check_suite_names_the_extra_without_hypothesis():
    """skal imports without hypothesis; the check suite, when run, says which
    extra brings it (issue 29)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import skal, skal.strategies, skal.stopping\n"
        "from skal.utils.estimator_checks import check_strategy\n"
        "from skal.strategies import RandomSampling\n"
        "try:\n"
        "    check_strategy(RandomSampling(), max_examples=1)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert 'pip install "skal-learn[checks]"' in out and "hypothesis" in out
