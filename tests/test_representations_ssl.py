"""skal.representations: the SimCLR encoder and the pretrained-body warm start.

scikit-learn's checks run in full; no check is skipped on purpose (the one
skip is scikit-learn's own array-API check, which needs SCIPY_ARRAY_API)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skal.nets import CNN1d, make_net
from skal.representations import PretrainedBody, SimCLREncoder


def _signals(n=48, length=24, seed=0):
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 6.28, length)
    freq = rng.uniform(1, 3, size=(n, 1))
    return np.sin(t * freq)[:, None, :].astype(np.float32)


def _tiny(**kw):
    params = dict(
        module_params={"channels": 4, "hidden": 8},
        n_steps=4,
        batch_size=16,
        random_state=0,
    )
    params.update(kw)
    return SimCLREncoder(**params)


@parametrize_with_checks(
    [SimCLREncoder(n_steps=3, batch_size=16, projection_dim=8, random_state=0)],
    expected_failed_checks=lambda est: {
        "check_methods_subset_invariance": (
            "float32 convolutions give batch-size-dependent rounding (about 1e-7 "
            "relative) with this torch build; scikit-learn's check compares at "
            "rtol 1e-7"
        )
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_signal_features_shape_dtype_and_default_body():
    X = _signals()
    enc = _tiny().fit(X)
    F = enc.transform(X)
    assert F.shape == (48, 8) and F.dtype == np.float32
    assert isinstance(enc.module_, CNN1d) and enc.layer_ == "head"
    assert enc.n_features_in_ == 1 and enc.input_shape_ == (1, 24)
    assert len(enc.loss_curve_) == 4 and np.isfinite(enc.loss_curve_).all()
    assert list(enc.get_feature_names_out())[0] == "simclrencoder0"


def test_image_default_body():
    X = np.random.RandomState(0).rand(20, 1, 8, 8).astype(np.float32)
    enc = SimCLREncoder(
        module_params={"channels": 4, "hidden": 6},
        n_steps=2,
        batch_size=8,
        random_state=0,
    ).fit(X)
    assert type(enc.module_).__name__ == "CNN2d"
    assert enc.transform(X[:3]).shape == (3, 6)


def test_random_state_reproduces_and_differs():
    X = _signals()
    a = _tiny(random_state=1).fit(X).transform(X)
    b = _tiny(random_state=1).fit(X).transform(X)
    c = _tiny(random_state=2).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_global_torch_generator_untouched():
    X = _signals()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    _tiny().fit(X)
    torch.testing.assert_close(torch.rand(3), expected)


def test_training_lowers_the_contrastive_loss():
    X = _signals(n=64)
    enc = _tiny(
        n_steps=40, batch_size=32, lr=1e-2, module_params={"channels": 8, "hidden": 16}
    ).fit(X)
    curve = np.asarray(enc.loss_curve_)
    assert curve[:5].mean() > 0.95 * np.log(63)  # chance: 1 positive among 63
    assert curve[-10:].mean() < curve[:5].mean() - 0.1


def test_module_instance_is_copied_not_trained():
    X = _signals()
    body = CNN1d(channels=4, hidden=8)
    before = {k: v.clone() for k, v in body.state_dict().items()}
    enc = SimCLREncoder(body, n_steps=3, batch_size=16, random_state=0).fit(X)
    assert enc.module_ is not body
    for k, v in body.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_pickle_and_clone():
    X = _signals()
    enc = _tiny().fit(X)
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(again.transform(X), enc.transform(X))
    fresh = clone(enc)
    assert not hasattr(fresh, "module_") and fresh.get_params() == enc.get_params()


@pytest.mark.parametrize(
    "param, value, expected",
    [
        ("temperature", 0.0, "a float > 0"),
        ("lr", -1.0, "a float > 0"),
        ("n_steps", 0, r"range \[1, inf\)"),
        ("batch_size", 1, r"range \[2, inf\)"),
        ("n_steps", True, r"range \[1, inf\)"),
        ("module", "cnn", "torch.nn.Module class or instance"),
    ],
)
def test_parameters_are_validated(param, value, expected):
    with pytest.raises(
        ValueError, match=rf"'{param}' parameter of SimCLREncoder.*{expected}"
    ):
        _tiny(**{param: value}).fit(_signals())


def test_module_params_with_an_instance_is_refused():
    with pytest.raises(ValueError, match="module_params"):
        SimCLREncoder(CNN1d(), module_params={"hidden": 4}).fit(_signals())


def test_transform_checks_fitted_and_row_shape():
    X = _signals()
    with pytest.raises(NotFittedError):
        _tiny().transform(X)
    enc = _tiny().fit(X)
    with pytest.raises(ValueError, match=r"rows of shape \(1, 20\).*\(1, 24\)"):
        enc.transform(X[:, :, :20])


def _small_net(**kw):
    return make_net(
        "signal",
        3,
        min_steps=3,
        steps_per_label=0,
        max_epochs=1,
        module__channels=4,
        module__hidden=8,
        **kw,
    )


def test_init_net_loads_the_body_at_every_fresh_fit_and_survives_clone():
    X = _signals()
    y = np.arange(48) % 3
    enc = _tiny().fit(X)
    body = enc.body_state_dict()
    assert body and not any(k.startswith("head.") for k in body)
    net = clone(enc.init_net(_small_net(lr=0.0, optimizer__weight_decay=0.0)))
    for _ in range(2):  # each fresh fit starts from the body again
        net.fit(X, y)
        params = dict(net.module_.named_parameters())
        for k, v in body.items():
            if k in params:  # parameters; batch-norm buffers move in train mode
                torch.testing.assert_close(params[k].detach(), v)
    scratch = _small_net(lr=0.0, optimizer__weight_decay=0.0).fit(X, y)
    w = dict(scratch.module_.named_parameters())["features.0.weight"].detach()
    assert not torch.allclose(w, body["features.0.weight"])
    np.testing.assert_array_equal(net.predict(X).shape, (48,))


def test_continued_fit_is_not_reset():
    X = _signals()
    y = np.arange(48) % 3
    enc = _tiny().fit(X)
    net = enc.init_net(_small_net(lr=0.05)).fit(X, y)
    trained = dict(net.module_.named_parameters())["features.0.weight"].clone()
    assert not torch.allclose(trained, enc.body_state_dict()["features.0.weight"])
    net.set_params(lr=0.0, optimizer__weight_decay=0.0)
    net.partial_fit(X, y)  # continues: the body is not reloaded
    after = dict(net.module_.named_parameters())["features.0.weight"]
    torch.testing.assert_close(after.detach(), trained.detach())


def test_init_net_replaces_an_earlier_body_and_keeps_other_callbacks():
    X = _signals()
    enc = _tiny().fit(X)
    net = _small_net(callbacks=[("other", PretrainedBody({}))])
    enc.init_net(enc.init_net(net))
    names = [name for name, _ in net.callbacks]
    assert names == ["other", "pretrained_body"]


def test_mismatched_architecture_is_refused():
    X = _signals()
    enc = _tiny().fit(X)
    net = enc.init_net(
        make_net(
            "signal",
            3,
            min_steps=2,
            steps_per_label=0,
            max_epochs=1,
            module__channels=6,
            module__hidden=8,
        )
    )
    with pytest.raises(ValueError, match="does not match the pretrained body"):
        net.fit(X, np.arange(48) % 3)


def test_tabular_body_warm_starts_an_mlp_with_lazy_layers():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    enc = SimCLREncoder(module_params={"hidden": 8}, n_steps=3, batch_size=16)
    enc.set_params(random_state=0).fit(X)
    net = make_net(
        "tabular", 2, module__hidden=8, lr=0.0, min_steps=2, steps_per_label=0
    )
    net = enc.init_net(net).fit(X, y)
    torch.testing.assert_close(
        net.module_.body[1].weight.detach(), enc.body_state_dict()["body.1.weight"]
    )


def test_encoder_is_a_strategy_embedding():
    from sklearn.frozen import FrozenEstimator

    from skal.strategies import ProbCover, TypiClust

    X = _signals(n=60)
    enc = _tiny().fit(X)
    feats = enc.transform(X)
    for strategy in (TypiClust, ProbCover):
        via_param = strategy(embedding=FrozenEstimator(enc))(
            None, X, n_instances=4, random_state=0
        )
        via_rows = strategy()(None, feats, n_instances=4, random_state=0)
        np.testing.assert_array_equal(via_param, via_rows)
