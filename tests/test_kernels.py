"""Tests of skal._kernels against naive float64 reference implementations."""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from skal._kernels import (
    badge_kmeans_pp,
    badge_sq_distances,
    default_chunk_size,
    k_center_greedy,
    kmeans,
    kmeans_pp,
    knn,
    radius_graph,
    typicality,
    typiclust,
)
from skal.utils._testing import rand, softmax_rows

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


# --------------------------------------------------------------------------
# naive float64 references
# --------------------------------------------------------------------------
def sqdist(A, B):
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)


def naive_k_center(X, n, init=None, first=None):
    X = np.asarray(X, dtype=np.float64)
    N = len(X)
    if init is not None and len(init):
        mins = sqdist(X, init).min(1)
        picks = []
    else:
        mins = sqdist(X, X[[first]])[:, 0]
        picks = [first]
    while len(picks) < n:
        m = mins.copy()
        m[picks] = -1
        j = int(np.argmax(m))
        picks.append(j)
        mins = np.minimum(mins, sqdist(X, X[[j]])[:, 0])
    assert len(set(picks)) == len(picks) <= N
    return picks


def inverse_cdf(w, u):
    c = np.cumsum(w)
    return int(np.searchsorted(c, u * c[-1], side="right"))


def naive_d2_seeding(D2_to, N, n, u, first=None, mins=None):
    """Generic D^2 seeding; ``D2_to(j)`` gives squared distances to row j."""
    picks = []
    if mins is None:
        picks.append(first if first is not None else min(int(u[0] * N), N - 1))
        mins = D2_to(picks[0])
    while len(picks) < n:
        w = mins.copy()
        w[picks] = 0
        j = inverse_cdf(w, u[len(picks)])
        picks.append(j)
        mins = np.minimum(mins, D2_to(j))
    return picks


def naive_kmeans_pp(X, n, u, init=None):
    X = np.asarray(X, dtype=np.float64)

    def D2_to(j):
        return sqdist(X, X[[j]])[:, 0]

    mins = sqdist(X, init).min(1) if init is not None else None
    return naive_d2_seeding(D2_to, len(X), n, u, mins=mins)


