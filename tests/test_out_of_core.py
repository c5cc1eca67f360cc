"""Pools larger than memory: np.memmap and other sliceable array-likes are
scored and selected from in row blocks, never loaded whole, and give the
same selections as the same pool in memory."""

import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skal._kernels._blocks as K
import skal._kernels._linalg as KL
from skal import ActiveLearner
from skal._kernels import badge_kmeans_pp, k_center_greedy, kmeans_pp
from skal.strategies import BADGE, CoreSet, EntropySampling, MarginSampling
from skal.utils._testing import rand, softmax_rows


def to_memmap(X, path, mode="r"):
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    return np.memmap(path, dtype=X.dtype, mode=mode, shape=X.shape)


class Counting:
    """A sliceable 2-D array-like (as an h5py / zarr dataset is) that records
    the largest number of rows read at once and refuses to be converted."""

    def __init__(self, X):
        self._X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.max_rows = 0

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        out = self._X[key]
        if out.ndim == self._X.ndim:
            self.max_rows = max(self.max_rows, out.shape[0])
        return out

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the pool was loaded whole")


def selections(X, P, R):
    return [
        k_center_greedy(X, 15, init=R).tolist(),
        k_center_greedy(X, 15, random_state=4).tolist(),
        kmeans_pp(X, 15, random_state=5).tolist(),
        kmeans_pp(X, 15, init=R, random_state=6).tolist(),
        badge_kmeans_pp(P, X, 15, random_state=7).tolist(),
    ]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    N=st.integers(1, 300),
    D=st.integers(1, 80),
    block_bytes=st.sampled_from([1, 64, 4096, 1 << 20]),
    seed=st.integers(0, 2**16),
)
def test_memmap_selects_as_in_memory(
    tmp_path_factory, monkeypatch, N, D, block_bytes, seed
):
    """Any number of blocks, any width: the picks are exactly the in-memory ones."""
    monkeypatch.setattr(K, "_STREAM_BYTES", block_bytes)
    X = rand(N, D, seed=seed)
    P = softmax_rows(N, 4, seed=seed + 1)
    R = rand(3, D, seed=seed + 2)
    mm = to_memmap(X, tmp_path_factory.mktemp("mm") / "pool.f32")
    assert selections(mm, P, R) == selections(X, P, R)


@pytest.mark.parametrize("matvec", ["numpy", "onednn"])
def test_memmap_selects_as_in_memory_on_the_wide_paths(tmp_path, monkeypatch, matvec):
    """The mat-vec of large pools (BLAS / oneDNN) gives the same bits per row
    whatever the block boundaries: memmap picks equal in-memory picks."""
    monkeypatch.setattr(KL, "_CPU_MATVEC_MIN_BYTES", 0)
    monkeypatch.setattr(KL, "_USE_NUMPY_GEMV", matvec == "numpy")
    monkeypatch.setattr(K, "_STREAM_BYTES", 4 * 96 * 37)  # 37 rows per block
    X = rand(2000, 96, seed=14)
    P = softmax_rows(2000, 10, seed=15)
    mm = to_memmap(X, tmp_path / "pool.f32")
    assert KL._MatVec(torch.as_tensor(X), None).mode == matvec
    assert selections(mm, P, X[:3]) == selections(X, P, X[:3])


def test_array_like_read_in_blocks_never_whole(monkeypatch):
    monkeypatch.setattr(K, "_STREAM_BYTES", 40 * 4 * 16)  # 40 rows of 16
    X = rand(500, 16, seed=1)
    P = softmax_rows(500, 3, seed=2)
    pool = Counting(X)
    got = selections(pool, P, X[:2])
    assert got == selections(X, P, X[:2])
    assert 0 < pool.max_rows <= 40


def test_float16_storage_accumulates_in_float32(tmp_path, monkeypatch):
    monkeypatch.setattr(K, "_STREAM_BYTES", 1 << 12)
    X16 = rand(400, 24, seed=3, dtype=np.float16)
    mm = to_memmap(X16, tmp_path / "pool.f16")
    P = softmax_rows(400, 5, seed=4)
    X32 = X16.astype(np.float32)
    assert selections(mm, P, X32[:2]) == selections(X32, P, X32[:2])


def test_row_subset_reads_only_its_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(K, "_STREAM_BYTES", 1 << 10)
    X = rand(300, 8, seed=5)
    rows = np.random.default_rng(0).permutation(300)[:120]
    mm = to_memmap(X, tmp_path / "pool.f32")
    sub = K._RowSubset(mm, rows)
    assert sub.shape == (120, 8)
    P = softmax_rows(120, 3, seed=6)
    assert selections(sub, P, X[:2]) == selections(X[rows], P, X[:2])
    np.testing.assert_array_equal(np.asarray(sub), X[rows])


def test_copy_on_write_memmap_keeps_the_users_writes(tmp_path, monkeypatch):
    """Pages of a private (mode='c') mapping are never dropped."""
    monkeypatch.setattr(K, "_STREAM_BYTES", 1 << 12)
    X = rand(2000, 16, seed=7)
    mm = to_memmap(X, tmp_path / "pool.f32", mode="c")
    mm[::7] = 5.0  # written in memory only
    expected = np.array(mm)
    k_center_greedy(mm, 5, random_state=0)
    np.testing.assert_array_equal(np.asarray(mm), expected)
    assert k_center_greedy(mm, 5, init=X[:1]).tolist() == (
        k_center_greedy(expected, 5, init=X[:1]).tolist()
    )


