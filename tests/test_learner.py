"""ActiveLearner: user workflows and error messages."""

import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skal import ActiveLearner
from skal.strategies import (
    EntropySampling,
    LeastConfidence,
    MarginSampling,
    RandomSampling,
    TopK,
)
from skal.utils._testing import MLP, SmallCNN, make_net
from skal.utils._testing import seed_labels as _seed_labels


# ------------------------------------------------------------------ workflows
def test_human_in_the_loop_never_requeries(tabular):
    X, y = tabular
    learner = ActiveLearner(
        LogisticRegression(), strategy=MarginSampling(), n_instances=10, random_state=0
    )
    learner.fit(X, _seed_labels(y))
    seen = set(learner.labeled_indices_.tolist())
    for _ in range(5):
        idx = learner.query()
        assert len(idx) == 10 and len(set(idx)) == 10
        assert not seen & set(idx.tolist())
        learner.teach(y=y[idx], indices=idx)
        seen |= set(idx.tolist())
    assert len(learner.y_labeled_) == 6 + 50
    assert set(learner.pool_indices_.tolist()).isdisjoint(seen)
    assert len(learner.pool_indices_) + len(seen) == len(X)
    # rows taught from outside the pool (teach(X, y)) also count
    learner.teach(X[:3], y[:3])
    assert len(learner.y_labeled_) == 59
    np.testing.assert_array_equal(learner.y_labeled_[-3:], y[:3])


def test_query_external_pool_and_n_instances(tabular):
    X, y = tabular
    learner = ActiveLearner(
        LogisticRegression(), strategy=EntropySampling(), random_state=0
    ).fit(X[:60], y[:60])
    idx = learner.query(X[60:], n_instances=7)
    assert idx.shape == (7,) and idx.max() < 240
    # asking for more than the pool has returns all of it, once
    assert sorted(learner.query(X[:5], n_instances=50).tolist()) == [0, 1, 2, 3, 4]


def test_skorch_net_human_loop_images(digits_images):
    X, y = digits_images
    net = make_net(SmallCNN, n_classes=10, max_epochs=3)
    learner = ActiveLearner(
        net, strategy=MarginSampling(), n_instances=20, random_state=0
    ).fit(X, _seed_labels(y))
    assert net.initialized_ is False  # the user's net is never fitted
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    assert learner.predict_proba(X[:5]).shape == (5, 10)
    assert learner.X_labeled_.shape == (40, 1, 8, 8)
    assert learner.estimator_.device == "cpu"


def test_sequences_for_1d_net():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2, 16)).astype(np.float32)
    y = (X[:, 0].mean(axis=1) > 0).astype(np.int64)
    net = make_net(SmallCNN, n_classes=2, dim=1, in_channels=2, max_epochs=3)
    sim = ActiveLearner(
        net, strategy=LeastConfidence(), n_instances=20, budget=80, random_state=0
    ).fit(X, y)
    assert [h["n_labels"] for h in sim.history_] == [20, 40, 60, 80]


def test_simulation_history_and_budget(tabular):
    X, y = tabular
    sim = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=15,
        n_initial=20,
        budget=80,
        random_state=0,
    )
    sim.fit(X, y, eval_set=(X, y))
    assert [h["n_labels"] for h in sim.history_] == [20, 35, 50, 65, 80]
    assert len(sim.y_labeled_) == 80
    chosen = np.concatenate([h["indices"] for h in sim.history_])
    assert np.unique(chosen).size == 80
    np.testing.assert_array_equal(np.sort(chosen), np.sort(sim.labeled_indices_))
    np.testing.assert_array_equal(sim.y_labeled_, y[chosen])
    for h in sim.history_:
        assert h["fit_seconds"] >= 0 and h["query_seconds"] >= 0
        assert 0 <= h["score"] <= 1
    # the final model is the one trained on the selected rows
    ref = LogisticRegression().fit(X[chosen], y[chosen])
    np.testing.assert_allclose(sim.predict_proba(X), ref.predict_proba(X))


def test_simulation_is_bit_identical_with_skorch(tabular):
    X, y = tabular

    def run():
        sim = ActiveLearner(
            make_net(MLP, n_classes=3, max_epochs=3),
            strategy=MarginSampling(),
            n_instances=10,
            budget=40,
            random_state=3,
        )
        return sim.fit(X, y)

    a, b = run(), run()
    for ha, hb in zip(a.history_, b.history_):
        np.testing.assert_array_equal(ha["indices"], hb["indices"])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=3),
        strategy=MarginSampling(),
        n_instances=10,
        budget=40,
        random_state=4,
    ).fit(X, y)
    assert not np.array_equal(c.labeled_indices_, a.labeled_indices_)


