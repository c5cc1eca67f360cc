"""The space selection measures in: ``embedding=`` and ``normalize=`` of the
embedding-based strategies (issue 13, items 1 and 2)."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skal import ActiveLearner
from skal.strategies import (
    BADGE,
    ClusterMargin,
    ColdStartHybrid,
    CoreSet,
    FacilityLocation,
    KMeansSampling,
    ProbCover,
    SubmodularMutualInformation,
    TypiClust,
)

SPACE_STRATEGIES = [
    CoreSet,
    KMeansSampling,
    TypiClust,
    ProbCover,
    FacilityLocation,
    SubmodularMutualInformation,
    ClusterMargin,
    ColdStartHybrid,
]
EMBEDDING_STRATEGIES = [*SPACE_STRATEGIES, BADGE]


def _norm_follows_class(seed, n_per_class, n_classes, scale):
    """Class ``c`` points along axis ``c`` (small angular noise); class 0 is
    ``scale`` times longer than the others: its norm follows its class."""
    rng = np.random.RandomState(seed)
    d = n_classes + 2
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = np.eye(d)[y] + rng.normal(scale=0.15, size=(y.size, d))
    X *= np.where(y == 0, scale, 1.0)[:, None] * rng.uniform(0.8, 1.2, (y.size, 1))
    y_seed = np.full_like(y, -1)
    y_seed[[np.flatnonzero(y == c)[0] for c in range(n_classes)]] = np.arange(n_classes)
    return X.astype(np.float32), y, y_seed


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_classes=st.integers(2, 4),
    scale=st.floats(4.0, 20.0),
    n=st.integers(4, 10),
)
def test_coreset_normalised_is_not_drawn_to_the_high_norm_class(
    seed, n_classes, scale, n
):
    X, y, y_seed = _norm_follows_class(seed, 20, n_classes, scale)
    X1, _, _ = _norm_follows_class(seed, 20, n_classes, 1.0)
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_seed)
    pool = learner.pool_indices_
    raw = CoreSet(normalize=False)(learner, X, n_instances=n, candidates=pool)
    unit = CoreSet()(learner, X, n_instances=n, candidates=pool)
    # raw distances: the long class's spread dominates every pick
    assert (y[raw] == 0).all()
    # on the unit sphere a row's length is gone: the picks are those of the
    # pool whose class 0 is as long as the others, and spread over classes
    same = CoreSet()(learner, X1, n_instances=n, candidates=pool)
    np.testing.assert_array_equal(unit, same)
    assert np.unique(y[unit]).size >= 2


def _pca_setting():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=3.0, size=(3, 6))
    y = np.repeat(np.arange(3), 25)
    X = (centers[y] + rng.normal(size=(y.size, 6))).astype(np.float32)
    pca = PCA(n_components=3, random_state=0).fit(X)
    Z = pca.transform(X).astype(np.float32)
    y_seed = np.full_like(y, -1)
    y_seed[[0, 1, 25, 26, 50, 51]] = y[[0, 1, 25, 26, 50, 51]]
    return X, Z, y, y_seed, pca


@pytest.mark.parametrize("cls", EMBEDDING_STRATEGIES, ids=lambda c: c.__name__)
def test_transformer_and_callable_equal_their_output_as_input(cls):
    X, Z, _, y_seed, pca = _pca_setting()
    # the same model on both sides: a frozen PCA in front of the classifier
    on_x = make_pipeline(FrozenEstimator(pca), LogisticRegression())
    learner_x = ActiveLearner(on_x, random_state=0).fit(X, y_seed)
    learner_z = ActiveLearner(LogisticRegression(), random_state=0).fit(Z, y_seed)
    pool = learner_x.pool_indices_
    kw = dict(n_instances=5, candidates=pool, random_state=3)
    want = cls(embedding="input")(learner_z, Z, **kw)
    for emb in (pca, FrozenEstimator(pca), pca.transform):
        got = cls(embedding=emb)(learner_x, X, **kw)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cls", EMBEDDING_STRATEGIES, ids=lambda c: c.__name__)
def test_embedding_and_normalize_are_validated(cls):
    X, _, _, y_seed, _ = _pca_setting()
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_seed)
    with pytest.raises(ValueError, match="'embedding' parameter of .* Got 'pca'"):
        cls(embedding="pca")(learner, X, n_instances=2)
    with pytest.raises(ValueError, match="'embedding' parameter .* Got 3 instead"):
        cls(embedding=3)(learner, X, n_instances=2)
    if cls in SPACE_STRATEGIES:
        with pytest.raises(ValueError, match="'normalize' parameter .* Got 'yes'"):
            cls(normalize="yes")(learner, X, n_instances=2)
    else:  # BADGE's gradient norm is its uncertainty: never normalised
        assert "normalize" not in cls().get_params()


def test_unfitted_transformer_names_the_fix():
    X, _, _, y_seed, pca = _pca_setting()
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_seed)
    s = clone(CoreSet(embedding=pca))  # clone unfits the PCA
    with pytest.raises(ValueError, match="not fitted.*FrozenEstimator"):
        s(learner, X, n_instances=2)
    frozen = clone(CoreSet(embedding=FrozenEstimator(pca)))  # stays fitted
    a = frozen(learner, X, n_instances=4, candidates=learner.pool_indices_)
    b = CoreSet(embedding=pca)(
        learner, X, n_instances=4, candidates=learner.pool_indices_
    )
    np.testing.assert_array_equal(a, b)


def test_callable_returning_wrong_rows_is_refused():
    X, _, _, y_seed, _ = _pca_setting()
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_seed)
    with pytest.raises(ValueError, match="one row per input row"):
        CoreSet(embedding=lambda rows: rows[:2])(learner, X, n_instances=2)


def test_normalize_and_embedding_are_grid_searchable():
    X, Z, y, _, pca = _pca_setting()
    sim = ActiveLearner(
        LogisticRegression(),
        strategy=CoreSet(),
        n_instances=6,
        budget=18,
        random_state=0,
    )
    grid = GridSearchCV(
        sim,
        {
            "strategy__normalize": [True, False],
            "strategy__embedding": ["model", FrozenEstimator(pca)],
        },
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_sparse_pool_is_never_densified(monkeypatch):
    rng = np.random.RandomState(0)
    X = sp.random(80, 40, density=0.2, format="csr", random_state=rng)
    y_seed = np.full(80, -1)
    y_seed[[0, 1, 40, 41]] = [0, 0, 1, 1]
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_seed)

    def refuse(*args, **kwargs):
        raise AssertionError("a sparse pool was densified")

    monkeypatch.setattr(sp.csr_matrix, "toarray", refuse)
    monkeypatch.setattr(sp.csr_array, "toarray", refuse, raising=False)
    pool = learner.pool_indices_
    for s in (CoreSet(), TypiClust(n_neighbors=3), CoreSet(embedding="input")):
        sel = s(learner, X, n_instances=5, candidates=pool, random_state=0)
        assert np.unique(sel).size == 5 and np.isin(sel, pool).all()


def test_out_of_core_pool_normalised_in_blocks(tmp_path):
    X, y, y_seed = _norm_follows_class(0, 40, 3, 8.0)
    mm = np.memmap(tmp_path / "pool.f32", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_seed)
    pool = learner.pool_indices_
    for s in (CoreSet(), CoreSet(normalize=False), CoreSet(embedding="input")):
        a = s(learner, mm, n_instances=6, candidates=pool)
        b = s(learner, X, n_instances=6, candidates=pool)
        np.testing.assert_array_equal(a, b)
