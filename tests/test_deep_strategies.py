"""Deep strategies against naive float64 references, and end to end."""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skal import ActiveLearner
from skal._kernels._batchbald import _JointLabels
from skal.models import get_adapter
from skal.strategies import (
    BADGE,
    BALD,
    BalancedSelection,
    BatchBALD,
    ClassBalanced,
    ClusterMargin,
    CoreSet,
    EntropySampling,
    FacilityLocation,
    KMeansSampling,
    MarginSampling,
    OODFilter,
    PowerSampling,
    ProbCover,
    SubmodularMutualInformation,
    TypiClust,
    VariationRatios,
    bald_score,
    batchbald_select,
    boundary_distance,
    energy_score,
    mahalanobis_score,
    margin_score,
    variation_ratios_score,
)
from skal.utils._testing import MLP, make_net
from skal.utils.estimator_checks import ProbaFromX

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


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
def blobs():
    X, y = make_blobs(
        n_samples=240, centers=3, n_features=6, cluster_std=2.5, random_state=0
    )
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def net_learner(blobs):
    X, y = blobs
    y_seed = np.full_like(y, -1)
    y_seed[:24] = y[:24]
    torch.manual_seed(0)
    net = make_net(MLP, n_classes=3, max_epochs=3, dropout=0.3)
    return ActiveLearner(net, random_state=0).fit(X, y_seed)


def _sqdist(A, B):
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)


def _entropy(p):
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(-1)


# ------------------------------------------------------------------ scores
def test_bald_and_variation_ratios_against_numpy():
    P = np.random.RandomState(0).dirichlet(np.ones(4), size=(30, 7))
    expected = _entropy(P.mean(1)) - _entropy(P).mean(1)
    np.testing.assert_allclose(bald_score(P), expected, atol=1e-12)
    votes = np.stack([np.bincount(r, minlength=4) for r in P.argmax(2)])
    np.testing.assert_allclose(variation_ratios_score(P), 1 - votes.max(1) / 7)
    with pytest.raises(ValueError, match="'proba_samples' parameter must be a 3-D"):
        bald_score(P[0])


def _naive_joint_mi(P, rows):
    """I(y_rows; w) by enumerating every label configuration (float64)."""
    K = P.shape[1]
    J = np.ones((K, 1))
    for r in rows:  # J[k, config] = prod_r p(y_r = config_r | w_k)
        J = (J[:, :, None] * P[r][:, None, :]).reshape(K, -1)
    H = _entropy(J.mean(0))
    return H - sum(_entropy(P[r]).mean() for r in rows)


def _naive_batchbald(P, n):
    picks = []
    for _ in range(n):
        scores = [
            -np.inf if i in picks else _naive_joint_mi(P, picks + [i])
            for i in range(P.shape[0])
        ]
        picks.append(int(np.argmax(scores)))
    return picks


@pytest.mark.parametrize("seed", range(4))
def test_batchbald_equals_exact_joint_entropy_greedy(seed):
    rng = np.random.RandomState(seed)
    P = rng.dirichlet(np.full(3, 0.5), size=(8, 5))  # N=8, K=5 draws, C=3
    sel = batchbald_select(P, 4, random_state=seed)  # 3**3 configurations: exact
    assert sel.tolist() == _naive_batchbald(P, 4)
    assert sel[0] == np.argmax(bald_score(P))


def test_joint_entropy_exact_and_sampled_against_enumeration():
    rng = np.random.RandomState(0)
    P = torch.as_tensor(rng.dirichlet(np.full(3, 0.5), size=(12, 4)))  # K=4, C=3
    cond = torch.as_tensor([_entropy(P[i]).mean() for i in range(12)])
    for rows, M, sampled, tol in [
        ([0, 1, 2], 27, False, 1e-10),
        (list(range(9)), 15_000, True, 0.06),
    ]:
        joint = _JointLabels(4, 3, M, torch.Generator().manual_seed(0), "cpu")
        for r in rows:
            joint.add(P[r])
        assert joint.sampled == sampled  # 3**9 configurations exceed 15000
        mi = (joint.joint_entropies(P) - cond - cond[rows].sum()).numpy()
        naive = [_naive_joint_mi(P.numpy(), rows + [i]) for i in (9, 10, 11)]
        np.testing.assert_allclose(mi[[9, 10, 11]], naive, atol=tol)