def test_random_state_does_not_touch_global_torch_rng(tabular):
    import torch

    X, y = tabular
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=1),
        n_instances=10,
        budget=20,
        random_state=0,
    ).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_gridsearch_over_strategy_and_nested_params_with_skorch(tabular):
    X, y = tabular
    sim = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=3),
        strategy=MarginSampling(),
        n_instances=10,
        budget=30,
        random_state=0,
    )
    grid = GridSearchCV(
        sim,
        [
            {"strategy": [MarginSampling(), RandomSampling()]},
            {
                "strategy": [TopK(EntropySampling(), k=50) | RandomSampling()],
                "strategy__topk__k": [20, 100],
            },
        ],
        cv=2,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    k_values = [p.get("strategy__topk__k") for p in grid.cv_results_["params"]]
    assert k_values[2:] == [20, 100]
    assert grid.best_estimator_.history_[-1]["n_labels"] == 30


def test_cross_val_score_simulation(tabular):
    X, y = tabular
    sim = ActiveLearner(
        LogisticRegression(),
        strategy=EntropySampling(),
        n_instances=10,
        budget=40,
        random_state=0,
    )
    scores = cross_val_score(sim, X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores > 0.3) & (scores <= 1))


def test_clone_and_pickle_roundtrip(tabular):
    X, y = tabular
    learner = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=2),
        strategy=TopK(MarginSampling(), k=30) | RandomSampling(),
        n_instances=5,
        random_state=0,
    ).fit(X, _seed_labels(y))
    c = clone(learner)
    assert not hasattr(c, "estimator_")
    assert c.get_params()["strategy__topk__k"] == 30
    restored = pickle.loads(pickle.dumps(learner))
    np.testing.assert_array_equal(restored.predict_proba(X), learner.predict_proba(X))
    np.testing.assert_array_equal(restored.pool_indices_, learner.pool_indices_)
    np.testing.assert_array_equal(restored.query(), learner.query())


def test_pipeline_estimator(tabular):
    X, y = tabular
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    learner = ActiveLearner(
        pipe, strategy=MarginSampling(), n_instances=5, random_state=0
    ).fit(X, _seed_labels(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    assert learner.score(X, y) > 0.5
    assert not hasattr(pipe[-1], "coef_")


def test_cold_start_without_labels_uses_initial_strategy(tabular):
    X, y = tabular
    learner = ActiveLearner(
        LogisticRegression(), strategy=MarginSampling(), n_instances=6, random_state=0
    )
    learner.fit(X, np.full_like(y, -1))
    assert learner.model_fitted_ is False
    idx = learner.query()
    assert len(idx) == 6
    with pytest.raises(NotFittedError, match="no model yet"):
        learner.predict(X)
    learner.teach(y=y[idx], indices=idx)
    assert learner.model_fitted_ is True


def test_failed_refit_keeps_labels_and_previous_model(tabular):
    X, y = tabular
    learner = ActiveLearner(
        LogisticRegression(), strategy=MarginSampling(), n_instances=5, random_state=0
    ).fit(X, _seed_labels(y))
    before = learner.predict_proba(X)
    idx = learner.query()
    learner.set_params(estimator__C=-1.0)  # the next fit raises
    with pytest.raises(ValueError):
        learner.teach(y=y[idx], indices=idx)
    assert learner.model_stale_ is True
    assert len(learner.y_labeled_) == 11
    assert not np.isin(idx, learner.pool_indices_).any()
    np.testing.assert_array_equal(learner.predict_proba(X), before)
    learner.set_params(estimator__C=1.0).refit()
    assert learner.model_stale_ is False
    assert not np.array_equal(learner.predict_proba(X), before)


# ---------------------------------------------------------------- bad input
def test_query_before_fit():
    with pytest.raises(NotFittedError, match="not fitted"):
        ActiveLearner(LogisticRegression()).query(np.zeros((3, 2)))


@pytest.mark.parametrize("bad", [0, -2])
def test_n_instances_below_one(tabular, bad):
    X, y = tabular
    with pytest.raises(
        ValueError,
        match=r"'n_instances' parameter of ActiveLearner must be an int in the "
        rf"range \[1, inf\)\. Got {bad} instead",
    ):
        ActiveLearner(LogisticRegression(), n_instances=bad).fit(X, y)
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed_labels(y))
    with pytest.raises(ValueError, match="'n_instances' parameter"):
        learner.query(n_instances=bad)


@pytest.mark.parametrize("bad", [2.5, "3", True])
def test_n_instances_not_an_int(tabular, bad):
    X, y = tabular
    with pytest.raises(
        TypeError,
        match=r"'n_instances' parameter of ActiveLearner must be an int in the "
        rf"range \[1, inf\)\. Got {re.escape(repr(bad))} instead",
    ):
        ActiveLearner(LogisticRegression(), n_instances=bad).fit(X, y)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_inf_in_X(tabular, value):
    X, y = tabular
    Xb = X.copy()
    Xb[3, 2] = value
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        ActiveLearner(LogisticRegression()).fit(Xb, y)
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed_labels(y))
    with pytest.raises(ValueError, match="Input X contains"):
        learner.query(Xb)
    with pytest.raises(ValueError, match="Input X contains"):
        learner.teach(Xb[:4], y[:4])
    assert len(learner.y_labeled_) == 6  # nothing half-taught


