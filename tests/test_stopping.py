"""Stopping criteria: the shared check suite, the math, and the learner's use."""

import inspect
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

import skal.stopping as S
from skal import ActiveLearner
from skal.stopping import (
    AllOf,
    AnyOf,
    BaseStoppingCriterion,
    BudgetExhausted,
    ClassificationChange,
    MaxConfidence,
    OverallUncertainty,
    StabilizingPredictions,
    normalized_entropy,
    prediction_kappa,
)
from skal.strategies import MarginSampling
from skal.utils.estimator_checks import check_stopping_criterion


def _instances():
    for name in S.__all__:
        cls = getattr(S, name)
        if not inspect.isclass(cls) or not issubclass(cls, BaseStoppingCriterion):
            continue
        if cls is BaseStoppingCriterion:
            continue
        if cls in (AnyOf, AllOf):
            continue
        yield cls()
    yield StabilizingPredictions(kappa=0.5, window=1, stop_set_size=7)
    yield StabilizingPredictions(0.99) | BudgetExhausted(20)
    yield ClassificationChange(threshold=0.1) & OverallUncertainty(threshold=0.9)


CRITERIA = list(_instances())


def test_every_public_criterion_is_discovered():
    names = {type(c).__name__ for c in CRITERIA}
    expected = {
        n
        for n in S.__all__
        if inspect.isclass(getattr(S, n))
        and issubclass(getattr(S, n), BaseStoppingCriterion)
        and n != "BaseStoppingCriterion"
    }
    assert expected <= names


@pytest.mark.parametrize(
    "criterion",
    CRITERIA,
    ids=[f"{i}-{type(c).__name__}" for i, c in enumerate(CRITERIA)],
)
def test_stopping_check_suite(criterion):
    check_stopping_criterion(criterion, max_examples=8)


class _IgnoresMinLabels(StabilizingPredictions):
    def decide(self, observations):
        return self._decide(list(observations)) if observations else None


class _Remembers(StabilizingPredictions):
    def decide(self, observations):
        self.kappa = 0.5  # mutates itself
        return super().decide(observations)


def test_check_suite_catches_a_criterion_ignoring_min_labels():
    with pytest.raises(AssertionError, match="min_labels"):
        check_stopping_criterion(_IgnoresMinLabels(kappa=0.0, window=1), max_examples=8)


def test_check_suite_catches_a_criterion_that_mutates_itself():
    with pytest.raises(AssertionError, match="changed when called"):
        check_stopping_criterion(_Remembers(), max_examples=4)


# ---------------------------------------------------------------- the math
@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    a=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    data=st.data(),
)
def test_prediction_kappa_bounds_symmetry_identity(a, data):
    b = data.draw(st.lists(st.integers(0, 3), min_size=len(a), max_size=len(a)))
    k = prediction_kappa(a, b)
    assert -1.0 <= k <= 1.0
    assert k == pytest.approx(prediction_kappa(b, a))
    assert prediction_kappa(a, a) == 1.0
    if k == 1.0:
        # full agreement up to a relabeling is impossible for kappa: equal
        assert a == b or len(set(a)) == 1 == len(set(b))


def test_prediction_kappa_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        prediction_kappa([0, 1], [0, 1, 1])


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(2, 12), st.integers(0, 2**31 - 1))
def test_normalized_entropy_in_unit_interval(n_classes, seed):
    P = np.random.RandomState(seed).dirichlet(np.ones(n_classes), size=20)
    h = normalized_entropy(P)
    assert ((h >= -1e-12) & (h <= 1 + 1e-12)).all()
    assert normalized_entropy(np.full((1, n_classes), 1 / n_classes))[0] == (
        pytest.approx(1.0)
    )


def _obs(n, preds, unlabeled=None):
    preds = np.asarray(preds)
    return {
        "n_labels": n,
        "predictions": preds,
        "unlabeled": np.ones(preds.size, bool) if unlabeled is None else unlabeled,
    }


def test_stabilizing_predictions_needs_window_plus_one_models():
    crit = StabilizingPredictions(kappa=0.99, window=3)
    same = [_obs(10 * i, [0, 1, 2, 1]) for i in range(1, 5)]
    assert crit.decide(same[:3]) is None
    assert "kappa 1.0000" in crit.decide(same)
    moving = [*same[:3], _obs(40, [1, 1, 2, 1])]  # the last pair disagrees
    assert crit.decide(moving) is None


def test_classification_change_counts_rows_unlabeled_in_both_rounds():
    a = _obs(10, [0, 1, 1, 0], np.array([1, 1, 1, 1], bool))
    b = _obs(20, [1, 1, 1, 0], np.array([0, 1, 1, 1], bool))  # row 0 got labeled
    assert ClassificationChange(threshold=0.0).decide([a, b]) is not None
    c = _obs(20, [1, 1, 1, 0])
    assert ClassificationChange(threshold=0.2).decide([a, c]) is None


