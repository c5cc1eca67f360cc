"""ProbCover's purity radius (Yehuda et al. 2022): the paper's rule, checked
against a brute-force float64 scan of ball purity (run with ``-k probcover``)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner
from skal._kernels import kmeans
from skal.strategies import ProbCover
from skal.strategies._purity import purity_radius
from skal.utils._seeding import draw_seed
from skal.utils.estimator_checks import check_strategy


def _pure_fraction(X, labels, r):
    """Fraction of rows whose open r-ball holds only rows of their label."""
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    inside = D < r
    return float(
        np.mean([(labels[inside[i]] == labels[i]).all() for i in range(len(X))])
    )


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(12, 60),
    k=st.integers(2, 5),
    purity=st.sampled_from([0.5, 0.8, 0.95, 1.0]),
    seed=st.integers(0, 1000),
)
def test_purity_radius_is_the_largest_radius_with_enough_pure_balls(n, k, purity, seed):
    X = np.random.RandomState(seed).normal(size=(n, 3)).astype(np.float32)
    r = purity_radius(
        torch.as_tensor(X), k, purity=purity, random_state=np.random.RandomState(seed)
    )
    labels, _ = kmeans(
        torch.as_tensor(X), k, random_state=draw_seed(np.random.RandomState(seed))
    )
    labels = labels.numpy()
    X64 = X.astype(np.float64)
    assert r > 0
    assert _pure_fraction(X64, labels, r * (1 - 1e-4)) >= purity
    if np.unique(labels).size > 1:  # one cluster: every radius is pure
        assert _pure_fraction(X64, labels, r * (1 + 1e-4)) < purity


def test_purity_radius_separates_blobs_and_probcover_covers_each():
    X, y = make_blobs(
        n_samples=90,
        centers=[[0, 0], [6, 0], [0, 6]],
        cluster_std=0.5,
        random_state=0,
    )
    X = X.astype(np.float32)
    r = purity_radius(torch.as_tensor(X), 3, random_state=np.random.RandomState(0))
    assert 1.0 < r < 6.0  # wider than a blob, narrower than the gap
    sel = ProbCover(radius="purity", n_classes=3, normalize=False)(
        None, X, n_instances=3, random_state=0
    )
    assert sorted(y[sel]) == [0, 1, 2]


def test_probcover_purity_reads_the_number_of_classes_from_the_labels():
    X, y = make_blobs(n_samples=60, centers=3, random_state=1)
    X = X.astype(np.float32)
    strategy = ProbCover(radius="purity", normalize=False)
    with pytest.raises(ValueError, match="needs the number of classes.*n_classes"):
        strategy(None, X, n_instances=2, random_state=0)
    y_partial = np.full(len(X), -1)
    first = [np.flatnonzero(y == c)[0] for c in range(3)]
    y_partial[first] = y[first]
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_partial)
    sel = strategy(
        learner, X, n_instances=3, candidates=learner.pool_indices_, random_state=0
    )
    assert sel.size == 3 and not np.isin(sel, first).any()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"radius": "median"}, "'radius' parameter of ProbCover"),
        ({"purity": 0.0}, "'purity' parameter of ProbCover"),
        ({"purity": 1.5}, "'purity' parameter of ProbCover"),
        ({"n_classes": 1}, "'n_classes' parameter of ProbCover"),
    ],
    ids=["radius", "purity-zero", "purity-above-one", "n_classes"],
)
def test_probcover_purity_parameters_are_validated(params, match):
    X = np.random.RandomState(0).normal(size=(20, 2)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        ProbCover(**params)(None, X, n_instances=2, random_state=0)


def test_probcover_purity_passes_the_strategy_checks():
    check_strategy(ProbCover(radius="purity", n_classes=3), max_examples=10)