def test_batchbald_sampled_mode_runs_and_skips_uninformative_rows():
    rng = np.random.RandomState(1)
    P = rng.dirichlet(np.full(10, 0.3), size=(40, 6))
    P[30:] = P[30:, :1]  # rows 30.. : the draws agree, BALD 0
    sel = batchbald_select(P, 12, n_joint_samples=60, random_state=0)
    assert len(set(sel)) == 12 and set(sel) <= set(range(30))
    every = batchbald_select(P, 35, random_state=0)
    assert set(every[:30]) == set(range(30))  # informative rows first


def test_mc_strategies_are_reproducible_with_a_net(net_learner, blobs):
    X, _ = blobs
    pool = net_learner.pool_indices_
    for s in (
        BALD(n_mc_samples=4),
        VariationRatios(n_mc_samples=4),
        BatchBALD(n_mc_samples=4, n_joint_samples=50),
        ClassBalanced(BALD(n_mc_samples=4)),  # score() without random_state
        PowerSampling(BALD(n_mc_samples=4)),
    ):
        a = s(net_learner, X, n_instances=6, candidates=pool, random_state=3)
        b = s(net_learner, X, n_instances=6, candidates=pool, random_state=3)
        np.testing.assert_array_equal(a, b)
    scores = BALD(n_mc_samples=8).score(net_learner, X, pool, random_state=0)
    assert scores.shape == pool.shape and scores.max() > 0


# --------------------------------------------------------------- diversity
@pytest.mark.parametrize("normalize", [False, True])
def test_coreset_equals_naive_float64_k_center(net_learner, blobs, normalize):
    X, _ = blobs
    pool = net_learner.pool_indices_
    ad = get_adapter(net_learner)
    emb = ad.embed(X, pool).astype(np.float64)
    lab = ad.embed(net_learner.X_labeled_).astype(np.float64)
    if normalize:  # the default: distances between unit vectors
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        lab /= np.linalg.norm(lab, axis=1, keepdims=True)
    mins, picks = _sqdist(emb, lab).min(1), []
    for _ in range(15):
        m = mins.copy()
        m[picks] = -1
        picks.append(int(np.argmax(m)))
        mins = np.minimum(mins, _sqdist(emb, emb[picks[-1:]])[:, 0])
    for seed in (0, 1):  # deterministic: the seed does not matter
        sel = CoreSet(normalize=normalize)(
            net_learner, X, n_instances=15, candidates=pool, random_state=seed
        )
        np.testing.assert_array_equal(sel, pool[picks])


def _inverse_cdf(w, u):
    c = np.cumsum(w)
    return int(np.searchsorted(c, u * c[-1], side="right"))


@pytest.mark.parametrize("seed", range(3))
def test_badge_equals_kmeanspp_on_explicit_gradient_matrix(net_learner, blobs, seed):
    X, _ = blobs
    pool = net_learner.pool_indices_
    proba, emb = get_adapter(net_learner).grad_embedding_factors(X, pool)
    A = proba - np.eye(3)[proba.argmax(1)]
    G = (A[:, :, None] * emb[:, None, :]).reshape(len(pool), -1)  # N x (C D)
    n = 10
    u = np.random.RandomState(seed).random_sample(n)
    picks = [int(np.argmax((G**2).sum(1)))]
    mins = _sqdist(G, G[picks])[:, 0]
    for i in range(1, n):
        w = mins.copy()
        w[picks] = 0
        picks.append(_inverse_cdf(w, u[i]))
        mins = np.minimum(mins, _sqdist(G, G[picks[-1:]])[:, 0])
    sel = BADGE()(net_learner, X, n_instances=n, candidates=pool, random_state=seed)
    np.testing.assert_array_equal(sel, pool[picks])


def test_kmeans_sampling_one_row_per_blob():
    X, y = make_blobs(
        n_samples=90,
        centers=[[0, 0], [10, 0], [0, 10]],
        cluster_std=0.5,
        random_state=0,
    )
    clf = LogisticRegression().fit(X, y)
    for seed in range(3):
        sel = KMeansSampling()(clf, X, n_instances=3, random_state=seed)
        assert sorted(y[sel]) == [0, 1, 2]
    dup = np.repeat(X[:2], 5, axis=0)  # two distinct rows: clusters come out empty
    assert len(set(KMeansSampling()(clf, dup, n_instances=6, random_state=0))) == 6