def gradient_embedding(P, H):
    P = np.asarray(P, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    A = P - np.eye(P.shape[1])[P.argmax(1)]
    return (A[:, :, None] * H[:, None, :]).reshape(len(P), -1)


def naive_badge(P, H, n, u):
    G = gradient_embedding(P, H)

    def D2_to(j):
        return sqdist(G, G[[j]])[:, 0]

    first = int(np.argmax((G**2).sum(1)))
    return naive_d2_seeding(D2_to, len(G), n, u, first=first)


def assert_distinct(idx, n, N):
    idx = np.asarray(idx)
    assert idx.dtype == np.int64
    assert len(idx) == min(n, N)
    assert len(np.unique(idx)) == len(idx)
    if len(idx):
        assert idx.min() >= 0 and idx.max() < N


# --------------------------------------------------------------------------
# k-center greedy
# --------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_k_center_matches_naive_without_init(chunk_size):
    X = rand(120, 7)
    got = k_center_greedy(X, 15, random_state=3, chunk_size=chunk_size)
    assert got.dtype == torch.int64 and got.device.type == "cpu"
    assert got.tolist() == naive_k_center(X, 15, first=int(got[0]))


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_k_center_matches_naive_with_init(chunk_size):
    X, R = rand(150, 9, seed=1), rand(11, 9, seed=2)
    got = k_center_greedy(X, 20, init=R, chunk_size=chunk_size)
    assert got.tolist() == naive_k_center(X, 20, init=R)


def test_k_center_first_pick_uniform_and_seeded():
    X = rand(50, 3)
    a = k_center_greedy(X, 5, random_state=torch.Generator().manual_seed(7))
    b = k_center_greedy(X, 5, random_state=7)
    assert a.tolist() == b.tolist()
    firsts = {int(k_center_greedy(X, 1, random_state=s)[0]) for s in range(40)}
    assert len(firsts) > 10
    torch.manual_seed(0)
    c = k_center_greedy(X, 5)
    torch.manual_seed(0)
    assert k_center_greedy(X, 5).tolist() == c.tolist()


def test_k_center_duplicates_and_clipping():
    X = np.repeat(rand(3, 4), 5, axis=0)  # 15 rows, 3 distinct
    got = k_center_greedy(X, 15, random_state=0)
    assert sorted(got.tolist()) == list(range(15))
    # the three distinct points come first
    assert len({tuple(X[i]) for i in got[:3].tolist()}) == 3
    assert_distinct(k_center_greedy(X, 40, init=X[:2]), 40, 15)
    assert k_center_greedy(X, 0).numel() == 0


# --------------------------------------------------------------------------
# k-means++
# --------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [None, 3])
@pytest.mark.parametrize("with_init", [False, True])
def test_kmeans_pp_injected_draws_match_naive(chunk_size, with_init):
    X = rand(100, 6, seed=4)
    R = rand(5, 6, seed=5) if with_init else None
    u = np.random.default_rng(6).random(25)
    got = kmeans_pp(X, 25, init=R, uniforms=u, chunk_size=chunk_size)
    assert got.tolist() == naive_kmeans_pp(X, 25, u, init=R)


def test_kmeans_pp_d2_distribution():
    """Empirical distribution of a D^2 draw matches D^2 / sum(D^2)."""
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.5, 0.5]])
    R = np.array([[0.0, 0.0]])
    p = sqdist(X, R)[:, 0]
    p /= p.sum()
    g = torch.Generator().manual_seed(0)
    draws = 3000
    counts = np.zeros(len(X))
    # n=2 so that the second draw (from the first pick and R) is also covered
    second = np.zeros(len(X))
    first = 0
    for _ in range(draws):
        a, b = kmeans_pp(X, 2, init=R, random_state=g).tolist()
        counts[a] += 1
        if a == 3:
            second[b] += 1
            first += 1
    assert counts[0] == 0  # zero D^2 is never drawn
    assert chisquare(counts[1:], p[1:] * draws).pvalue > 1e-3
    q = np.minimum(sqdist(X, R)[:, 0], sqdist(X, X[[3]])[:, 0])
    q[3] = 0
    q /= q.sum()
    assert second[[0, 3]].sum() == 0
    assert chisquare(second[q > 0], q[q > 0] * first).pvalue > 1e-3


def test_kmeans_pp_duplicates_fall_back_to_uniform():
    X = np.ones((10, 3), dtype=np.float32)
    got = kmeans_pp(X, 10, random_state=1)
    assert sorted(got.tolist()) == list(range(10))
    got = kmeans_pp(X, 4, init=X[:1], random_state=1)
    assert_distinct(got, 4, 10)
    # u close to 1 never runs past the last available row
    got = kmeans_pp(X, 10, uniforms=np.full(10, 1 - 1e-16))
    assert sorted(got.tolist()) == list(range(10))


def test_kmeans_pp_deterministic_given_generator():
    X = rand(200, 5)
    a = kmeans_pp(X, 30, random_state=torch.Generator().manual_seed(3))
    b = kmeans_pp(X, 30, random_state=torch.Generator().manual_seed(3))
    c = kmeans_pp(X, 30, random_state=torch.Generator().manual_seed(4))
    assert a.tolist() == b.tolist() != c.tolist()


def test_kernels_take_random_state_as_the_strategies_do():
    """One name for the kernels' randomness (issue 29): ``random_state`` takes
    an int, a torch.Generator or a numpy RandomState (one seed drawn)."""
    X = rand(200, 5)
    seed = int(np.random.RandomState(3).randint(np.iinfo(np.int32).max))
    for kernel in (k_center_greedy, kmeans_pp):
        by_rng = kernel(X, 12, random_state=np.random.RandomState(3))
        assert by_rng.tolist() == kernel(X, 12, random_state=seed).tolist()
    for fn in (k_center_greedy, kmeans_pp, badge_kmeans_pp, kmeans, typiclust):
        assert "random_state" in inspect.signature(fn).parameters
        assert "generator" not in inspect.signature(fn).parameters