def _rss_file_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_memmap_pages_are_released(tmp_path):
    """After a full pass the mapped pages are not kept resident."""
    X = rand(64 * 1024, 128, seed=8)  # 32 MiB
    mm = to_memmap(X, tmp_path / "pool.f32")
    before = _rss_file_kb()
    if before is None:
        pytest.skip("no RssFile in /proc/self/status")
    k_center_greedy(mm, 3, random_state=0)
    grown_mb = (_rss_file_kb() - before) / 1024
    assert grown_mb < 8, f"{grown_mb:.1f} MB of the 32 MB pool stayed resident"
    np.asarray(mm).sum()  # a plain pass maps every page: the test can fail
    assert (_rss_file_kb() - before) / 1024 > 16


@pytest.mark.parametrize(
    "strategy", [CoreSet(), BADGE(), MarginSampling(), EntropySampling()], ids=repr
)
@pytest.mark.parametrize("pipeline", [False, True])
def test_strategies_on_memmap_pool_match_in_memory(
    tmp_path, monkeypatch, strategy, pipeline
):
    monkeypatch.setattr(K, "_STREAM_BYTES", 1 << 12)
    X = rand(600, 12, seed=9)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    y_fit = np.full(600, -1)
    y_fit[:30] = y[:30]
    mm = to_memmap(X, tmp_path / "pool.f32")
    est = (
        make_pipeline(StandardScaler(), LogisticRegression())
        if pipeline
        else (LogisticRegression())
    )
    a = ActiveLearner(est, strategy=strategy, n_instances=12, random_state=0)
    b = ActiveLearner(est, strategy=strategy, n_instances=12, random_state=0)
    a.fit(X, y_fit)
    b.fit(mm, y_fit)
    assert a.query(X).tolist() == b.query(mm).tolist()  # explicit pool
    assert a.query().tolist() == b.query().tolist()  # the stored pool (a subset)


@pytest.mark.parametrize("strategy", [CoreSet(), BADGE(), MarginSampling()], ids=repr)
def test_strategies_never_load_an_array_like_pool(monkeypatch, strategy):
    monkeypatch.setattr(K, "_STREAM_BYTES", 50 * 4 * 6)  # 50 rows of 6
    X = rand(400, 6, seed=10)
    y = (X[:, 0] > 0).astype(int)
    learner = ActiveLearner(LogisticRegression(), strategy=strategy, n_instances=9)
    learner.fit(X[:40], y[:40])
    pool = Counting(X)
    idx = strategy(learner, pool, n_instances=9, random_state=0)
    assert 0 < pool.max_rows <= 50
    assert idx.tolist() == strategy(learner, X, n_instances=9, random_state=0).tolist()


def test_learner_checks_an_array_like_pool_block_by_block(monkeypatch):
    """query(pool) checks finiteness in row blocks, never the whole pool."""
    monkeypatch.setattr(K, "_STREAM_BYTES", 50 * 4 * 6)  # 50 rows of 6
    X = rand(400, 6, seed=11)
    y = (X[:, 0] > 0).astype(int)
    learner = ActiveLearner(LogisticRegression(), strategy=MarginSampling())
    learner.fit(X[:40], y[:40])
    pool = Counting(X)
    learner.query(pool, n_instances=5)
    assert 0 < pool.max_rows <= 50
    bad = X.copy()
    bad[-1, 2] = np.nan  # in the last block
    with pytest.raises(ValueError, match="NaN"):
        learner.query(Counting(bad), n_instances=5)


def test_int_seeds_draw_on_the_cpu_for_every_device():
    """CPU and GPU runs seeded with an int draw the same numbers."""
    g = K._make_generator(7, torch.device("cuda"))
    assert g.device.type == "cpu"
    u = K._uniforms(5, 7, torch.device("cpu"))
    assert torch.equal(u, K._uniforms(5, 7, torch.device("cpu")))


def test_skorch_net_reads_a_memmap_pool_block_by_block(tmp_path, monkeypatch):
    from skal.models import get_adapter
    from skal.utils._testing import MLP, make_net

    monkeypatch.setattr(K, "_STREAM_BYTES", 40 * 4 * 6)  # 40 rows per block
    X = rand(300, 6, seed=11)
    y = (X[:, 0] > 0).astype(np.int64)
    torch.manual_seed(0)
    net = make_net(MLP, n_classes=2, max_epochs=2).fit(X[:60], y[:60])
    mm = to_memmap(X, tmp_path / "pool.f32")
    pool = Counting(X)
    adapter = get_adapter(net)
    rows = np.arange(5, 300, 3)
    for source in (mm, pool):
        np.testing.assert_allclose(
            adapter.embed(source, rows), adapter.embed(X, rows), rtol=1e-6, atol=1e-6
        )
        np.testing.assert_allclose(
            adapter.predict_proba(source), adapter.predict_proba(X), rtol=1e-6
        )
    assert 0 < pool.max_rows <= 40
    learner = ActiveLearner(net, strategy=CoreSet(), n_instances=7).fit(X[:60], y[:60])
    assert learner.query(mm).tolist() == learner.query(X).tolist()