def test_cluster_margin_picks_low_margin_rows_across_clusters(net_learner, blobs):
    X, _ = blobs
    pool = net_learner.pool_indices_
    margins = margin_score(get_adapter(net_learner).predict_proba(X, pool))
    sel = ClusterMargin(margin_factor=3)(
        net_learner, X, n_instances=6, candidates=pool, random_state=0
    )
    kept = pool[np.argsort(-margins)[:18]]
    assert set(sel) <= set(kept)


def test_typiclust_and_probcover_cold_start_and_coverage():
    X = np.r_[np.full((10, 2), 0.0), np.full((7, 2), 5.0), np.full((4, 2), 9.0)]
    X = X + np.random.RandomState(0).normal(scale=0.05, size=X.shape)
    # the clusters lie on one ray: distances in the raw space (normalize=False)
    sel = ProbCover(radius=1.0, normalize=False)(None, X, n_instances=3, random_state=0)
    assert sel.tolist()[0] < 10 and sorted(X[sel, 0].round()) == [0, 5, 9]
    sel = TypiClust(n_neighbors=3, normalize=False)(
        None, X, n_instances=3, random_state=0
    )
    assert sorted(X[sel, 0].round()) == [0, 5, 9]
    # the biggest cluster is labeled: ProbCover starts with the next one
    y = np.full(len(X), -1)
    y[[0, 1]] = [0, 1]
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y)
    sel = ProbCover(radius=1.0, normalize=False)(
        learner, X, n_instances=2, candidates=learner.pool_indices_, random_state=0
    )
    assert sorted(X[sel, 0].round()) == [5, 9]


# ----------------------------------------------------------------- balance
@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 6),
    n_rows=st.integers(1, 80),
    skew=st.sampled_from([1.0, 5.0]),
    seed=st.integers(0, 2**16),
    extra=st.integers(-80, 10),
)
def test_balanced_selection_class_balance_property(
    n_classes, n_rows, skew, seed, extra
):
    rng = np.random.RandomState(seed)
    P = rng.dirichlet(np.ones(n_classes), size=n_rows)
    P[:, 0] *= skew  # an imbalanced pool
    P /= P.sum(1, keepdims=True)
    k = max(1, n_rows + extra)
    clf = ProbaFromX(n_classes).fit(P, np.zeros(n_rows))
    sel = BalancedSelection()(clf, P, n_instances=k, random_state=seed)
    assert len(sel) == min(k, n_rows) == len(set(sel))
    pred, d = P.argmax(1), boundary_distance(P)
    classes, available = np.unique(pred, return_counts=True)
    counts = np.array([(pred[sel] == c).sum() for c in classes])
    open_ = counts < available
    if open_.any():
        assert counts.max() <= counts[open_].min() + 1
    for c in classes:  # within a class: the rows nearest the boundary
        chosen = np.isin(np.arange(n_rows), sel) & (pred == c)
        rest = ~np.isin(np.arange(n_rows), sel) & (pred == c)
        if chosen.any() and rest.any():
            assert d[chosen].max() <= d[rest].min()


# --------------------------------------------------------------- stochastic
def test_power_sampling_draws_proportionally_to_score_power():
    P = np.array([[0.9, 0.1], [0.7, 0.3], [0.5, 0.5]])
    clf = ProbaFromX(2).fit(P, [0, 1, 0])
    s = margin_score(P)  # 0.2, 0.6, 1.0
    for beta in (1.0, 2.0):
        picks = [
            PowerSampling(MarginSampling(), beta=beta)(
                clf, P, n_instances=1, random_state=i
            )[0]
            for i in range(1500)
        ]
        freq = np.bincount(picks, minlength=3) / 1500
        np.testing.assert_allclose(freq, s**beta / (s**beta).sum(), atol=0.04)
    big = PowerSampling(MarginSampling(), beta=60.0)
    assert big(clf, P, n_instances=1, random_state=0).tolist() == [2]
    with pytest.raises(TypeError, match="'strategy' parameter of PowerSampling"):
        PowerSampling(CoreSet())(clf, P, n_instances=1)


# --------------------------------------------------------------- submodular
def _naive_facility_location(E, n, gamma):
    S = np.exp(-gamma * _sqdist(E, E))
    cov, picks = np.zeros(len(E)), []
    for _ in range(n):
        g = np.maximum(S - cov[:, None], 0).sum(0)
        g[picks] = -np.inf
        picks.append(int(np.argmax(g)))
        cov = np.maximum(cov, S[:, picks[-1]])
    return picks


