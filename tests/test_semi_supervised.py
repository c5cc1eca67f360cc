"""skal.semi_supervised: FixMatch and pseudo-labels on rows marked -1, and the
learner passing its pool to semi-supervised estimators."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
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
    FreeMatchClassifier,
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


@pytest.mark.parametrize(
    "cls", [FixMatchClassifier, FreeMatchClassifier, PseudoLabelClassifier]
)
def test_minus_one_rows_are_unlabeled_and_used(cls):
    X, y = _blobs()
    params = dict(module__n_classes=3, min_steps=30, steps_per_label=0, mu=2)
    params["threshold"] = 0.6
    if cls is not PseudoLabelClassifier:
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
    "check_supervised_y_no_nan": "NaN marks unlabeled rows (missing_label="
    "'auto', issue 23): y all NaN is a cold start, not an error",
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


# FreeMatch's fitted training state (EMAs) under the checks that look at
# fitted state: idempotent fits, pickling, parameters left untouched
_STATE_CHECKS = {
    "check_fit_idempotent",
    "check_estimators_pickle",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_get_params_invariance",
    "check_set_params",
    "check_fit_check_is_fitted",
    "check_n_features_in",
}
_FREEMATCH_CHECKS = [
    item
    for item in estimator_checks_generator(
        ActiveLearner(
            FreeMatchClassifier(
                MLP,
                module__n_classes=3,
                min_steps=20,
                steps_per_label=0,
                max_epochs=2,
                mu=2,
                augment_weak=TabularAugment("weak"),
                augment_strong=TabularAugment("strong"),
                random_state=0,
            ),
            strategy=MarginSampling(),
            max_unlabeled=50,
            random_state=0,
        ),
        expected_failed_checks=_EXPECTED_FAILS,
        mark="xfail",
    )
    if _check_name(item) in _STATE_CHECKS
]


@pytest.mark.parametrize(
    "estimator, check", _FREEMATCH_CHECKS, ids=map(_check_name, _FREEMATCH_CHECKS)
)
def test_sklearn_state_checks_with_freematch(estimator, check):
    """The checks on fitted state, with FreeMatch (its EMAs) in the learner."""
    check(estimator)


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


# ------------------------------------------------------------ FreeMatch
def _freematch(**kw):
    params = dict(
        module__n_classes=3,
        min_steps=40,
        steps_per_label=0,
        max_epochs=4,
        mu=2,
        batch_size=16,
        augment_weak=TabularAugment("weak"),
        augment_strong=TabularAugment("strong"),
        random_state=0,
    )
    params.update(kw)
    return FreeMatchClassifier(MLP, **params)


def _thresholds(net):
    return [b["threshold"] for e in net.history for b in e["batches"]]


def test_freematch_global_threshold_starts_at_one_over_c_and_rises():
    X, y = _blobs()
    net = _freematch(ema_momentum=0.9).fit(X, _partial(y, 30))
    taus = _thresholds(net)
    assert len(taus) == net.n_steps_
    # one EMA step from 1/C: 0.9 / 3 + 0.1 * (mean confidence, in [1/3, 1])
    assert 1 / 3 <= taus[0] <= 0.9 / 3 + 0.1 + 1e-6
    # confidence rises as the net learns the blobs, and the threshold follows
    assert np.mean(taus[-10:]) > taus[0] + 0.2
    assert net.global_threshold_ == pytest.approx(taus[-1], abs=1e-6)
    assert 0 < net.global_threshold_ <= 1


def test_freematch_class_thresholds_scale_the_global_one():
    X, y = _blobs()
    net = _freematch().fit(X, _partial(y, 30))
    p = net.class_confidence_
    assert p.shape == (3,) and np.isclose(p.sum(), 1, atol=1e-4)
    expected = net.global_threshold_ * p / p.max()
    np.testing.assert_allclose(net.class_thresholds_, expected, rtol=1e-5)
    assert net.class_thresholds_.max() == pytest.approx(net.global_threshold_)
    assert net.label_hist_.shape == (3,)
    assert net.learning_status_ is None  # FlexMatch's state only


def test_freematch_a_rarely_predicted_class_gets_a_lower_threshold():
    # an unbalanced pool: the classes the net predicts least get lower bars
    X, y = _blobs(400)
    keep = (y == 0) | (np.arange(len(y)) < 40)
    X, y = X[keep], y[keep]
    net = _freematch(ema_momentum=0.9, min_steps=60).fit(X, _partial(y, 40))
    counts = np.bincount(net.predict(X[40:]), minlength=3)
    taus = net.class_thresholds_
    assert taus[counts.argmax()] == pytest.approx(net.global_threshold_)
    assert taus[counts.argmin()] < 0.5 * net.global_threshold_


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(2, 6),
    st.floats(-30, 30),
    st.integers(0, 2**16),
)
def test_fairness_term_is_finite(n, n_classes, scale, seed):
    from skal.semi_supervised._freematch import _fairness

    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, n_classes, generator=g) * scale
    logits.requires_grad_(True)
    p = torch.softmax(torch.randn(n_classes, generator=g), 0)
    hist = torch.zeros(n_classes)
    hist[0] = 1.0  # a histogram with empty classes (1/0 is masked out)
    loss = _fairness(logits, p, hist)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_freematch_fairness_term_is_used_and_finite():
    X, y = _blobs()
    net = _freematch(lambda_f=0.5).fit(X, _partial(y, 30))
    losses = [b["loss_f"] for e in net.history for b in e["batches"] if "loss_f" in b]
    assert losses and np.isfinite(losses).all()
    assert all(np.isfinite(b["loss_u"]) for b in net.history[-1, "batches"])
    off = _freematch(lambda_f=0.0).fit(X, _partial(y, 30))
    assert not any("loss_f" in b for e in off.history for b in e["batches"])


def test_flexmatch_thresholds():
    X, y = _blobs()
    net = _freematch(thresholding="flexmatch", threshold=0.8).fit(X, _partial(y, 30))
    status = net.learning_status_
    assert status.shape == (270,)  # one per unlabeled row
    assert set(np.unique(status)) <= {-1, 0, 1, 2}
    assert (status >= 0).sum() > 0  # rows became confident
    taus = np.asarray(net.class_thresholds_)
    assert taus.shape == (3,) and (taus >= 0).all() and (taus <= 0.8 + 1e-6).all()
    # warm-up: no row has been confident yet, every class threshold is 0
    assert _thresholds(net)[0] == 0.0
    assert net.global_threshold_ is None


def test_freematch_state_is_reinitialised_and_random_state_honoured():
    X, y = _blobs()
    yp = _partial(y, 30)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    net = _freematch(random_state=7).fit(X, yp)
    # the fit leaves torch's global generator alone
    np.testing.assert_array_equal(torch.rand(1), before)
    a = net.predict_proba(X)
    state_a = (net.global_threshold_, net.class_confidence_.copy())
    b = net.fit(X, yp).predict_proba(X)  # refit: state starts again from 1/C
    np.testing.assert_array_equal(a, b)
    assert net.global_threshold_ == state_a[0]
    np.testing.assert_array_equal(net.class_confidence_, state_a[1])
    c = _freematch(random_state=8).fit(X, yp).predict_proba(X)
    assert not np.allclose(a, c)


def test_freematch_options_distribution_alignment_and_weights_ema():
    X, y = _blobs()
    yp = _partial(y, 30)
    plain = _freematch().fit(X, yp)
    aligned = _freematch(dist_align=True).fit(X, yp)
    ema = _freematch(weights_ema=0.9).fit(X, yp)
    for net in (aligned, ema):
        proba = net.predict_proba(X)
        assert np.isfinite(proba).all()
        assert net.score(X, y) > 0.8
        assert not np.allclose(proba, plain.predict_proba(X))


def test_auto_settings_follow_the_device():
    net = _freematch(mu="auto", batch_size="auto", min_steps="auto")
    assert net.auto_settings() == FreeMatchClassifier.cpu_settings
    cuda = clone(net).set_params(device="cuda:0").auto_settings()
    assert cuda["mu"] == 7 and cuda["batch_size"] == 64
    X, y = _blobs()
    net.set_params(steps_per_label=0, max_epochs=2)
    net.cpu_settings = {"mu": 3, "batch_size": 8, "min_steps": 12}
    net.fit(X, _partial(y, 30))
    assert net.n_steps_ == 12
    assert net.batch_size == "auto" and net.min_steps == "auto"  # params kept
    batches = [b for e in net.history for b in e["batches"]]
    assert len(batches) == 12
    assert net.predict(X).shape == (300,)  # predict with batch_size "auto"


def test_freematch_defaults_are_sized_for_the_device():
    # the constructor's defaults are "auto" for all three settings; on the CPU
    # a fit takes batches of 32 and 0.4 steps per pool row, at least 500
    net = FreeMatchClassifier(MLP)
    assert (net.mu, net.batch_size, net.min_steps) == ("auto", "auto", "auto")
    assert clone(net).get_params()["min_steps"] == "auto"
    X, y = _blobs(120)
    net.set_params(module__n_classes=3, max_epochs=1)
    net.fit(X, _partial(y, 12))
    assert net.n_steps_ == 500 + 12  # 0.4 * 108 pool rows is under the floor
    batches = net.history[-1]["batches"]
    assert len(batches) == 512
    assert max(b["train_batch_size"] for b in batches) == 32


@pytest.mark.parametrize(
    "n_unlabeled, steps", [(100, 10), (150, 15), (300, 30), (600, 40)]
)
def test_auto_steps_follow_the_pool_within_floor_and_cap(n_unlabeled, steps):
    X, y = _blobs(n_unlabeled + 12)
    net = _freematch(min_steps="auto", steps_per_label=0, max_epochs=1)
    net.cpu_settings = {
        "mu": 1,
        "batch_size": 4,
        "min_steps": 40,  # the cap
        "steps_per_pool_row": 0.1,
    }
    net.auto_min_steps_floor = 10
    net.fit(X, _partial(y, 12))
    assert net.n_steps_ == steps
    assert net.min_steps == "auto"


def test_the_shipped_auto_steps():
    cpu, cuda = FreeMatchClassifier.cpu_settings, FreeMatchClassifier.cuda_settings
    assert cpu["min_steps"] == 2000 and cpu["steps_per_pool_row"] * 5000 == 2000
    assert cuda["min_steps"] == 4000 and cuda["mu"] == 7
    assert FreeMatchClassifier.auto_min_steps_floor == 500


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("thresholding", "fixed", "'thresholding' parameter of FreeMatchClassifier"),
        ("ema_momentum", 1.0, "'ema_momentum' parameter"),
        ("lambda_f", -0.1, "'lambda_f' parameter"),
        ("weights_ema", 1.5, "'weights_ema' parameter"),
        ("dist_align", "yes", "'dist_align' parameter"),
        ("mu", "fast", "'mu' parameter"),
        ("random_state", "seed", "'random_state' parameter"),
    ],
)
def test_freematch_bad_parameters_are_named(param, value, match):
    X, y = _blobs(60)
    with pytest.raises(ValueError, match=match):
        _freematch(**{param: value}).fit(X, _partial(y, 10))


def test_freematch_grid_search_clone_and_pickle():
    X, y = _blobs(150)
    net = _freematch()
    params = net.get_params()
    assert {
        "thresholding",
        "ema_momentum",
        "lambda_f",
        "dist_align",
        "weights_ema",
        "random_state",
        "augment_weak",
        "mu",
    } <= set(params)
    c = clone(net).set_params(thresholding="flexmatch", augment_strong__corruption=0.3)
    assert c.thresholding == "flexmatch" and net.thresholding == "freematch"
    assert not hasattr(c, "global_threshold_")
    gs = GridSearchCV(net, {"thresholding": ["freematch", "flexmatch"]}, cv=2)
    gs.fit(X, y)
    assert gs.best_params_["thresholding"] in ("freematch", "flexmatch")
    fitted = clone(net).set_params(weights_ema=0.9).fit(X, _partial(y, 30))
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X))
    assert again.global_threshold_ == fitted.global_threshold_


@settings(max_examples=60, deadline=None)
@given(
    n_u=st.integers(0, 50_000),
    more=st.integers(0, 50_000),
    per_row=st.floats(0.01, 2.0),
    cap=st.integers(1, 5000),
    floor=st.integers(1, 1000),
)
def test_auto_steps_are_bounded_and_grow_with_the_pool(n_u, more, per_row, cap, floor):
    net = FreeMatchClassifier(MLP)
    net.cpu_settings = {
        "mu": 3,
        "batch_size": 32,
        "min_steps": cap,
        "steps_per_pool_row": per_row,
    }
    net.auto_min_steps_floor = floor

    def steps(n):
        net._unlabeled = np.zeros((n, 2), dtype=np.float32) if n else None
        return net._auto_min_steps()

    small, large = steps(n_u), steps(n_u + more)
    assert min(floor, cap) <= small <= large <= cap
    assert small == min(cap, max(min(floor, cap), int(np.ceil(per_row * n_u))))