def test_uncertainty_and_confidence_thresholds():
    assert OverallUncertainty(0.1).decide([{"n_labels": 5, "uncertainty": 0.2}]) is None
    assert (
        OverallUncertainty(0.1).decide([{"n_labels": 5, "uncertainty": np.nan}]) is None
    )
    assert MaxConfidence(0.9).decide([{"n_labels": 5, "min_confidence": 0.95}])
    assert MaxConfidence(0.9).decide([{"n_labels": 5, "min_confidence": 0.5}]) is None


def test_operators_build_named_flat_combinations():
    crit = StabilizingPredictions() | BudgetExhausted(100) | MaxConfidence()
    assert isinstance(crit, AnyOf)
    assert [n for n, _ in crit.criteria] == [
        "stabilizingpredictions",
        "budgetexhausted",
        "maxconfidence",
    ]
    both = StabilizingPredictions() & OverallUncertainty()
    assert isinstance(both, AllOf)
    assert clone(crit).get_params()["budgetexhausted__budget"] == 100
    with pytest.raises(TypeError, match="stopping criterion"):
        StabilizingPredictions() | "soon"


def test_invalid_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="'kappa' parameter of StabilizingPredictions"):
        StabilizingPredictions(kappa=2.0).decide([{"n_labels": 1, "predictions": [0]}])
    with pytest.raises(ValueError, match="'criteria' parameter of AnyOf"):
        AnyOf([]).decide([{"n_labels": 1, "criteria": []}])
    with pytest.raises(TypeError, match="list of \\(name, criterion\\) tuples"):
        AnyOf([BudgetExhausted()]).decide([{"n_labels": 1, "criteria": [None]}])


# ------------------------------------------------------ names and seeds (29)
def test_former_combination_names_warn_and_still_work():
    """Any / All (which shadowed typing.Any) are aliases of AnyOf / AllOf
    until 0.3: a FutureWarning, then the same behaviour, clone and pickle."""
    for old, new in ((S.Any, AnyOf), (S.All, AllOf)):
        with pytest.warns(FutureWarning, match=f"renamed {new.__name__}"):
            crit = old([("b", BudgetExhausted(10))])
        assert isinstance(crit, new)
        obs = [
            {"n_labels": 10, "criteria": [{"n_labels": 10, "n_pool": 5, "budget": 10}]}
        ]
        assert crit.decide(obs) is not None
        with pytest.warns(FutureWarning):
            assert clone(crit).get_params()["b__budget"] == 10
    assert "Any" not in S.__all__ and "All" not in S.__all__


def test_requires_model_is_a_tag():
    from skal.base import get_strategy_tags

    assert get_strategy_tags(StabilizingPredictions()).requires_model
    assert not get_strategy_tags(BudgetExhausted()).requires_model
    assert not get_strategy_tags(BudgetExhausted() | BudgetExhausted(5)).requires_model
    assert get_strategy_tags(BudgetExhausted() | MaxConfidence()).requires_model
    assert not hasattr(BaseStoppingCriterion, "_needs_model")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_rows=st.integers(5, 60))
def test_random_state_as_sklearn_takes_it(seed, n_rows):
    """An int and a RandomState instance give the same stop set; an instance
    is not consumed (the rows stay the same round after round)."""
    size = min(4, n_rows)
    by_int = StabilizingPredictions(stop_set_size=size, random_state=seed)
    rng = np.random.RandomState(seed)
    by_rng = StabilizingPredictions(stop_set_size=size, random_state=rng)
    first = by_rng._stop_rows(n_rows)
    np.testing.assert_array_equal(first, by_int._stop_rows(n_rows))
    np.testing.assert_array_equal(first, by_rng._stop_rows(n_rows))
    assert rng.randint(2**31 - 1) == np.random.RandomState(seed).randint(2**31 - 1)
    rows = StabilizingPredictions(stop_set_size=size, random_state=None)._stop_rows(
        n_rows
    )
    assert rows.shape == (size,) and np.all(np.diff(rows) > 0)
    with pytest.raises(ValueError, match="'random_state' parameter"):
        StabilizingPredictions(random_state="seed").decide([{"n_labels": 1}])


# ------------------------------------------------------------- the learner
def _data(n=400, seed=0, spread=4.0):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=spread, size=(3, 5))
    y = rng.randint(0, 3, size=n)
    return centers[y] + rng.normal(size=(n, 5)), y


def _sim(**kw):
    params = dict(strategy=MarginSampling(), n_instances=10, budget=200, random_state=0)
    params.update(kw)
    return ActiveLearner(LogisticRegression(), **params)