def test_facility_location_equals_naive_greedy():
    X = np.random.RandomState(0).normal(size=(60, 4)).astype(np.float32)
    clf = ProbaFromX(2).fit(np.abs(X), np.zeros(60))
    for normalize in (False, True):
        E = X / np.linalg.norm(X, axis=1, keepdims=True) if normalize else X
        gamma = 1.0 / (2 * ((E - E.mean(0)) ** 2).sum(1).mean())
        sel = FacilityLocation(n_representatives=None, normalize=normalize)(
            clf, X, n_instances=12, random_state=0
        )
        assert sel.tolist() == _naive_facility_location(E, 12, gamma)


def test_submodular_mutual_information_targets_the_query_set():
    X, y = make_blobs(
        n_samples=90, centers=[[0, 0], [8, 0], [0, 8]], cluster_std=1.0, random_state=0
    )
    yl = np.full(90, -1)
    first = [np.flatnonzero(y == c)[0] for c in range(3)]
    yl[first] = [0, 1, 2]
    yl[np.flatnonzero(y == 0)[1:6]] = 0
    yl[np.flatnonzero(y == 1)[1:6]] = 1  # class 2 is the rare one
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, yl)
    pool = learner.pool_indices_
    for smi in (
        SubmodularMutualInformation(),  # rarest labeled class
        SubmodularMutualInformation(query_classes=[2], metric="cosine"),
        SubmodularMutualInformation(query_set=X[first[2:]], function="gcmi"),
    ):
        sel = smi(learner, X, n_instances=8, candidates=pool, random_state=0)
        assert (y[sel] == 2).mean() >= 0.75, smi
    with pytest.raises(ValueError, match="empty query set"):
        SubmodularMutualInformation(query_classes=[7])(learner, X, n_instances=2)


def test_flqmi_equals_naive_greedy():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3)).astype(np.float32)
    Q = rng.normal(size=(4, 3)).astype(np.float32)
    clf = ProbaFromX(2).fit(np.abs(X), np.zeros(50))
    gamma = 1.0 / (2 * ((X - X.mean(0)) ** 2).sum(1).mean())
    S = np.exp(-gamma * _sqdist(Q, X))  # Q x N
    cov, picks = np.zeros(4), []
    for _ in range(6):
        g = np.maximum(S - cov[:, None], 0).sum(0) + 0.5 * S.max(0)
        g[picks] = -np.inf
        picks.append(int(np.argmax(g)))
        cov = np.maximum(cov, S[:, picks[-1]])
    smi = SubmodularMutualInformation(query_set=Q, eta=0.5, normalize=False)
    assert smi(clf, X, n_instances=6, random_state=0).tolist() == picks


# ---------------------------------------------------------------------- OOD
def test_ood_filter_keeps_uncertainty_away_from_ood_rows(net_learner, blobs):
    X, y = blobs
    rng = np.random.RandomState(0)
    ood = (rng.normal(size=(20, 6)) * 3 + 60).astype(np.float32)
    Xo = np.r_[X, ood]
    pool = np.r_[net_learner.pool_indices_, np.arange(len(X), len(Xo))]
    for method in ("mahalanobis", "knn"):
        f = OODFilter(method=method, contamination=0.1)
        scores = f.ood_scores(net_learner, Xo, pool)
        assert scores[-20:].min() > np.median(scores[:-20])
        sel = (f | MarginSampling())(
            net_learner, Xo, n_instances=20, candidates=pool, random_state=0
        )
        assert (sel < len(X)).all()
    assert OODFilter(contamination=0.25)._narrow_size(10, 100) == 75
    assert OODFilter(contamination=0.99)._narrow_size(10, 100) == 10
    energy = OODFilter(method="energy").ood_scores(net_learner, Xo, pool)
    logits = get_adapter(net_learner).logits(Xo, pool)
    np.testing.assert_allclose(energy, energy_score(logits), rtol=1e-6)
    with pytest.raises(ValueError, match="has none"):
        OODFilter()(net_learner.estimator_, X, n_instances=2)


def test_mahalanobis_score_with_one_labeled_row_is_euclidean():
    E = np.random.RandomState(0).normal(size=(5, 3))
    s = mahalanobis_score(E, E[:1], [0])
    assert np.argsort(s).tolist() == np.argsort(((E - E[0]) ** 2).sum(1)).tolist()


