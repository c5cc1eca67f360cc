"""Model adapters on real skorch nets and scikit-learn models."""

import copy

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from skal import ActiveLearner
from skal.models import SklearnAdapter, SkorchAdapter, get_adapter
from skal.strategies import bald_score
from skal.utils._testing import MLP, SmallCNN, make_net


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # The test machine is shared: tiny BLAS and torch ops would wait for
    # busy threads. One thread each keeps these tests fast.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y


@pytest.fixture(scope="module")
def net(data):
    X, y = data
    torch.manual_seed(0)
    return make_net(MLP, n_classes=3, max_epochs=3, dropout=0.5).fit(X, y)


def _states(module):
    return [m.training for m in module.modules()]


def _params(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _no_hooks(module):
    return all(
        not m._forward_hooks and not m._forward_pre_hooks for m in module.modules()
    )


def test_get_adapter_picks_the_adapter(net, data):
    X, y = data
    assert isinstance(get_adapter(net), SkorchAdapter)
    assert isinstance(get_adapter(LogisticRegression().fit(X, y)), SklearnAdapter)
    learner = ActiveLearner(LogisticRegression()).fit(X, y)
    assert isinstance(get_adapter(learner), SklearnAdapter)


def test_embed_equals_manual_forward_to_penultimate_layer(net, data):
    X, _ = data
    emb = get_adapter(net).embed(X)
    module = net.module_
    module.eval()
    with torch.no_grad():
        manual = module.body(torch.as_tensor(X)).numpy()
    assert emb.dtype == np.float32 and emb.shape == (150, 32)
    np.testing.assert_allclose(emb, manual, rtol=1e-5, atol=1e-6)
    assert _no_hooks(module)


def test_embed_candidates_and_named_layer(net, data):
    X, _ = data
    ad = get_adapter(net)
    cand = np.array([5, 3, 100])
    np.testing.assert_allclose(
        ad.embed(X, cand), ad.embed(X)[cand], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(ad.embed(X, layer="head"), ad.embed(X))
    # the input of the first linear layer is the flattened input itself
    np.testing.assert_allclose(ad.embed(X, cand, layer="body.1"), X[cand])
    with pytest.raises(ValueError, match="'layer' parameter .* must name a submodule"):
        ad.embed(X, layer="nope")
    assert _no_hooks(net.module_)


def test_cnn_embeddings_are_input_of_last_linear(digits_images):
    X, y = digits_images
    X, y = X[:120], y[:120]
    torch.manual_seed(0)
    cnn = make_net(SmallCNN, n_classes=10, max_epochs=1).fit(X, y)
    emb = get_adapter(cnn).embed(X[:10])
    m = cnn.module_.eval()
    with torch.no_grad():
        h = torch.relu(m.hidden(m.features(torch.as_tensor(X[:10]))))
    np.testing.assert_allclose(emb, h.numpy(), rtol=1e-5, atol=1e-6)


def test_predict_proba_and_logits(net, data):
    X, _ = data
    ad = get_adapter(net)
    proba = ad.predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, net.predict_proba(X), rtol=1e-6)
    logits = ad.logits(X, [0, 1, 2])
    np.testing.assert_allclose(
        torch.softmax(torch.as_tensor(logits), 1).numpy(), proba[:3], rtol=1e-5
    )


def test_as_tensor_returns_float32_tensors_on_the_net_device(net, data):
    X, _ = data
    ad = get_adapter(net)
    for out in (
        ad.predict_proba(X, as_tensor=True),
        ad.embed(X, as_tensor=True),
        ad.logits(X, as_tensor=True),
        ad.mc_proba(X, n_draws=2, random_state=0, as_tensor=True),
        *ad.grad_embedding_factors(X, as_tensor=True),
    ):
        assert isinstance(out, torch.Tensor)
        assert out.dtype == torch.float32 and out.device == ad.device


def test_mc_dropout_samples_differ_and_state_is_restored(net, data):
    X, _ = data
    module = net.module_
    for mode in (True, False):  # whatever the user left, it stays
        module.train(mode)
        before, params = _states(module), _params(module)
        rng_state = torch.random.get_rng_state()
        P = get_adapter(net).mc_proba(X[:20], n_draws=8, random_state=0)
        assert P.shape == (20, 8, 3)
        np.testing.assert_allclose(P.sum(2), 1.0, rtol=1e-5)
        assert np.ptp(P, axis=1).max() > 1e-3  # the draws differ
        assert _states(module) == before
        assert all(torch.equal(v, params[k]) for k, v in module.state_dict().items())
        assert torch.equal(torch.random.get_rng_state(), rng_state)
        assert _no_hooks(module)
    module.eval()
    ad = get_adapter(net)
    a = ad.mc_proba(X[:20], n_draws=4, random_state=3)
    b = ad.mc_proba(X[:20], n_draws=4, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert bald_score(a).max() > 0


class _BNDrop(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 16)
        self.bn = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(16, 3)

    def forward(self, X):
        return self.out(self.drop(torch.relu(self.bn(self.lin(X)))))


def test_mc_dropout_keeps_batchnorm_in_eval_mode(data):
    X, y = data
    torch.manual_seed(0)
    net = make_net(_BNDrop, max_epochs=2).fit(X, y)
    bn = net.module_.bn
    stats = (
        bn.running_mean.clone(),
        bn.running_var.clone(),
        int(bn.num_batches_tracked),
    )
    P = get_adapter(net).mc_proba(X, n_draws=3, random_state=0)
    assert np.ptp(P, axis=1).max() > 0
    assert torch.equal(bn.running_mean, stats[0])
    assert torch.equal(bn.running_var, stats[1])
    assert int(bn.num_batches_tracked) == stats[2]


def test_state_and_hooks_restored_on_error(net, data, monkeypatch):
    X, _ = data
    module = net.module_
    module.train()
    before = _states(module)
    net_copy = copy.copy(net)

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(net_copy, "infer", boom)
    ad = get_adapter(net_copy)
    with pytest.raises(RuntimeError, match="boom"):
        ad.mc_proba(X, n_draws=2, random_state=0)
    with pytest.raises(RuntimeError, match="boom"):
        ad.embed(X)
    assert _states(module) == before
    assert _no_hooks(module)
    module.eval()


def test_grad_embedding_factors_equal_autograd_gradient(net, data):
    X, _ = data
    proba, emb = get_adapter(net).grad_embedding_factors(X, np.arange(5))
    module = net.module_.eval()
    for i in range(5):
        module.zero_grad()
        out = module(torch.as_tensor(X[i : i + 1]))
        yhat = out.argmax(1)
        nn.functional.cross_entropy(out, yhat).backward()
        a = proba[i] - np.eye(3)[int(yhat)]
        np.testing.assert_allclose(
            module.head.weight.grad.numpy(), np.outer(a, emb[i]), rtol=1e-4, atol=1e-6
        )
    module.zero_grad()


def test_mc_proba_rejects_bad_n_draws(net, data):
    with pytest.raises(
        ValueError,
        match=r"'n_draws' parameter of \w+\.mc_proba must be an int in the range "
        r"\[1, inf\)\. Got 0 instead",
    ):
        get_adapter(net).mc_proba(data[0], n_draws=0)


# ----------------------------------------------------------------- sklearn
def test_sklearn_pipeline_embeddings_and_layer(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), PCA(3), LogisticRegression()).fit(X, y)
    ad = get_adapter(pipe)
    np.testing.assert_allclose(ad.embed(X), pipe[:-1].transform(X), rtol=1e-5)
    np.testing.assert_allclose(
        ad.embed(X, [1, 2], layer="standardscaler"),
        pipe[:1].transform(X[[1, 2]]),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="transformer step"):
        ad.embed(X, layer="logisticregression")
    clf = LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(get_adapter(clf).embed(X, [0, 4]), X[[0, 4]])


def test_sklearn_mc_proba_and_gradient_factors(data):
    X, y = data
    clf = LogisticRegression().fit(X, y)
    ad = get_adapter(clf)
    P = ad.mc_proba(X, [0, 1, 2], n_draws=5, random_state=0)
    assert P.shape == (3, 5, 3)
    np.testing.assert_array_equal(bald_score(P), 0.0)  # no dropout: no disagreement
    proba, emb = ad.grad_embedding_factors(X, [3, 4])
    np.testing.assert_allclose(proba, clf.predict_proba(X[[3, 4]]))
    np.testing.assert_array_equal(emb, X[[3, 4]])
    t = ad.mc_proba(X, n_draws=2, as_tensor=True)
    assert isinstance(t, torch.Tensor) and t.shape == (150, 2, 3)
    logits = ad.logits(X[:4])
    np.testing.assert_allclose(np.exp(logits), clf.predict_proba(X[:4]), rtol=1e-6)


def test_sklearn_adapter_needs_predict_proba(data):
    from sklearn.svm import LinearSVC

    X, y = data
    with pytest.raises(TypeError, match="has no 'predict_proba'"):
        get_adapter(LinearSVC().fit(X, y)).predict_proba(X)


def test_mc_proba_counts_draws_as_n_draws():
    """mc_proba(n_draws=); n_samples, scikit-learn's name for rows, warns
    until 0.3 (issue 29)."""
    X = np.random.RandomState(0).normal(size=(30, 3))
    y = np.arange(30) % 2
    ad = get_adapter(LogisticRegression().fit(X, y))
    assert ad.mc_proba(X, n_draws=3).shape == (30, 3, 2)
    with pytest.warns(FutureWarning, match="'n_samples' parameter.*'n_draws'"):
        assert ad.mc_proba(X, n_samples=4).shape == (30, 4, 2)
    with pytest.raises(ValueError, match="'n_draws'"):
        ad.mc_proba(X, n_draws=0)
