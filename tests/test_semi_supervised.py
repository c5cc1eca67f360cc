"""skal.semi_supervised: FixMatch and pseudo-labels on rows marked -1, and the
learner passing its pool to semi-supervised estimators."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
from sklearn.utils.estimator_checks import estimator_checks_generator

from skal import ActiveLearner
from skal.augment import TabularAugment
from skal.nets import MLP
from skal.semi_supervised import (
    FixMatchClassifier,
    PseudoLabelClassifier,
    is_semi_supervised,
)
from skal.strategies import MarginSampling


def _blobs(n=300, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    centers = np.array([[0, 0], [3, 0], [0, 3]], dtype=np.float32)
    X = centers[y] + rng.normal(scale=0.6, size=(n, 2)).astype(np.float32)
    return X.astype(np.float32), y.astype(np.int64)


def _fixmatch(**kw):
    params = dict(
        module__n_classes=3,
        min_steps=30,
        steps_per_label=0,
        max_epochs=3,
        mu=2,
        threshold=0.7,
        augment_weak=TabularAugment("weak"),
        augment_strong=TabularAugment("strong"),
    )
    params.update(kw)
    return FixMatchClassifier(MLP, **params)


def _partial(y, n_labeled):
    out = np.full_like(y, -1)
    out[:n_labeled] = y[:n_labeled]
    return out


@pytest.mark.parametrize("cls", [FixMatchClassifier, PseudoLabelClassifier])
def test_minus_one_rows_are_unlabeled_and_used(cls):
    X, y = _blobs()
    params = dict(module__n_classes=3, min_steps=30, steps_per_label=0, mu=2)
    params["threshold"] = 0.6
    if cls is FixMatchClassifier:
        params.update(augment_strong=TabularAugment("strong"))
    net = cls(MLP, **params).fit(X, _partial(y, 30))
    assert net.classes_.tolist() == [0, 1, 2]  # -1 is not a class
    assert net.n_steps_ == 30  # steps follow the labeled rows only
    assert net.mask_rate_ is not None and 0 < net.mask_rate_ <= 1
    assert "loss_u" in net.history[-1, "batches"][0]


def test_the_pool_changes_the_model():
    X, y = _blobs()
    torch.manual_seed(0)
    with_pool = _fixmatch().fit(X, _partial(y, 30))
    torch.manual_seed(0)
    without = _fixmatch().fit(X[:30], y[:30])
    assert without.mask_rate_ is None  # no unlabeled rows: supervised
    a = with_pool.predict_proba(X)
    b = without.predict_proba(X)
    assert not np.allclose(a, b)


def test_same_seed_same_model():
    X, y = _blobs()
    torch.manual_seed(3)
    a = _fixmatch().fit(X, _partial(y, 30)).predict_proba(X)
    torch.manual_seed(3)
    b = _fixmatch().fit(X, _partial(y, 30)).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_fixmatch_learns_a_pool_from_few_labels():
    X, y = _blobs(600)
    net = _fixmatch(min_steps=200, max_epochs=10).fit(X, _partial(y, 9))
    assert net.score(X[9:], y[9:]) > 0.85


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("threshold", 1.5, "'threshold' parameter of FixMatchClassifier"),
        ("mu", 0, "'mu' parameter"),
        ("lambda_u", -1.0, "'lambda_u' parameter"),
        ("min_steps", 0, "'min_steps' parameter"),
    ],
)
def test_bad_parameters_are_named(param, value, match):
    X, y = _blobs(60)
    with pytest.raises(ValueError, match=match):
        _fixmatch(**{param: value}).fit(X, _partial(y, 10))


def test_all_unlabeled_is_refused():
    X, y = _blobs(60)
    with pytest.raises(ValueError, match="no labeled row"):
        _fixmatch().fit(X, np.full_like(y, -1))


def test_grid_search_clone_and_pickle():
    X, y = _blobs(150)
    net = _fixmatch()
    params = net.get_params()
    assert {"threshold", "lambda_u", "mu", "augment_weak", "augment_strong"} <= set(
        params
    )
    assert params["augment_strong__strength"] == "strong"
    c = clone(net).set_params(augment_strong__corruption=0.3, threshold=0.8)
    assert c.augment_strong.corruption == 0.3 and net.augment_strong.corruption is None
    gs = GridSearchCV(net, {"threshold": [0.6, 0.9]}, cv=2).fit(X, y)
    assert gs.best_params_["threshold"] in (0.6, 0.9)
    fitted = net.fit(X, _partial(y, 30))
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X))


_EXPECTED_FAILS = {
    "check_classifiers_classes": "-1 marks unlabeled rows (sklearn's "
    "semi-supervised convention): labels {-1, 1} leave one labeled class",
    "check_classifiers_train": "the module's output size is fixed at 3",
    "check_classifiers_predictions": "the module's output size is fixed at 3",
    "check_sample_weight_equivalence_on_dense_data": "no sample_weight",
    "check_sample_weight_equivalence_on_sparse_data": "no sample_weight",
    "check_estimator_sparse_array": "the MLP module takes dense tensors only",
    "check_estimator_sparse_matrix": "the MLP module takes dense tensors only",
    "check_estimator_sparse_tag": "the MLP module takes dense tensors only",
    "check_classifiers_one_label": "a net trains on a single class",
    "check_classifier_multioutput": "skorch nets do not validate targets",
    "check_dtype_object": "torch cannot take object arrays",
    "check_complex_data": "torch accepts complex tensors",
}
_CHECKS = list(
    estimator_checks_generator(
        ActiveLearner(
            _fixmatch(min_steps=20, steps_per_label=0),
            strategy=MarginSampling(),
            max_unlabeled=50,
            random_state=0,
        ),
        expected_failed_checks=_EXPECTED_FAILS,
        mark="xfail",
    )
)


def _check_name(item):
    _, check = item.values if hasattr(item, "values") else item
    return getattr(check, "func", check).__name__


# ids name the check only: the estimator's repr holds a set whose order
# changes between processes, and pytest-xdist needs equal ids in every worker
@pytest.mark.parametrize("estimator, check", _CHECKS, ids=map(_check_name, _CHECKS))
def test_sklearn_checks_in_the_learner(estimator, check):
    """scikit-learn's checks over FixMatch inside the learner (which validates
    input). A bare skorch net fails the input-validation checks by skorch's
    design (no n_features_in_, attributes set in __init__), as skorch's own
    NeuralNetClassifier does; clone, get_params, pickling and GridSearchCV of
    the bare nets are tested above."""
    check(estimator)


# ----------------------------------------------------------- detection
class _Tagged(ClassifierMixin, BaseEstimator):
    """Records what it was fitted on; declares itself semi-supervised."""

    def __skal_tags__(self):
        return {"semi_supervised": True}

    def fit(self, X, y):
        self.seen_X_, self.seen_y_ = np.asarray(X), np.asarray(y)
        lab = self.seen_y_ != -1
        self.model_ = LogisticRegression().fit(self.seen_X_[lab], self.seen_y_[lab])
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def test_is_semi_supervised():
    assert is_semi_supervised(_fixmatch())
    assert is_semi_supervised(SelfTrainingClassifier(LogisticRegression()))
    assert is_semi_supervised(LabelSpreading())
    assert is_semi_supervised(make_pipeline(StandardScaler(), LabelSpreading()))
    assert is_semi_supervised(_Tagged())
    assert not is_semi_supervised(LogisticRegression())
    assert not is_semi_supervised(make_pipeline(StandardScaler(), LogisticRegression()))


def _tagged_learner(X, y_seed):
    return ActiveLearner(
        _Tagged(),
        strategy=MarginSampling(),
        n_instances=5,
        max_unlabeled=50,
        random_state=0,
    ).fit(X, y_seed)


def test_learner_passes_the_pool_capped_and_seeded():
    X, y = _blobs(200)
    y_seed = _partial(y, 12)
    learner = _tagged_learner(X, y_seed)
    seen_y = learner.estimator_.seen_y_
    assert (seen_y != -1).sum() == 12 and (seen_y == -1).sum() == 50
    pool_rows = learner.estimator_.seen_X_[seen_y == -1]
    # every unlabeled row passed is a row of the stored pool
    pool = X[learner.pool_indices_]
    assert all((pool == r).all(axis=1).any() for r in pool_rows)
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    seen_y = learner.estimator_.seen_y_
    assert (seen_y != -1).sum() == 17 and (seen_y == -1).sum() == 50
    # same random_state: same subsample
    np.testing.assert_array_equal(
        _tagged_learner(X, y_seed).estimator_.seen_X_,
        _tagged_learner(X, y_seed).estimator_.seen_X_,
    )
    # a later refit draws another subsample
    assert not np.array_equal(
        learner.estimator_.seen_X_[-50:],
        _tagged_learner(X, y_seed).estimator_.seen_X_[-50:],
    )


def test_supervised_estimators_never_see_the_pool():
    X, y = _blobs(100)

    class Plain(_Tagged):
        def __skal_tags__(self):
            return {"semi_supervised": False}

    learner = ActiveLearner(Plain(), random_state=0).fit(X, _partial(y, 12))
    assert (learner.estimator_.seen_y_ != -1).all()
    assert len(learner.estimator_.seen_y_) == 12


def test_simulation_with_a_semi_supervised_net():
    X, y = _blobs(200)
    learner = ActiveLearner(
        _fixmatch(),
        strategy=MarginSampling(),
        n_instances=10,
        budget=40,
        max_unlabeled=100,
        random_state=0,
    ).fit(X, y)
    assert [h["n_labels"] for h in learner.history_][-1] == 40
    assert learner.estimator_.mask_rate_ is not None  # the pool was used
    assert learner.score(X, y) > 0.8


def test_self_training_classifier_in_the_learner():
    X, y = _blobs(200)
    learner = ActiveLearner(
        SelfTrainingClassifier(LogisticRegression()),
        strategy=MarginSampling(),
        n_instances=5,
        random_state=0,
    ).fit(X, _partial(y, 9))
    # SelfTrainingClassifier labeled pool rows itself: it saw them
    assert learner.estimator_.transduction_.shape[0] > 9
    assert learner.score(X, y) > 0.8


def test_bad_max_unlabeled():
    X, y = _blobs(60)
    with pytest.raises(ValueError, match="max_unlabeled"):
        ActiveLearner(_Tagged(), max_unlabeled=0).fit(X, _partial(y, 9))