# -------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "strategy, match",
    [
        (BALD(n_mc_samples=0), "'n_mc_samples' parameter of BALD must be an int"),
        (BatchBALD(n_joint_samples=0), "'n_joint_samples' parameter of BatchBALD"),
        (
            ClusterMargin(margin_factor=0.5),
            "'margin_factor' parameter of ClusterMargin",
        ),
        (ProbCover(radius=-1.0), "'radius' parameter of ProbCover"),
        (PowerSampling(beta=-1), "'beta' parameter of PowerSampling"),
        (FacilityLocation(metric="l1"), "'metric' parameter of FacilityLocation"),
        (OODFilter(contamination=1.0), "'contamination' parameter of OODFilter"),
        (CoreSet(layer=3), "'layer' parameter of CoreSet"),
    ],
)
def test_parameters_are_validated_when_used(strategy, match, net_learner, blobs):
    X, _ = blobs
    with pytest.raises((ValueError, TypeError), match=match):
        strategy(net_learner, X, n_instances=3, candidates=net_learner.pool_indices_)


def test_params_are_grid_searchable_in_a_pipeline():
    learner = ActiveLearner(
        LogisticRegression(), strategy=OODFilter() | PowerSampling(BALD())
    )
    learner.set_params(
        strategy__oodfilter__contamination=0.3,
        strategy__powersampling__strategy__n_mc_samples=7,
    )
    c = clone(learner).strategy
    assert c.steps[0][1].contamination == 0.3
    assert c.steps[1][1].strategy.n_mc_samples == 7


# -------------------------------------------------------------- end to end
def _strategies():
    return [
        BALD(n_mc_samples=5),
        BatchBALD(n_mc_samples=5, n_joint_samples=100),
        VariationRatios(n_mc_samples=5),
        # a 2-epoch net's low-norm rows point anywhere: on the unit sphere
        # they look far apart (docs: representations), so raw distances here
        CoreSet(normalize=False),
        KMeansSampling(),
        BADGE(),
        ClusterMargin(),
        TypiClust(),
        ProbCover(),
        BalancedSelection(),
        PowerSampling(BALD(n_mc_samples=5)),
        FacilityLocation(),
        SubmodularMutualInformation(),
        OODFilter() | EntropySampling(),
    ]


@pytest.mark.parametrize("kind", ["skorch", "sklearn"])
@pytest.mark.parametrize("strategy", _strategies(), ids=lambda s: type(s).__name__)
def test_end_to_end_simulation(strategy, kind, blobs):
    X, y = blobs
    est = (
        make_net(MLP, n_classes=3, max_epochs=2)
        if kind == "skorch"
        else LogisticRegression()
    )
    cold = strategy if isinstance(strategy, TypiClust | ProbCover) else None
    learner = ActiveLearner(
        est,
        strategy=strategy,
        initial_strategy=cold,
        n_instances=8,
        budget=24,
        random_state=0,
    ).fit(X, y)
    labeled = np.concatenate([h["indices"] for h in learner.history_])
    assert len(learner.y_labeled_) == 24 == len(set(labeled.tolist()))
    assert learner.score(X, y) > 0.5


# ------------------------------------------------------------------- GPU
@cuda
@pytest.mark.cuda
@pytest.mark.parametrize(
    "strategy",
    [
        CoreSet(),
        BADGE(),
        ProbCover(radius=2.0),
        FacilityLocation(),
        BalancedSelection(),
        OODFilter(),
        SubmodularMutualInformation(),
        OODFilter(method="knn") | MarginSampling(),
    ],
    ids=lambda s: type(s).__name__,
)
def test_gpu_and_cpu_select_the_same_rows(strategy, net_learner, blobs):
    X, _ = blobs
    gpu = copy.deepcopy(net_learner)
    gpu.estimator_.device = "cuda"
    gpu.estimator_.module_.to("cuda")
    assert get_adapter(gpu).embed(X, [0], as_tensor=True).is_cuda
    pool = net_learner.pool_indices_
    a = strategy(net_learner, X, n_instances=12, candidates=pool, random_state=0)
    b = strategy(gpu, X, n_instances=12, candidates=pool, random_state=0)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------- issue 13: fixes held to papers