# --------------------------------------------------------------------------
# BADGE
# --------------------------------------------------------------------------
def test_badge_sq_distances_equal_explicit_gradients():
    P, H = softmax_rows(40, 4, seed=1), rand(40, 6, seed=2)
    G = gradient_embedding(P, H)
    centers = [0, 5, 17, 39]
    expected = sqdist(G, G[centers])
    got = badge_sq_distances(P, H, centers).numpy()
    assert got.shape == (40, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_badge_kmeans_pp_matches_naive(chunk_size):
    P, H = softmax_rows(90, 5, seed=3), rand(90, 8, seed=4)
    u = np.random.default_rng(0).random(20)
    got = badge_kmeans_pp(P, H, 20, uniforms=u, chunk_size=chunk_size)
    assert got.tolist() == naive_badge(P, H, 20, u)


def test_badge_first_pick_is_max_gradient_norm():
    P, H = softmax_rows(70, 3, seed=5), rand(70, 4, seed=6)
    G = gradient_embedding(P, H)
    for seed in range(3):
        got = badge_kmeans_pp(P, H, 5, random_state=seed)
        assert int(got[0]) == int(np.argmax((G**2).sum(1)))
        assert_distinct(got, 5, 70)


def test_badge_confident_duplicates():
    P = np.tile(np.array([[1.0, 0.0, 0.0]], dtype=np.float32), (12, 1))
    H = np.ones((12, 2), dtype=np.float32)  # all gradients are zero
    got = badge_kmeans_pp(P, H, 12, random_state=0)
    assert sorted(got.tolist()) == list(range(12))


# --------------------------------------------------------------------------
# nearest neighbours, radius graph, typicality
# --------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_knn_matches_sklearn(chunk_size):
    X = rand(80, 5, seed=7)
    d, i = knn(X, 4, chunk_size=chunk_size)
    ed, ei = NearestNeighbors(n_neighbors=4).fit(X.astype(np.float64)).kneighbors()
    np.testing.assert_array_equal(i.numpy(), ei)
    np.testing.assert_allclose(d.numpy(), ed, rtol=1e-4, atol=1e-4)
    Y = rand(30, 5, seed=8)
    d, i = knn(X, 3, Y=Y, chunk_size=chunk_size)
    ed, ei = NearestNeighbors(n_neighbors=3).fit(Y).kneighbors(X)
    np.testing.assert_array_equal(i.numpy(), ei)
    np.testing.assert_allclose(d.numpy(), ed, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        knn(X, 80)


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_radius_graph_matches_brute_force(chunk_size):
    X = rand(60, 3, seed=9)
    D = np.sqrt(sqdist(X, X))
    off = np.sort(D[~np.eye(60, dtype=bool)])
    gaps = np.diff(off)
    k = 300 + int(np.argmax(gaps[300:900]))  # a radius far from every distance
    radius = (off[k] + off[k + 1]) / 2
    row, col = radius_graph(X, radius, chunk_size=chunk_size)
    er, ec = np.nonzero((D < radius) & ~np.eye(60, dtype=bool))
    np.testing.assert_array_equal(row.numpy(), er)
    np.testing.assert_array_equal(col.numpy(), ec)
    row, col = radius_graph(X, 0.0)
    assert row.numel() == col.numel() == 0


def test_typicality_matches_naive():
    X = rand(50, 4, seed=10)
    D = np.sqrt(sqdist(X, X))
    np.fill_diagonal(D, np.inf)
    expected = 1 / (np.sort(D, 1)[:, :7].mean(1) + 1e-5)
    np.testing.assert_allclose(typicality(X, 7).numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(typicality(X, 7, chunk_size=3).numpy(), expected, 1e-4)
    assert typicality(X[:1], 7).tolist() == [1.0]
    assert typicality(X[:3], 20).shape == (3,)  # k clipped to N - 1


# --------------------------------------------------------------------------
# k-means and TypiClust
# --------------------------------------------------------------------------
def blobs(n_per, centers, seed=0, scale=0.05):
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, dtype=np.float64)
    X = np.concatenate(
        [c + scale * rng.standard_normal((n_per, len(c))) for c in centers]
    )
    return X.astype(np.float32), np.repeat(np.arange(len(centers)), n_per)


def test_kmeans_recovers_blobs():
    centers = 10 * np.eye(5)
    X, y = blobs(30, centers)
    labels, C = kmeans(X, 5, random_state=0)
    assert adjusted_rand_score(y, labels.numpy()) == 1.0
    ref = KMeans(5, n_init=1, random_state=0).fit(X).cluster_centers_
    np.testing.assert_allclose(np.sort(C.numpy(), 0), np.sort(ref, 0), atol=1e-4)


def test_typiclust_one_typical_row_per_blob():
    centers = 10 * np.eye(4)
    X, y = blobs(25, centers, seed=1)
    X[7] = centers[0]  # the most typical row of blob 0 sits at its center
    got = typiclust(X, 4, random_state=0)
    assert sorted(y[got.numpy()].tolist()) == [0, 1, 2, 3]
    assert 7 in got.tolist()
    # a labeled row inside blob 2 covers it: blob 2 is visited last
    got = typiclust(X, 4, init=X[[50]], n_clusters=4, random_state=0)
    assert y[int(got[-1])] == 2
    assert_distinct(typiclust(X, 100, random_state=0), 100, 100)


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    N=st.integers(1, 200),
    D=st.integers(1, 16),
    n_distinct=st.integers(1, 200),
    n=st.integers(0, 220),
    seed=st.integers(0, 2**31 - 1),
)
def test_distinct_exact_count_property(N, D, n_distinct, n, seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((min(n_distinct, N), D)).astype(np.float32)
    X = base[rng.integers(0, len(base), N)]  # duplicated rows
    P = softmax_rows(N, 3, seed=seed % 1000)
    P[rng.random(N) < 0.3] = np.eye(3, dtype=np.float32)[0]  # zero gradients
    init = X[: max(1, N // 4)]
    chunk = int(rng.integers(1, 50))
    results = [
        k_center_greedy(X, n, random_state=seed),
        k_center_greedy(X, n, init=init, chunk_size=chunk),
        kmeans_pp(X, n, random_state=seed, chunk_size=chunk),
        kmeans_pp(X, n, init=init, random_state=seed),
        badge_kmeans_pp(P, X, n, random_state=seed, chunk_size=chunk),
        typiclust(X, n, random_state=seed, n_iter=3),
    ]
    for idx in results:
        assert_distinct(idx.numpy(), n, N)


# --------------------------------------------------------------------------
# misc: dtypes, chunking, devices
# --------------------------------------------------------------------------
def test_float64_numpy_and_tensor_inputs_agree():
    X64 = rand(90, 6, seed=11, dtype=np.float64)
    X32 = torch.as_tensor(X64.astype(np.float32))
    assert k_center_greedy(X64, 10, init=X64[:2]).tolist() == (
        k_center_greedy(X32, 10, init=X32[:2]).tolist()
    )
    u = np.random.default_rng(1).random(10)
    assert (
        kmeans_pp(X64, 10, uniforms=u).tolist()
        == kmeans_pp(X32, 10, uniforms=u).tolist()
    )
    P = softmax_rows(90, 4).astype(np.float64)
    assert (
        badge_kmeans_pp(P, X64, 10, uniforms=u).tolist()
        == badge_kmeans_pp(
            torch.as_tensor(P, dtype=torch.float32), X32, 10, uniforms=u
        ).tolist()
    )
    d64, i64 = knn(X64, 3)
    d32, i32 = knn(X32, 3)
    assert torch.equal(i64, i32) and torch.allclose(d64, d32)


@pytest.mark.parametrize("parallel_matvec", [False, True])
def test_tiny_chunks_identical_to_single_chunk(monkeypatch, parallel_matvec):
    import skal._kernels._linalg as K

    if parallel_matvec:  # the path used for large pools
        monkeypatch.setattr(K, "_CPU_MATVEC_MIN_BYTES", 0)
    X = rand(70, 80, seed=12)
    R = rand(4, 80, seed=13)
    P = softmax_rows(70, 4, seed=14)
    for f in (
        lambda c: k_center_greedy(X, 12, init=R, chunk_size=c),
        lambda c: kmeans_pp(X, 12, random_state=5, chunk_size=c),
        lambda c: badge_kmeans_pp(P, X, 12, random_state=5, chunk_size=c),
        lambda c: typiclust(X, 5, random_state=5, chunk_size=c),
        lambda c: knn(X, 5, chunk_size=c)[1],
    ):
        assert torch.equal(f(3), f(None)) and torch.equal(f(1), f(10**6))


def test_default_chunk_size():
    assert default_chunk_size(10, 100) == 10
    assert default_chunk_size(0, 100) == 1
    rows = default_chunk_size(10**7, 512, budget_bytes=64 * 2**20)
    assert 1 <= rows and 2 * 4 * 512 * rows <= 64 * 2**20
    assert default_chunk_size(10**7, 10**12) == 1


def test_input_validation():
    with pytest.raises(ValueError):
        k_center_greedy(np.zeros(5), 2)
    with pytest.raises(ValueError):
        kmeans_pp(np.zeros((5, 2)), -1)
    with pytest.raises(ValueError):
        k_center_greedy(np.zeros((5, 2)), 2, init=np.zeros((1, 3)))
    with pytest.raises(ValueError):
        badge_kmeans_pp(np.ones((4, 2)) / 2, np.zeros((5, 2)), 2)
    assert k_center_greedy(np.zeros((0, 2)), 3).numel() == 0


@cuda
def test_cuda_matches_cpu():
    X = rand(500, 32, seed=15)
    R = rand(6, 32, seed=16)
    P = softmax_rows(500, 10, seed=17)
    u = np.random.default_rng(2).random(40)
    Xc, Rc, Pc = (torch.as_tensor(a, device="cuda") for a in (X, R, P))
    assert (
        k_center_greedy(Xc, 40, init=Rc).tolist()
        == k_center_greedy(X, 40, init=R).tolist()
    )
    assert (
        kmeans_pp(Xc, 40, uniforms=u).tolist() == kmeans_pp(X, 40, uniforms=u).tolist()
    )
    assert (
        badge_kmeans_pp(Pc, Xc, 40, uniforms=u).tolist()
        == badge_kmeans_pp(P, X, 40, uniforms=u).tolist()
    )
    gen = torch.Generator(device="cuda").manual_seed(0)
    assert_distinct(kmeans_pp(Xc, 40, random_state=gen).numpy(), 40, 500)
    d, i = knn(Xc, 5)
    d0, i0 = knn(X, 5)
    assert torch.equal(i.cpu(), i0) and torch.allclose(d.cpu(), d0, atol=1e-4)
    r, c = radius_graph(Xc, 7.0)
    r0, c0 = radius_graph(X, 7.0)
    assert r.device.type == "cuda" and r.numel() == r0.numel()
    assert_distinct(typiclust(Xc, 20, random_state=0).numpy(), 20, 500)


@cuda
def test_cuda_int_seeds_select_as_cpu():
    """An int seed draws on the CPU whatever the device: the k-means
    strategies' seeds (and hence their picks) agree between CPU and GPU."""
    X = rand(2000, 32, seed=21)
    P = softmax_rows(2000, 10, seed=22)
    Xc, Pc = torch.as_tensor(X, device="cuda"), torch.as_tensor(P, device="cuda")
    for seed in (0, 1, 2):
        assert (
            kmeans_pp(Xc, 30, random_state=seed).tolist()
            == kmeans_pp(X, 30, random_state=seed).tolist()
        )
        assert (
            k_center_greedy(Xc, 30, random_state=seed).tolist()
            == k_center_greedy(X, 30, random_state=seed).tolist()
        )
        assert (
            badge_kmeans_pp(Pc, Xc, 30, random_state=seed).tolist()
            == badge_kmeans_pp(P, X, 30, random_state=seed).tolist()
        )
        # subsample + seeding agree exactly; Lloyd iterations in float32 may
        # differ only at near-ties of the assignment
        labels, C = kmeans(Xc, 12, random_state=seed, init_sample_size=500)
        labels0, C0 = kmeans(X, 12, random_state=seed, init_sample_size=500)
        assert adjusted_rand_score(labels.cpu().numpy(), labels0.numpy()) > 0.99
        assert torch.allclose(C.cpu(), C0, atol=1e-4)
        assert (
            typiclust(Xc, 10, random_state=seed).tolist()
            == typiclust(X, 10, random_state=seed).tolist()
        )


@pytest.mark.parametrize(
    "matvec, vec_chunk",
    [
        ("numpy", 32000),
        ("numpy", 3),
        ("onednn", 32000),
        ("blocked", 7),
        ("onednn", 1),
        ("mv", 5),
    ],
)
def test_cpu_code_paths_match_naive(monkeypatch, matvec, vec_chunk):
    """numpy's BLAS / oneDNN / cache-blocked / MKL mat-vec, one / many slices
    for the O(N) updates and the two-level D^2 sampler all agree with the
    naive references."""
    import skal._kernels._linalg as K

    monkeypatch.setattr(K, "_USE_NUMPY_GEMV", matvec == "numpy")
    monkeypatch.setattr(K, "_USE_ONEDNN", matvec == "onednn")
    if matvec != "mv":
        monkeypatch.setattr(K, "_CPU_MATVEC_MIN_BYTES", 0)
    monkeypatch.setattr(K, "_VEC_CHUNK", vec_chunk)
    mode = K._MatVec(torch.zeros(150, 96), None).mode
    assert mode == matvec
    X = rand(150, 96, seed=18)
    R = rand(3, 96, seed=19)
    P = softmax_rows(150, 4, seed=20)
    u = np.random.default_rng(3).random(12)
    assert k_center_greedy(X, 12, init=R).tolist() == naive_k_center(X, 12, init=R)
    assert kmeans_pp(X, 12, uniforms=u).tolist() == naive_kmeans_pp(X, 12, u)
    assert badge_kmeans_pp(P, X, 12, uniforms=u).tolist() == naive_badge(P, X, 12, u)
    labels, C = kmeans(X, 5, random_state=0)
    np.testing.assert_array_equal(labels.numpy(), sqdist(X, C.numpy()).argmin(1))


def test_duplicates_with_many_slices(monkeypatch):
    import skal._kernels._linalg as K

    monkeypatch.setattr(K, "_VEC_CHUNK", 7)
    rng = np.random.default_rng(0)
    for X in (np.ones((60, 3), np.float32), rand(4, 3)[rng.integers(0, 4, 60)]):
        P = softmax_rows(60, 3)
        P[::2] = np.eye(3, dtype=np.float32)[1]
        for idx in (
            kmeans_pp(X, 60, random_state=1),
            kmeans_pp(X, 60, init=X[:3], random_state=2),
            k_center_greedy(X, 60, random_state=3),
            badge_kmeans_pp(P, X, 60, random_state=4),
            kmeans_pp(X, 60, uniforms=np.full(60, 1 - 1e-16)),
        ):
            assert sorted(idx.tolist()) == list(range(60))