def test_simulation_stops_when_the_criterion_fires_and_records_why():
    X, y = _data()
    full = _sim().fit(X, y)
    stopped = _sim(stopping=StabilizingPredictions(kappa=0.99, window=2)).fit(X, y)
    last = stopped.history_[-1]
    assert last["stop_reason"].startswith("StabilizingPredictions")
    assert last["n_labels"] < 200
    assert stopped.should_stop() and stopped.stop_reason_ == last["stop_reason"]
    assert all(r["stop_reason"] is None for r in stopped.history_[:-1])
    assert len(stopped.y_labeled_) == last["n_labels"]
    # one observation per refit, and the criterion's decision replays from them
    obs = stopped.stop_observations_
    assert [o["n_labels"] for o in obs] == [r["n_labels"] for r in stopped.history_]
    assert stopped.stopping.decide(obs) == last["stop_reason"]
    assert stopped.stopping.decide(obs[:-1]) is None
    # stopping only ends the loop: the rounds are those of the full run
    for a, b in zip(stopped.history_, full.history_, strict=False):
        np.testing.assert_array_equal(a["indices"], b["indices"])
    assert "stop_reason" not in full.history_[-1]
    assert not full.should_stop()


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.integers(10, 150))
def test_simulation_never_stops_below_min_labels(min_labels):
    X, y = _data(200)
    crit = StabilizingPredictions(kappa=0.0, window=1, min_labels=min_labels)
    learner = _sim(stopping=crit, budget=180).fit(X, y)
    stops = [r for r in learner.history_ if r["stop_reason"] is not None]
    assert len(stops) == 1
    assert stops[0]["n_labels"] >= min_labels
    assert stops[0]["n_labels"] < min_labels + 10 + 10  # the first round allowed


def test_budget_exhausted_in_simulation_and_resume_after_a_stop():
    X, y = _data()
    learner = _sim(stopping=BudgetExhausted(50)).fit(X, y)
    assert learner.history_[-1]["n_labels"] == 50
    assert learner.stop_reason_ == "BudgetExhausted: 50 labels >= budget 50"
    n_rounds = len(learner.history_)
    learner.resume()  # a stopped simulation stays stopped
    assert len(learner.history_) == n_rounds
    learner.set_params(stopping=None).resume()
    assert learner.history_[-1]["n_labels"] == 200


def test_interactive_should_stop_and_teach_keeps_working():
    X, y = _data()
    y_seed = np.full_like(y, -1)
    first = [np.flatnonzero(y == c)[0] for c in range(3)]
    y_seed[first] = y[first]
    learner = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=20,
        stopping=StabilizingPredictions(kappa=0.95, window=2),
        random_state=0,
    ).fit(X, y_seed)
    assert not learner.should_stop()
    for _ in range(15):
        if learner.should_stop():
            break
        idx = learner.query()
        learner.teach(y=y[idx], indices=idx)
    assert learner.should_stop()
    n = len(learner.y_labeled_)
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)  # the human may go on
    assert len(learner.y_labeled_) == n + 20
    assert isinstance(learner.should_stop(), bool)


def test_without_stopping_should_stop_is_false():
    X, y = _data(60)
    learner = ActiveLearner(LogisticRegression()).fit(X, y)
    assert learner.should_stop() is False
    assert learner.stop_reason_ is None


def test_stopping_is_grid_searchable():
    X, y = _data(300, spread=0.7)  # overlapping classes: predictions keep moving
    search = GridSearchCV(
        _sim(budget=150, stopping=StabilizingPredictions(window=1)),
        {"stopping__kappa": [0.0, 0.999]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["stopping__kappa"] in (0.0, 0.999)
    eager = search.best_estimator_.set_params(stopping__kappa=0.0).fit(X, y)
    patient = clone(eager).set_params(stopping__kappa=1.0).fit(X, y)
    assert eager.history_[-1]["n_labels"] < patient.history_[-1]["n_labels"]


def test_learner_with_stopping_clones_and_pickles():
    learner = _sim(stopping=StabilizingPredictions(0.9) | BudgetExhausted(80))
    assert learner.get_params()["stopping__stabilizingpredictions__kappa"] == 0.9
    X, y = _data(200)
    fitted = pickle.loads(pickle.dumps(learner.fit(X, y)))
    assert fitted.should_stop()
    assert clone(learner).stopping is not learner.stopping


def test_bad_stopping_parameter_is_named():
    X, y = _data(60)
    with pytest.raises(TypeError, match="'stopping' parameter of ActiveLearner"):
        ActiveLearner(LogisticRegression(), stopping="kappa").fit(X, y)


def test_saved_session_keeps_the_criterion(tmp_path):
    X, y = _data(200)
    learner = _sim(stopping=StabilizingPredictions(0.9) | BudgetExhausted(60)).fit(X, y)
    learner.save(tmp_path / "s.zip")
    loaded = ActiveLearner.load(tmp_path / "s.zip")
    assert loaded.get_params()["stopping__budgetexhausted__budget"] == 60
    assert loaded.history_[-1]["stop_reason"] == learner.history_[-1]["stop_reason"]


def test_a_skorch_net_is_read_through_the_adapters():
    from skal.utils._testing import MLP, make_net

    X, y = _data(150)
    crit = StabilizingPredictions(kappa=0.5, window=1) | OverallUncertainty(0.5)
    learner = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=3),
        strategy=MarginSampling(),
        n_instances=20,
        budget=100,
        stopping=crit,
        random_state=0,
    ).fit(X.astype(np.float32), y)
    obs = learner.stop_observations_
    assert len(obs) == len(learner.history_)
    preds = obs[-1]["criteria"][0]["predictions"]
    assert preds.shape == (150,) and set(np.unique(preds)) <= {0, 1, 2}
    assert 0.0 <= obs[-1]["criteria"][1]["uncertainty"] <= 1.0