def test_batchbald_blocks_reuse_the_joint_selection_within_a_block(net_learner, blobs):
    X, _ = blobs
    pool = net_learner.pool_indices_
    kw = dict(candidates=pool, random_state=5)
    joint = BatchBALD(n_mc_samples=6, n_joint_samples=200, block_size=None)
    # a batch within one block is the paper's joint selection, exactly
    for n in (1, 4):
        small = BatchBALD(n_mc_samples=6, n_joint_samples=200, block_size=4)
        np.testing.assert_array_equal(
            small(net_learner, X, n_instances=n, **kw),
            joint(net_learner, X, n_instances=n, **kw),
        )
    # beyond it: blocks of 4 under fresh masks, the first block unchanged
    blocked = BatchBALD(n_mc_samples=6, n_joint_samples=200, block_size=4)
    sel = blocked(net_learner, X, n_instances=10, **kw)
    assert len(set(sel)) == 10 and np.isin(sel, pool).all()
    np.testing.assert_array_equal(sel[:4], joint(net_learner, X, n_instances=4, **kw))
    with pytest.raises(ValueError, match="'block_size' parameter"):
        BatchBALD(block_size=0)(net_learner, X, n_instances=2)


def test_ood_filter_auto_adapts_to_the_ood_share():
    # scores: in-distribution rows near 0, OOD rows far; a share of OOD
    # rows (35 %) above a fixed contamination (20 %)
    rng = np.random.RandomState(0)
    ID = rng.normal(size=(130, 4)).astype(np.float32)
    OOD = (rng.normal(size=(70, 4)) + 12.0).astype(np.float32)
    X = np.r_[ID, OOD]
    is_ood = np.r_[np.zeros(130, bool), np.ones(70, bool)]
    y = np.full(len(X), -1)
    y[:10] = np.arange(10) % 2
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y)
    pool = learner.pool_indices_
    kept = {}
    for c in ("auto", 0.2):
        f = OODFilter(contamination=c, embedding="input")
        kept[c] = f._narrow(learner, X, n_final=5, candidates=pool, random_state=0)
    assert is_ood[kept[0.2]].sum() == 70 - int(0.2 * len(pool))  # the leak
    assert not is_ood[kept["auto"]].any()  # auto drops every OOD row
    assert (~is_ood[kept["auto"]]).sum() >= 0.9 * 120  # and few ID rows
    # in a pipeline, the step decides the size: no OOD pick behind auto
    pipe = OODFilter(embedding="input") | MarginSampling()
    sel = pipe(learner, X, n_instances=20, candidates=pool, random_state=0)
    assert not is_ood[sel].any()
    with pytest.raises(ValueError, match="'contamination' parameter"):
        OODFilter(contamination="always")(learner, X, n_instances=2)


def test_auto_threshold_is_the_median_mad_rule():
    from skal.strategies._ood import auto_threshold

    s = np.r_[np.arange(11.0), 100.0]
    kept = s[:11]  # the first pass drops 100; the rule on the rest is stable
    med = np.median(kept)
    mad = np.median(np.abs(kept - med))
    assert auto_threshold(s) == pytest.approx(med + 2.5 * 1.4826 * mad)
    assert auto_threshold(np.ones(5)) == 1.0
    # 30 % outliers around 5: one pass keeps most of them, the iteration none
    rng = np.random.RandomState(0)
    mixed = np.r_[rng.normal(size=350), rng.normal(5.0, 1.0, size=150)]
    med = np.median(mixed)
    one_pass = med + 2.5 * 1.4826 * np.median(np.abs(mixed - med))
    assert (mixed[350:] <= one_pass).mean() > 0.5
    t = auto_threshold(mixed)
    assert (mixed[350:] <= t).mean() < 0.05 and (mixed[:350] <= t).mean() > 0.98


def test_consistent_mc_dropout_shares_one_network_per_sample(net_learner, blobs):
    X, _ = blobs
    ad = get_adapter(net_learner)
    # row 0 three times, in different batches of the net's iterator
    Xd = np.r_[X[:1], X[1:300], X[:1], X[:1]].astype(np.float32)
    rows = [0, 240, 241]
    P = ad.mc_proba(Xd, n_draws=8, random_state=0, consistent=True)
    np.testing.assert_allclose(P[rows[1]], P[rows[0]], rtol=1e-6)
    np.testing.assert_allclose(P[rows[2]], P[rows[0]], rtol=1e-6)
    assert np.ptp(P[0], axis=0).max() > 1e-3  # the samples still differ
    Q = ad.mc_proba(Xd, n_draws=8, random_state=0)  # per-row masks
    assert np.abs(Q[rows[1]] - Q[rows[0]]).max() > 1e-3
    again = ad.mc_proba(Xd, n_draws=8, random_state=0, consistent=True)
    np.testing.assert_array_equal(P, again)
    # no hook is left behind: the default draws are unchanged afterwards
    np.testing.assert_array_equal(Q, ad.mc_proba(Xd, n_draws=8, random_state=0))