def test_nan_in_torch_tensor_for_net(tabular):
    import torch

    X, y = tabular
    Xt = torch.as_tensor(X)
    Xt[0, 0] = float("nan")
    with pytest.raises(ValueError, match="Input X contains NaN"):
        ActiveLearner(make_net(MLP, n_classes=3, max_epochs=1)).fit(Xt, y)


def test_wrong_number_of_features(tabular, digits_images):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed_labels(y))
    msg = "X has 5 features, but ActiveLearner is expecting 8 features as input"
    with pytest.raises(ValueError, match=msg):
        learner.query(X[:, :5])
    with pytest.raises(ValueError, match=msg):
        learner.teach(X[:2, :5], y[:2])
    with pytest.raises(ValueError, match=msg):
        learner.predict(X[:, :5])
    Xi, yi = digits_images
    net_learner = ActiveLearner(make_net(SmallCNN, n_classes=10, max_epochs=1))
    net_learner.fit(Xi, _seed_labels(yi))
    with pytest.raises(ValueError, match=r"rows of shape \(1, 8, 7\).*\(1, 8, 8\)"):
        net_learner.query(Xi[:, :, :, :7])


def test_teach_mismatched_lengths(tabular):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed_labels(y))
    with pytest.raises(
        ValueError, match="X and y must have the same number of rows; got 4 and 3"
    ):
        learner.teach(X[:4], y[:3])
    idx = learner.query(n_instances=3)
    with pytest.raises(ValueError, match="same number of rows; got 3 and 2"):
        learner.teach(y=y[:2], indices=idx)


def test_teach_unknown_indices(tabular):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed_labels(y))
    labeled = learner.labeled_indices_[:2]
    with pytest.raises(
        ValueError,
        match=rf"names rows \[{labeled[0]}, {labeled[1]}\] that are not in the "
        r"stored pool: use relabel\(\)",
    ):
        learner.teach(y=[0, 1], indices=labeled)
    with pytest.raises(ValueError, match=r"names \[10000\], not rows of fit's X"):
        learner.teach(y=[0], indices=[10000])
    with pytest.raises(ValueError, match="unlabeled marker"):
        learner.teach(y=[-1], indices=learner.pool_indices_[:1])


def test_budget_smaller_than_initial_set(tabular):
    X, y = tabular
    with pytest.raises(
        ValueError,
        match=r"'budget' parameter \(5\) must be >= the "
        "size of the initial labeled set, n_initial=10",
    ):
        ActiveLearner(LogisticRegression(), n_initial=10, budget=5).fit(X, y)


def test_simulation_rejects_unlabeled_rows(tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="must label every row; got 294 rows"):
        ActiveLearner(LogisticRegression(), budget=20).fit(X, _seed_labels(y))


def test_estimator_without_predict_proba(tabular):
    X, y = tabular
    learner = ActiveLearner(SVC(), strategy=EntropySampling()).fit(X, _seed_labels(y))
    with pytest.raises(
        TypeError,
        match="EntropySampling needs class probabilities, "
        "but the estimator SVC has no 'predict_proba'",
    ):
        learner.query()
    # a strategy that needs no model still works
    learner.set_params(strategy=RandomSampling())
    assert len(learner.query(n_instances=3)) == 3


def test_bad_strategy_type(tabular):
    X, y = tabular
    with pytest.raises(
        TypeError,
        match=r"'strategy' parameter of ActiveLearner must be a skal strategy "
        r"instance .*FunctionStrategy\(func\).* or None\. Got 'margin' instead",
    ):
        ActiveLearner(LogisticRegression(), strategy="margin").fit(X, y)


def test_pool_is_not_copied_and_tensors_stay_tensors(tabular):
    import torch

    X, y = tabular
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed_labels(y))
    assert learner._X_fit is X  # the pool is referenced, not copied
    Xt = torch.as_tensor(X)
    net_learner = ActiveLearner(make_net(MLP, n_classes=3, max_epochs=1))
    net_learner.fit(Xt, _seed_labels(y))
    assert net_learner._X_fit is Xt
    assert isinstance(net_learner.X_labeled_, torch.Tensor)
    idx = net_learner.query(n_instances=4)
    net_learner.teach(y=y[idx], indices=idx)
    assert isinstance(net_learner.X_labeled_, torch.Tensor)
    assert net_learner.X_labeled_.shape == (10, 8)


def test_warm_start_continues_training(tabular):
    X, y = tabular
    learner = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=2),
        n_instances=5,
        warm_start=True,
        random_state=0,
    ).fit(X, _seed_labels(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    assert len(learner.estimator_.history) == 4  # 2 epochs + 2 more, not reset
    cold = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=2), n_instances=5, random_state=0
    ).fit(X, _seed_labels(y))
    idx = cold.query()
    cold.teach(y=y[idx], indices=idx)
    assert len(cold.estimator_.history) == 2
