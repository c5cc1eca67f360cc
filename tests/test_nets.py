"""skal.nets: the step schedule, its skorch callbacks, the reference modules."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skal.augment import TabularAugment
from skal.nets import MLP, CNN1d, CNN2d, StepNetClassifier, make_net, n_train_steps


@given(
    n=st.integers(0, 10**6),
    m=st.integers(0, 10**6),
    lo=st.integers(1, 5000),
    rate=st.floats(0, 10),
    hi=st.integers(1, 10**5),
)
def test_n_train_steps_grows_with_the_labels_within_bounds(n, m, lo, rate, hi):
    hi = max(hi, lo)
    a = n_train_steps(n, min_steps=lo, steps_per_label=rate, max_steps=hi)
    b = n_train_steps(n + m, min_steps=lo, steps_per_label=rate, max_steps=hi)
    assert lo <= a <= b <= hi


def _data(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def _net(**kw):
    params = dict(module__n_classes=2, min_steps=40, steps_per_label=0, max_epochs=4)
    params.update(kw)
    return StepNetClassifier(MLP, **params)


def test_the_steps_are_the_schedule_not_the_epochs():
    X, y = _data(1000)
    net = _net(min_steps=40, steps_per_label=0.1, max_steps=10_000).fit(X, y)
    assert net.n_steps_ == 140
    per_epoch = [len(h["batches"]) for h in net.history]
    assert len(per_epoch) == 4 and sum(per_epoch) == 4 * 35  # ceil(140 / 4)
    small = _net(min_steps=40, steps_per_label=0.1).fit(X[:20], y[:20])
    assert small.n_steps_ == 42
    assert sum(len(h["batches"]) for h in small.history) == 4 * 11


def test_learning_rate_follows_a_cosine_through_skorch():
    X, y = _data()
    net = _net(lr=0.01).fit(X, y)
    lrs = net.history[:, "event_lr"]
    assert lrs[0] == pytest.approx(0.01)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert net.optimizer_.defaults["weight_decay"] == 5e-4
    no_schedule = _net(lr=0.01, callbacks__lr_schedule=None).fit(X, y)
    assert "event_lr" not in no_schedule.history[-1]


def test_converges_on_a_simple_problem():
    X, y = _data(400)
    assert _net(min_steps=300, max_epochs=10).fit(X, y).score(X, y) > 0.95


def test_augment_is_applied_in_training_only():
    X, y = _data()
    calls = []

    def spy(batch, *, generator=None):
        calls.append(batch.shape)
        return batch

    net = _net(augment=spy).fit(X, y)
    n_batches = sum(len(h["batches"]) for h in net.history)
    assert len(calls) == n_batches
    net.predict_proba(X)
    assert len(calls) == n_batches


def test_same_seed_same_net_and_warm_start_continues():
    X, y = _data()
    torch.manual_seed(1)
    a = _net().fit(X, y).predict_proba(X)
    torch.manual_seed(1)
    b = _net().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    warm = _net(warm_start=True).fit(X, y)
    first = len(warm.history)
    warm.fit(X, y)
    assert len(warm.history) == 2 * first


def test_clone_pickle_grid_search_and_nested_params():
    X, y = _data()
    net = _net(augment=TabularAugment())
    c = clone(net).set_params(augment__corruption=0.3, min_steps=20)
    assert c.augment.corruption == 0.3 and net.augment.corruption is None
    assert c.min_steps == 20 and net.min_steps == 40
    gs = GridSearchCV(net, {"min_steps": [20, 40]}, cv=2).fit(X, y)
    assert gs.best_params_["min_steps"] in (20, 40)
    fitted = net.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X))
    with pytest.raises(ValueError, match="'augment'"):
        _net().set_params(augment__corruption=0.3)


@pytest.mark.parametrize(
    "param, value",
    [("min_steps", 0), ("steps_per_label", -1), ("max_steps", 1.5), ("max_epochs", 0)],
)
def test_bad_schedule_names_the_parameter(param, value):
    X, y = _data()
    with pytest.raises(ValueError, match=f"'{param}' parameter of StepNetClassifier"):
        _net(**{param: value}).fit(X, y)


@pytest.mark.parametrize(
    "module, shape",
    [(CNN1d, (3, 40)), (CNN1d, (3, 2, 40)), (CNN2d, (3, 8, 8)), (CNN2d, (3, 1, 8, 8))],
)
def test_modules_take_their_shapes_and_expose_a_head(module, shape):
    kw = {"in_channels": 2} if len(shape) == 3 and module is CNN1d else {}
    m = module(n_classes=4, **kw)
    assert m(torch.zeros(shape)).shape == (3, 4)
    assert isinstance(m.head, torch.nn.Linear)  # the embedding hook's layer


def test_make_net():
    net = make_net("image", 10, min_steps=5)
    assert net.module is CNN2d and net.min_steps == 5
    assert make_net("tabular", 2).module is MLP
    with pytest.raises(ValueError, match="'kind' parameter of make_net"):
        make_net("audio", 3)
