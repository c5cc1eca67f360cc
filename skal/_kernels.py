"""Fast selection kernels in torch.

Pure functions, independent of the rest of skal, that implement the
geometric core of the diversity-based query strategies: k-center greedy
(CoreSet), k-means++ seeding (KMeansSampling), BADGE seeding on implicit
gradient embeddings, nearest neighbours / typicality (TypiClust) and radius
graphs (ProbCover).

Conventions shared by every function
------------------------------------
* Inputs may be torch tensors or numpy arrays (converted with
  :func:`torch.as_tensor`, without a copy when they already are contiguous
  float32). Work happens on the input's device, in float32.
* Pools larger than memory: the one-pass kernels (:func:`k_center_greedy`,
  :func:`kmeans_pp`, and the embeddings of :func:`badge_kmeans_pp`) also
  take an ``np.memmap`` or any 2-D array-like with ``shape``, ``dtype`` and
  row slicing (h5py / zarr datasets). Such a pool is read in row blocks of
  ``_STREAM_BYTES`` and never loaded whole: extra memory stays
  ``O(N + block)``. The pages of a shared or read-only memmap are released
  after each block, so the process's resident size stays small too. Blocks
  of any float dtype are converted to float32, so accumulation is float32
  and the selection is that of the float32 pool. A float16 file halves the
  bytes on disk, but torch's float16 -> float32 conversion on the CPU is slow
  (measured ~10x the float32 time per pick at 1M x 128): it saves space, not
  time. Other kernels load such a pool.
* Work is chunked over the pool: extra memory is ``O(N + chunk * B)`` where
  ``B`` is the width of a distance block (number of reference rows, centers or
  pool rows); an ``N x B`` or ``N x N`` matrix is never materialised.
* Greedy selections make exactly one pass over the pool per selected sample.
  All per-step state (argmax indices, picks, uniform draws) stays on the
  device: there is no host synchronisation inside the selection loop, the
  picks are transferred once at the end.
* Randomness comes only from ``generator`` (a :class:`torch.Generator`, or an
  int seed). With ``generator=None`` a generator is seeded from torch's
  default generator, so ``torch.manual_seed`` makes results reproducible.
  An int (or None) seeds a CPU generator whatever the device, and the draws
  are moved to the device, so CPU and GPU runs draw the same numbers.
* Selection functions return a CPU ``int64`` tensor of distinct row indices,
  of length ``min(n, N)``; nearest-neighbour helpers return tensors on the
  input's device.
"""

from __future__ import annotations

import mmap
import warnings

import numpy as np
import torch
from sklearn.utils import assert_all_finite

__all__ = [
    "badge_kmeans_pp",
    "badge_sq_distances",
    "default_chunk_size",
    "k_center_greedy",
    "kmeans",
    "kmeans_pp",
    "knn",
    "radius_graph",
    "typicality",
    "typiclust",
]

_MiB = 1 << 20
#: default memory budget for one chunk's temporaries
DEFAULT_BUDGET_BYTES = 256 * _MiB
# The per-pick pass ``X @ c`` is memory-bound. On CPU, MKL's sgemv reaches only
# ~1/3 of the memory bandwidth on some CPUs (AMD EPYC: ~10 of 30 GB/s), so large
# pools go through oneDNN's inner product (``torch.ops.mkldnn._linear_pointwise``
# on the dense tensor, no copy, probed once): ~2x sgemv on an idle machine,
# ~1.6x under load, one parallel region per pass. Without oneDNN it falls back
# to a cache-blocked ``(X[s:e] * c).sum(1)`` (fast when idle, but two parallel
# regions per block, which suffers when the cores are oversubscribed).
_USE_ONEDNN = True
_ONEDNN_OK = None
# numpy's BLAS (OpenBLAS in the numpy wheels) sgemv is faster still on the
# tensor's memory (no copy): best of 12 on a loaded AMD EPYC, one thread,
# 1M x 128: 24.5 GB/s vs oneDNN 21.4 and a plain `sum` 35.3; 50k x 128: 30
# vs 23. It is preferred when available; oneDNN is the fallback.
_USE_NUMPY_GEMV = True
_CPU_MATVEC_BLOCK_BYTES = 4 * _MiB
# Below this width or size ``torch.mv`` is at least as fast. (oneDNN wins from
# ~1 MiB on: 50k x 128 float32 on one thread, 1.0 ms vs 2.3 ms per pass.)
_CPU_MATVEC_MIN_DIM = 64
_CPU_MATVEC_MIN_BYTES = 1 * _MiB
# On CPU the O(N) per-pick vector updates run on slices smaller than ATen's
# GRAIN_SIZE (32768), i.e. each on one thread: a parallel region costs a few
# microseconds on an idle machine but a scheduler time slice (~10 ms) as soon
# as another process competes for the cores, and there are ~6 such updates
# per pick. The single big pass over ``X`` per pick stays parallel.
_VEC_CHUNK = 32000
# Rows of an out-of-core pool are read in blocks of this many bytes (float32).
_STREAM_BYTES = 32 * _MiB


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def default_chunk_size(N, D, device=None, budget_bytes=DEFAULT_BUDGET_BYTES):
    """Number of rows per chunk so that a chunk's temporaries fit a budget.

    A chunk of ``rows`` pool rows against ``D`` columns (features, reference
    rows or centers) creates a ``rows x D`` float32 block plus at most one
    temporary of the same size; ``rows`` is chosen so that both together stay
    within ``budget_bytes`` (and, on CUDA, within a quarter of the free
    device memory).

    Parameters
    ----------
    N : int
        Number of rows to process (the result never exceeds ``max(N, 1)``).
    D : int
        Width of the per-row block.
    device : str or torch.device, optional
        Device the work runs on; on CUDA the free memory also bounds the chunk.
    budget_bytes : int, default=256 MiB
        Memory allowed for one chunk's temporaries.

    Returns
    -------
    rows : int
        Chunk size in rows, at least 1.

    Examples
    --------
    >>> from skal._kernels import default_chunk_size
    >>> default_chunk_size(10**6, 1000, budget_bytes=8 * 2**20)
    1048
    >>> default_chunk_size(10, 1000)
    10
    """
    per_row = 2 * 4 * max(int(D), 1)
    budget = int(budget_bytes)
    if device is not None and torch.device(device).type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(torch.device(device))
            budget = min(budget, free // 4)
        except Exception:  # pragma: no cover - depends on the driver
            pass
    rows = budget // per_row
    return int(max(1, min(max(int(N), 1), rows)))


def _is_out_of_core(X):
    """Whether ``X`` is a pool to read in row blocks (see the module notes)."""
    if isinstance(X, torch.Tensor):
        return False
    if isinstance(X, np.memmap):
        return True
    if isinstance(X, np.ndarray) or hasattr(X, "tocsr"):  # in memory, sparse
        return False
    shape = getattr(X, "shape", None)
    return (
        shape is not None
        and len(shape) == 2
        and hasattr(X, "dtype")
        and hasattr(X, "__getitem__")
    )


def _take_rows_sorted(X, idx):
    """``X[idx]`` read in increasing row order (h5py needs it), any order out."""
    order = np.argsort(idx, kind="stable")
    blk = np.asarray(X[idx[order]])
    out = np.empty_like(blk)
    out[order] = blk
    return out


class _RowSubset:
    """Rows ``rows`` (all when None) of an out-of-core pool, flattened to 2-D
    and read lazily: the model adapters hand it to the streaming kernels in
    place of a copy of the rows. ``np.asarray`` loads it."""

    device = torch.device("cpu")

    def __init__(self, X, rows=None):
        self.X = X
        self.rows = None if rows is None else np.asarray(rows, np.intp).reshape(-1)
        n = int(X.shape[0]) if self.rows is None else self.rows.shape[0]
        self.shape = (n, int(np.prod([int(v) for v in X.shape[1:]])))
        self.dtype = X.dtype
        self.ndim = 2

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("only row slices of a lazy pool are supported")
        if self.rows is None:
            blk = np.asarray(self.X[key])
        else:
            blk = _take_rows_sorted(self.X, self.rows[key])
        return blk.reshape(blk.shape[0], -1)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[:], dtype=dtype)


def _byte_bounds(a):
    """First and one-past-last byte addresses of an array's data."""
    lo = a.ctypes.data
    ext = sum((n - 1) * st for n, st in zip(a.shape, a.strides, strict=True))
    return min(lo, lo + ext), max(lo, lo + ext) + a.itemsize


def _shared_mmap(X):
    """``(mmap, address)`` behind a memmap whose pages may be dropped, else None.

    Only shared or read-only mappings: dropping the pages of a copy-on-write
    mapping (``mode="c"``) would discard the user's writes.
    """
    if not isinstance(X, np.memmap) or X.mode not in (
        "r",
        "r+",
        "w+",
        "readonly",
        "readwrite",
        "write",
    ):
        return None
    b = X
    while isinstance(b, np.ndarray):
        b = b.base
    if not isinstance(b, mmap.mmap) or len(b) == 0:
        return None
    return b, np.frombuffer(b, np.uint8).ctypes.data


def _block_tensor(raw):
    """A block of rows as a 2-D float32 CPU tensor (a view when possible)."""
    if hasattr(raw, "toarray"):
        raw = raw.toarray()
    if not isinstance(raw, torch.Tensor):
        with warnings.catch_warnings():  # read-only memmap: we never write
            warnings.simplefilter("ignore", UserWarning)
            raw = torch.as_tensor(np.asarray(raw))
    return raw.reshape(raw.shape[0], -1).to(torch.float32).contiguous()


class _Blocks:
    """An out-of-core pool, read in row blocks of ``_STREAM_BYTES``.

    Iterating yields ``(start, stop, block)`` with ``block`` a float32 CPU
    tensor that is only valid until the next step (a memmap's pages are
    released after each block).
    """

    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, X, name="X"):
        if isinstance(X, _RowSubset):
            X, self.subset = X.X, X.rows
        else:
            self.subset = None
        shape = tuple(int(v) for v in X.shape)
        if len(shape) < 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {shape}")
        N = shape[0] if self.subset is None else self.subset.shape[0]
        self.shape = (N, int(np.prod(shape[1:])))
        self.X = X
        self.rows = max(1, _STREAM_BYTES // (4 * max(self.shape[1], 1)))
        self._mm = _shared_mmap(X)

    def raw(self):
        """``(start, stop, block)`` with the block as read (dtype, shape kept)."""
        N, sub = self.shape[0], self.subset
        for s in range(0, N, self.rows):
            e = min(N, s + self.rows)
            if sub is None:
                raw = self.X[s:e]
                yield s, e, raw
                self._release(raw)
            else:
                idx = sub[s:e]
                yield s, e, _take_rows_sorted(self.X, idx)
                if self._mm is not None and idx.size:
                    self._release(self.X[int(idx.min()) : int(idx.max()) + 1])

    def __iter__(self):
        for s, e, raw in self.raw():
            yield s, e, _block_tensor(raw)

    def _release(self, raw):
        if self._mm is None or not isinstance(raw, np.ndarray) or raw.size == 0:
            return
        mm, base = self._mm
        lo, hi = _byte_bounds(raw)
        page = mmap.PAGESIZE
        start = ((lo - base) // page) * page
        stop = min(hi - base, len(mm))
        if 0 <= start < stop:
            mm.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def index_select(self, dim, idx):
        """Rows ``idx`` (a LongTensor) as a float32 tensor; reads only them."""
        rows = [int(i) for i in idx.reshape(-1).tolist()]
        if self.subset is not None:
            rows = [int(self.subset[i]) for i in rows]
        if not rows:
            return torch.empty(0, self.shape[1])
        return torch.cat([_block_tensor(self.X[i : i + 1]) for i in rows])


def assert_finite_in_blocks(X, name="X"):
    """Raise if an out-of-core pool holds NaN or infinity; reads it in row
    blocks (pages released after each), never whole. False for other inputs
    (nothing checked): the caller checks those as usual."""
    if not _is_out_of_core(X):
        return False
    for _, _, raw in _Blocks(X, name).raw():
        raw = np.asarray(raw)
        if raw.dtype.kind in "fc":
            assert_all_finite(raw, input_name=name)
    return True


def _as_pool(X, name="X"):
    """A float32 tensor, or :class:`_Blocks` for an out-of-core pool."""
    if _is_out_of_core(X):
        return _Blocks(X, name)
    return _as_matrix(X, name)


def _as_matrix(X, name="X", device=None):
    """2-D contiguous float32 tensor (no copy when possible)."""
    if _is_out_of_core(X) and not isinstance(X, np.ndarray):
        X = np.asarray(X)  # a kernel that needs the pool in memory
        X = X.reshape(X.shape[0], -1) if X.ndim > 2 else X
    t = torch.as_tensor(X)
    if t.ndim == 1 and t.numel() == 0:
        t = t.reshape(0, 0)
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional, got shape {tuple(t.shape)}")
    if device is not None and t.device != torch.device(device):
        t = t.to(device)
    if t.dtype != torch.float32:
        t = t.to(torch.float32)
    return t.contiguous()


def _as_reference(init, X):
    """Reference rows on X's device, or None when empty/None."""
    if init is None:
        return None
    R = torch.as_tensor(init)
    if R.numel() == 0:
        return None
    if R.ndim == 1:
        R = R.reshape(1, -1)
    R = _as_matrix(R, "init", device=X.device)
    if R.shape[1] != X.shape[1]:
        raise ValueError(
            f"init has {R.shape[1]} features but X has {X.shape[1]} features"
        )
    return R


def _check_n(n, N):
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return min(n, N)


def _make_generator(generator, device):
    """A torch.Generator; an int (or None) seeds a fresh one on the CPU.

    Seeding on the CPU whatever ``device`` is makes CPU and GPU runs draw the
    same numbers (callers move the draws to ``device``); a generator passed
    in is used as is, on its own device.
    """
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    else:
        seed = int(generator)
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g


def _uniforms(n, generator, device, uniforms=None):
    """``n`` float64 uniform draws in [0, 1) on ``device`` (one transfer)."""
    if uniforms is not None:
        u = torch.as_tensor(uniforms, dtype=torch.float64).reshape(-1)
        if u.numel() < n:
            raise ValueError(f"need {n} uniforms, got {u.numel()}")
        return u[:n].to(device)
    g = _make_generator(generator, device)
    return torch.rand(n, generator=g, device=g.device, dtype=torch.float64).to(device)


def _onednn_ok():
    """Whether oneDNN's dense linear op is usable (probed once, no RNG use)."""
    global _ONEDNN_OK
    if _ONEDNN_OK is None:
        try:
            x = torch.linspace(-1.0, 1.0, 8 * 96).reshape(8, 96)
            w = torch.linspace(0.5, -2.0, 3 * 96).reshape(3, 96)
            b = torch.tensor([1.0, -2.0, 0.5])
            r = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
            _ONEDNN_OK = bool(
                torch.backends.mkldnn.is_available()
                and r.shape == (8, 3)
                and torch.allclose(r, torch.addmm(b, x, w.T), rtol=1e-4, atol=1e-4)
            )
        except Exception:  # pragma: no cover - depends on the torch build
            _ONEDNN_OK = False
    return _ONEDNN_OK


def _linear(X, W, bias=None):
    """``X @ W.T (+ bias)``: oneDNN on CPU when available, else addmm/mm."""
    if X.device.type == "cpu" and _USE_ONEDNN and _onednn_ok():
        return torch.ops.mkldnn._linear_pointwise(X, W, bias, "none", [], "")
    if bias is None:
        return X @ W.T
    return torch.addmm(bias, X, W.T)


class _MatVec:
    """``out[:] = X @ v`` in one streaming pass over ``X`` (no N x D temporary)."""

    def __init__(self, X, chunk_size):
        self.X = X
        N, D = X.shape
        cpu_wide = (
            X.device.type == "cpu"
            and D >= _CPU_MATVEC_MIN_DIM
            and N * D * 4 >= _CPU_MATVEC_MIN_BYTES
        )
        if isinstance(X, _Blocks):
            # per block: the kernel an in-memory pool of this size would use
            self.mode = "blocks"
            self.numpy = cpu_wide and _USE_NUMPY_GEMV
            self.onednn = cpu_wide and _USE_ONEDNN and _onednn_ok()
            self.rows, self.tmp = X.rows, None
            return
        if cpu_wide and _USE_NUMPY_GEMV:
            self.mode = "numpy"
        elif cpu_wide and _USE_ONEDNN and _onednn_ok():
            self.mode = "onednn"
        elif cpu_wide:
            self.mode = "blocked"
        else:
            self.mode = "mv"
        if self.mode == "blocked":
            rows = max(1, _CPU_MATVEC_BLOCK_BYTES // (4 * D))
        else:
            rows = max(N, 1)
        if chunk_size is not None:
            rows = min(rows, max(1, int(chunk_size)))
        self.rows = rows
        self.tmp = (
            torch.empty(min(rows, N), D, device=X.device)
            if self.mode == "blocked"
            else None
        )

    def __call__(self, v, out):
        X = self.X
        if self.mode == "blocks":
            for s, e, blk in X:
                if self.numpy:
                    np.dot(blk.numpy(), v.numpy(), out=out[s:e].numpy())
                elif self.onednn:
                    out[s:e] = _linear(blk, v[None, :])[:, 0]
                else:
                    torch.mv(blk, v, out=out[s:e])
            return out
        N = X.shape[0]
        rows = self.rows
        for s in range(0, N, rows):
            e = min(N, s + rows)
            if self.mode == "numpy":  # on the tensors' memory, no copy
                np.dot(X[s:e].detach().numpy(), v.numpy(), out=out[s:e].numpy())
            elif self.mode == "onednn":
                out[s:e] = _linear(X[s:e], v[None, :])[:, 0]
            elif self.mode == "blocked":
                t = self.tmp[: e - s]
                torch.mul(X[s:e], v, out=t)
                torch.sum(t, dim=1, out=out[s:e])
            else:
                torch.mv(X[s:e], v, out=out[s:e])
        return out


def _sq_norms(X, chunk_size=None):
    """Row squared norms, chunked (no N x D temporary)."""
    N, D = X.shape
    out = torch.empty(N, device=X.device, dtype=torch.float32)
    if isinstance(X, _Blocks):
        for s, e, blk in X:
            torch.linalg.vector_norm(blk, dim=1, out=out[s:e])
        return out.square_()
    rows = chunk_size or default_chunk_size(N, D, X.device)
    for s in range(0, N, rows):
        e = min(N, s + rows)
        torch.linalg.vector_norm(X[s:e], dim=1, out=out[s:e])
    return out.square_()


def _slices(N, device):
    """Slices of the O(N) per-pick vector updates (see ``_VEC_CHUNK``)."""
    step = _VEC_CHUNK if device.type == "cpu" else max(N, 1)
    return [(s, min(N, s + step)) for s in range(0, N, step)]


def _min_sq_dist_to_set(X, xn, R, chunk_size):
    """min_j ||x_i - r_j||^2 for every row of X, chunked over X."""
    N = X.shape[0]
    M = R.shape[0]
    rn = _sq_norms(R)
    rows = chunk_size or default_chunk_size(N, M, X.device)
    out = torch.empty(N, device=X.device, dtype=torch.float32)
    RT = R.T
    blocks = X if isinstance(X, _Blocks) else [(0, N, X)]
    for s0, _, Xb in blocks:
        n_b = Xb.shape[0]
        for s in range(0, n_b, rows):
            e = min(n_b, s + rows)
            blk = torch.addmm(rn[None, :], Xb[s:e], RT, beta=1.0, alpha=-2.0)
            torch.amin(blk, dim=1, out=out[s0 + s : s0 + e])
    out.add_(xn).clamp_min_(0.0)
    return out


class _D2Sampler:
    """Draw an index with probability ``max(mins, 0)`` by inverse CDF, on device.

    ``mins`` marks picked rows with -1 (weight 0). Every other row gets an
    extra weight of 1e-300: negligible next to any positive float32 D^2
    (>= 1e-45), but when all remaining D^2 are 0 (duplicated rows) it makes the
    draw uniform over the rows not yet picked, without a branch.

    The CDF is float64. On CPU it is two-level (slice totals, then the cumsum
    of the one selected slice, gathered with ``index_select``), so a draw costs
    ``O(N)`` single-threaded slice operations plus an ``O(_VEC_CHUNK)`` scan;
    on other devices it is one cumsum + searchsorted. No host synchronisation.
    """

    def __init__(self, N, device):
        self.N = N
        self.slices = _slices(N, device)
        self.S = self.slices[0][1] - self.slices[0][0] if N else 1
        n_sl = len(self.slices)
        self.w = torch.zeros(n_sl * self.S, device=device, dtype=torch.float64)
        self.tot = torch.empty(n_sl, device=device, dtype=torch.float64)

    def __call__(self, mins, u):
        w, tot, S = self.w, self.tot, self.S
        for j, (s, e) in enumerate(self.slices):
            ws = w[s:e]
            ws.copy_(mins[s:e]).add_(1e-300).clamp_min_(0.0)  # float32 -> float64
            if len(self.slices) > 1:
                torch.sum(ws, dim=0, out=tot[j])
        if len(self.slices) == 1:
            return self._draw(torch.cumsum(w, 0), u.reshape(1))
        ctot = torch.cumsum(tot, 0)
        # slice j, then the row inside it
        jj = self._draw(ctot, u.reshape(1))
        target = u.reshape(1) * ctot[-1:]
        resid = (target - ctot.index_select(0, jj) + tot.index_select(0, jj)).clamp_(
            min=0.0
        )
        row = w.view(-1, S).index_select(0, jj).reshape(-1)
        k = self._draw(torch.cumsum(row, 0), resid, absolute=True)
        return (jj * S + k).clamp_(max=self.N - 1)

    @staticmethod
    def _draw(cums, u, absolute=False):
        """First index with ``cums > t``, t = u * total (or u), t < total."""
        last = cums[-1:]
        t = u if absolute else u * last
        t = torch.minimum(t, torch.nextafter(last, last * 0))
        return torch.searchsorted(cums, t, right=True).clamp_(max=cums.shape[0] - 1)


class _ArgMax:
    """First index of the maximum, on device (sliced on CPU, see ``_VEC_CHUNK``)."""

    def __init__(self, slices, device):
        self.slices = slices
        n_sl = len(slices)
        self.vmax = torch.empty(n_sl, device=device)
        self.imax = torch.empty(n_sl, dtype=torch.long, device=device)
        self.offsets = torch.tensor([s for s, _ in slices], device=device)

    def __call__(self, x):
        if len(self.slices) == 1:
            return torch.argmax(x).reshape(1)
        vmax, imax = self.vmax, self.imax
        for j, (s, e) in enumerate(self.slices):
            torch.max(x[s:e], 0, out=(vmax[j], imax[j]))
        jj = torch.argmax(vmax).reshape(1)  # first slice holding the maximum
        return imax.index_select(0, jj) + self.offsets.index_select(0, jj)


def _update_mins(mins, dots, xn, cn, d, slices, dots2=None):
    """mins = min(mins, clamp(xn + cn - 2 dots [* dots2], 0)), in place."""
    for s, e in slices:
        dd = d[s:e]
        if dots2 is None:
            torch.add(xn[s:e], dots[s:e], alpha=-2.0, out=dd)
        else:
            torch.mul(dots[s:e], dots2[s:e], out=dd)
            torch.add(xn[s:e], dd, alpha=-2.0, out=dd)
        dd.add_(cn).clamp_min_(0.0)
        torch.minimum(mins[s:e], dd, out=mins[s:e])


# --------------------------------------------------------------------------
# k-center greedy
# --------------------------------------------------------------------------
def k_center_greedy(X, n, *, init=None, chunk_size=None, generator=None):
    """Greedy k-center (farthest-first) selection.

    Repeatedly picks the pool row farthest (in Euclidean distance) from the
    reference rows ``init`` and the rows picked so far, the 2-approximation of
    the k-center problem used by the CoreSet strategy.

    Parameters
    ----------
    X : tensor, ndarray or out-of-core array-like of shape (N, D)
        Pool embeddings; an ``np.memmap`` (or h5py / zarr dataset) is read in
        row blocks, never loaded whole.
    n : int
        Number of rows to select (clipped to ``N``).
    init : tensor or ndarray of shape (M, D), optional
        Reference rows already covered (e.g. embeddings of the labeled set).
        When empty or None the first pick is uniform at random.
    chunk_size : int, optional
        Pool rows per block (default from :func:`default_chunk_size`).
    generator : torch.Generator or int, optional
        Source of randomness for the first pick when ``init`` is empty.

    Returns
    -------
    indices : LongTensor of shape (min(n, N),)
        Distinct row indices into ``X`` (CPU), in selection order.

    Notes
    -----
    Squared distances use ``||x||^2 + ||c||^2 - 2 x.c`` clamped at 0, with
    ``||x||^2`` computed once. Each pick costs one streaming pass over ``X``
    (``N * D`` reads, ``O(N)`` temporaries); the ``init`` distances cost one
    chunked pass with ``chunk x M`` blocks. Picked rows are masked, so pools
    with duplicated rows still yield distinct indices (ties resolve to the
    lowest index). Memory: ``O(N + chunk * M)``. Time: ``O(N D (n + M))``.

    References
    ----------
    .. [1] O. Sener and S. Savarese. Active Learning for Convolutional Neural
       Networks: A Core-Set Approach. ICLR 2018.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import k_center_greedy
    >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 7.0]])
    >>> k_center_greedy(X, 2, init=X[:1]).tolist()
    [3, 2]
    """
    X = _as_pool(X)
    N, D = X.shape
    n = _check_n(n, N)
    device = X.device
    picks = torch.empty(n, dtype=torch.long, device=device)
    if n == 0:
        return picks.cpu()
    xn = _sq_norms(X)
    R = _as_reference(init, X)
    if R is None:
        mins = torch.full((N,), float("inf"), device=device)
        g = _make_generator(generator, device)
        idx = torch.randint(N, (1,), generator=g, device=g.device).to(device)
    else:
        mins = _min_sq_dist_to_set(X, xn, R, chunk_size)
        idx = None
    matvec = _MatVec(X, chunk_size)
    slices = _slices(N, device)
    argmax = _ArgMax(slices, device)
    dots = torch.empty(N, device=device)
    d = torch.empty(N, device=device)
    for i in range(n):
        if idx is None:
            idx = argmax(mins)
        picks[i : i + 1] = idx
        if i + 1 < n:
            c = X.index_select(0, idx).reshape(-1)
            matvec(c, dots)
            mins.index_fill_(0, idx, -1.0)
            _update_mins(mins, dots, xn, xn.index_select(0, idx), d, slices)
            idx = None
    return picks.cpu()


# --------------------------------------------------------------------------
# k-means++ seeding
# --------------------------------------------------------------------------
def kmeans_pp(X, n, *, generator=None, init=None, chunk_size=None, uniforms=None):
    """k-means++ (D^2) seeding.

    The first row is drawn uniformly (or with probability proportional to the
    squared distance to ``init`` when given); every next row with probability
    proportional to its squared distance to the nearest row picked so far.

    Parameters
    ----------
    X : tensor, ndarray or out-of-core array-like of shape (N, D)
        Pool embeddings; an ``np.memmap`` (or h5py / zarr dataset) is read in
        row blocks, never loaded whole.
    n : int
        Number of rows to select (clipped to ``N``).
    generator : torch.Generator or int, optional
        Source of the ``n`` uniform draws (all drawn upfront on the
        generator's device).
    init : tensor or ndarray of shape (M, D), optional
        Reference rows (e.g. labeled embeddings) that count as already chosen
        centers.
    chunk_size : int, optional
        Pool rows per block.
    uniforms : array-like of shape (n,), optional
        Inject the uniform draws in [0, 1) instead of sampling them (testing).
        Draw ``i`` selects the row ``j`` with
        ``cumsum(w)[j - 1] <= u_i * sum(w) < cumsum(w)[j]``.

    Returns
    -------
    indices : LongTensor of shape (min(n, N),)
        Distinct row indices into ``X`` (CPU), in selection order.

    Notes
    -----
    Sampling is an inverse-CDF draw: float64 cumulative sum of the D^2 weights
    and :func:`torch.searchsorted`, with no host synchronisation. Picked rows
    get weight 0; when every remaining weight is 0 (duplicated rows) the draw
    is uniform over the rows not yet picked, so indices are always distinct.
    Each pick costs one streaming pass over ``X``. Memory: ``O(N + chunk *
    M)``. Time: ``O(N D (n + M))``.

    References
    ----------
    .. [1] D. Arthur and S. Vassilvitskii. k-means++: The Advantages of
       Careful Seeding. SODA 2007.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import kmeans_pp
    >>> X = torch.tensor([[0.0, 0.0], [0.0, 0.1], [9.0, 9.0]])
    >>> sorted(kmeans_pp(X, 3, generator=0).tolist())
    [0, 1, 2]
    >>> kmeans_pp(X, 2, uniforms=[0.0, 0.5]).tolist()
    [0, 2]
    """
    X = _as_pool(X)
    N, D = X.shape
    n = _check_n(n, N)
    device = X.device
    picks = torch.empty(n, dtype=torch.long, device=device)
    if n == 0:
        return picks.cpu()
    u = _uniforms(n, generator, device, uniforms)
    xn = _sq_norms(X)
    sampler = _D2Sampler(N, device)
    slices = sampler.slices
    R = _as_reference(init, X)
    if R is None:
        mins = torch.full((N,), float("inf"), device=device)
        idx = (u[:1] * N).long().clamp_(max=N - 1)
    else:
        mins = _min_sq_dist_to_set(X, xn, R, chunk_size)
        idx = sampler(mins, u[0])
    matvec = _MatVec(X, chunk_size)
    dots = torch.empty(N, device=device)
    d = torch.empty(N, device=device)
    for i in range(n):
        if idx is None:
            idx = sampler(mins, u[i])
        picks[i : i + 1] = idx
        if i + 1 < n:
            c = X.index_select(0, idx).reshape(-1)
            matvec(c, dots)
            mins.index_fill_(0, idx, -1.0)
            _update_mins(mins, dots, xn, xn.index_select(0, idx), d, slices)
            idx = None
    return picks.cpu()


# --------------------------------------------------------------------------
# BADGE
# --------------------------------------------------------------------------
def _badge_factors(proba, emb):
    P = _as_matrix(proba, "proba")
    if P.device.type == "cpu" and _is_out_of_core(emb):
        H = _Blocks(emb, "emb")
    else:
        H = _as_matrix(emb, "emb", device=P.device)
    if P.shape[0] != H.shape[0]:
        raise ValueError(f"proba has {P.shape[0]} rows but emb has {H.shape[0]} rows")
    yhat = P.argmax(dim=1, keepdim=True)
    A = P.clone()
    A.scatter_add_(1, yhat, torch.full_like(yhat, -1.0, dtype=A.dtype))
    return A, H


def badge_sq_distances(proba, emb, centers):
    """Squared distances between implicit BADGE gradient embeddings.

    With ``a_i = p_i - onehot(argmax p_i)`` and ``g_i = a_i (x) h_i``,
    ``||g_i - g_j||^2 = ||a_i||^2 ||h_i||^2 + ||a_j||^2 ||h_j||^2
    - 2 (a_i . a_j)(h_i . h_j)``, so the ``N x (C D)`` gradient matrix is never
    built.

    Parameters
    ----------
    proba : tensor or ndarray of shape (N, C)
        Predicted class probabilities.
    emb : tensor or ndarray of shape (N, D)
        Penultimate-layer embeddings.
    centers : sequence of int of shape (m,)
        Row indices of the centers.

    Returns
    -------
    sq_dist : FloatTensor of shape (N, m)
        ``||g_i - g_{centers[k]}||^2`` (clamped at 0), on the input's device.

    Notes
    -----
    Time ``O(N m (C + D))``; memory ``O(N m)`` for the output.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import badge_sq_distances
    >>> proba = torch.tensor([[0.9, 0.1], [0.4, 0.6]])
    >>> emb = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    >>> d = badge_sq_distances(proba, emb, [0])  # shape (2, 1)
    >>> [round(v, 4) for v in d[:, 0].tolist()]
    [0.0, 1.3]
    """
    A, H = _badge_factors(proba, emb)
    if isinstance(H, _Blocks):
        H = _as_matrix(emb, "emb")
    idx = torch.as_tensor(centers, dtype=torch.long, device=A.device).reshape(-1)
    gn = (A * A).sum(1) * _sq_norms(H)
    Ac, Hc = A.index_select(0, idx), H.index_select(0, idx)
    cross = (A @ Ac.T).mul_(H @ Hc.T)
    return cross.mul_(-2.0).add_(gn[:, None]).add_(gn[idx][None, :]).clamp_min_(0.0)


def badge_kmeans_pp(proba, emb, n, *, generator=None, chunk_size=None, uniforms=None):
    """BADGE: k-means++ seeding on last-layer gradient embeddings.

    The gradient embedding of row ``i`` is ``g_i = (p_i - e_{yhat_i}) (x) h_i``
    (the gradient of the cross-entropy at the predicted label with respect to
    the last linear layer). The first pick is the row with the largest
    ``||g_i||`` (as in the reference implementation), the next ones are D^2
    samples as in :func:`kmeans_pp`.

    Parameters
    ----------
    proba : tensor or ndarray of shape (N, C)
        Predicted class probabilities.
    emb : tensor, ndarray or out-of-core array-like of shape (N, D)
        Penultimate-layer embeddings ``h``; an ``np.memmap`` (or h5py / zarr
        dataset) is read in row blocks when ``proba`` is on the CPU.
    n : int
        Number of rows to select (clipped to ``N``).
    generator : torch.Generator or int, optional
        Source of the uniform draws.
    chunk_size : int, optional
        Pool rows per block.
    uniforms : array-like of shape (n,), optional
        Inject the uniform draws (testing); ``uniforms[0]`` is unused.

    Returns
    -------
    indices : LongTensor of shape (min(n, N),)
        Distinct row indices (CPU), in selection order.

    Notes
    -----
    ``g`` is never built: with ``a_i = p_i - e_{yhat_i}``,
    ``||g_i||^2 = ||a_i||^2 ||h_i||^2`` and ``g_i . g_j = (a_i . a_j)(h_i .
    h_j)``, so a pick costs one pass over ``emb`` and one over ``a``
    (``N (C + D)`` reads) instead of ``N C D``. Memory: ``O(N C)``.
    Time: ``O(N (C + D) n)``.

    References
    ----------
    .. [1] J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford and A. Agarwal.
       Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds.
       ICLR 2020.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import badge_kmeans_pp
    >>> proba = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    >>> emb = torch.ones(3, 4)
    >>> badge_kmeans_pp(proba, emb, 1).tolist()  # most uncertain row first
    [1]
    """
    A, H = _badge_factors(proba, emb)
    N = A.shape[0]
    n = _check_n(n, N)
    device = A.device
    picks = torch.empty(n, dtype=torch.long, device=device)
    if n == 0:
        return picks.cpu()
    u = _uniforms(n, generator, device, uniforms)
    an = (A * A).sum(1)
    gn = an.mul_(_sq_norms(H))
    mins = torch.full((N,), float("inf"), device=device)
    sampler = _D2Sampler(N, device)
    mv_h = _MatVec(H, chunk_size)
    mv_a = _MatVec(A, chunk_size)
    hdots = torch.empty(N, device=device)
    adots = torch.empty(N, device=device)
    d = torch.empty(N, device=device)
    idx = torch.argmax(gn).reshape(1)
    for i in range(n):
        if idx is None:
            idx = sampler(mins, u[i])
        picks[i : i + 1] = idx
        if i + 1 < n:
            mv_h(H.index_select(0, idx).reshape(-1), hdots)
            mv_a(A.index_select(0, idx).reshape(-1), adots)
            mins.index_fill_(0, idx, -1.0)
            cn = gn.index_select(0, idx)
            _update_mins(mins, hdots, gn, cn, d, sampler.slices, dots2=adots)
            idx = None
    return picks.cpu()


# --------------------------------------------------------------------------
# nearest neighbours
# --------------------------------------------------------------------------
def knn(X, k, *, Y=None, chunk_size=None):
    """k nearest neighbours (Euclidean) of every row of ``X`` among ``Y``.

    Parameters
    ----------
    X : tensor or ndarray of shape (N, D)
        Query rows.
    k : int
        Number of neighbours; at most ``M`` (``N - 1`` when ``Y`` is None).
    Y : tensor or ndarray of shape (M, D), optional
        Rows searched. Default: ``X`` itself, excluding each row's own index
        (a duplicate of the row still counts, at distance 0).
    chunk_size : int, optional
        Query rows per ``chunk x M`` distance block.

    Returns
    -------
    distances : FloatTensor of shape (N, k)
        Euclidean distances, ascending, on the input's device.
    indices : LongTensor of shape (N, k)
        Row indices into ``Y`` (or ``X``).

    Notes
    -----
    Brute force with :func:`torch.topk`: time ``O(N M D)``, memory
    ``O(N k + chunk * M)``.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import knn
    >>> X = torch.tensor([[0.0], [1.0], [3.0]])
    >>> d, i = knn(X, 1)
    >>> i.squeeze(1).tolist(), d.squeeze(1).tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    X = _as_matrix(X)
    self_search = Y is None
    Yt = X if self_search else _as_matrix(Y, "Y", device=X.device)
    if Yt.shape[1] != X.shape[1]:
        raise ValueError("X and Y must have the same number of features")
    N, M = X.shape[0], Yt.shape[0]
    kmax = M - 1 if self_search else M
    k = int(k)
    if k < 0 or k > kmax:
        raise ValueError(f"k must be in [0, {kmax}], got {k}")
    dist = torch.empty(N, k, device=X.device)
    ind = torch.empty(N, k, dtype=torch.long, device=X.device)
    if N == 0 or k == 0:
        return dist, ind
    xn = _sq_norms(X)
    yn = xn if self_search else _sq_norms(Yt)
    rows = chunk_size or default_chunk_size(N, M, X.device)
    YT = Yt.T
    for s in range(0, N, rows):
        e = min(N, s + rows)
        blk = torch.addmm(yn[None, :], X[s:e], YT, beta=1.0, alpha=-2.0)
        if self_search:
            blk.diagonal(offset=s).fill_(float("inf"))
        v, i = torch.topk(blk, k, dim=1, largest=False, sorted=True)
        dist[s:e] = v.add_(xn[s:e, None]).clamp_min_(0.0).sqrt_()
        ind[s:e] = i
    return dist, ind


def radius_graph(X, radius, *, chunk_size=None):
    """Directed edges between distinct rows closer than ``radius``.

    Parameters
    ----------
    X : tensor or ndarray of shape (N, D)
        Embeddings.
    radius : float
        Edge when ``||x_i - x_j|| < radius`` (strict), ``i != j``.
    chunk_size : int, optional
        Rows per ``chunk x N`` distance block.

    Returns
    -------
    row, col : LongTensor of shape (E,)
        COO edge list sorted by ``row`` then ``col``; both directions of each
        pair are present. On the input's device.

    Notes
    -----
    Used by ProbCover [1]_. Time ``O(N^2 D)``, memory ``O(E + chunk * N)``.

    References
    ----------
    .. [1] O. Yehuda, A. Dekel, G. Hacohen and D. Weinshall. Active Learning
       Through a Covering Lens. NeurIPS 2022.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import radius_graph
    >>> X = torch.tensor([[0.0], [0.5], [2.0]])
    >>> row, col = radius_graph(X, 1.0)
    >>> row.tolist(), col.tolist()
    ([0, 1], [1, 0])
    """
    X = _as_matrix(X)
    N = X.shape[0]
    empty = torch.empty(0, dtype=torch.long, device=X.device)
    r = float(radius)
    if N == 0 or r <= 0:
        return empty, empty.clone()
    r2 = r * r
    xn = _sq_norms(X)
    rows = chunk_size or default_chunk_size(N, N, X.device)
    XT = X.T
    out_r, out_c = [], []
    for s in range(0, N, rows):
        e = min(N, s + rows)
        blk = torch.addmm(xn[None, :], X[s:e], XT, beta=1.0, alpha=-2.0)
        blk.add_(xn[s:e, None])
        mask = blk < r2
        mask.diagonal(offset=s).fill_(False)
        rr, cc = mask.nonzero(as_tuple=True)
        out_r.append(rr + s)
        out_c.append(cc)
    return torch.cat(out_r), torch.cat(out_c)


def typicality(X, k=20, *, eps=1e-5, chunk_size=None):
    """TypiClust typicality: inverse mean distance to the k nearest neighbours.

    Parameters
    ----------
    X : tensor or ndarray of shape (N, D)
        Embeddings.
    k : int, default=20
        Number of neighbours (clipped to ``N - 1``).
    eps : float, default=1e-5
        Added to the mean distance (as in the reference code).
    chunk_size : int, optional
        Rows per distance block.

    Returns
    -------
    typicality : FloatTensor of shape (N,)
        ``1 / (mean_j ||x - x_j|| + eps)``; all ones when ``N == 1``.

    Notes
    -----
    Brute-force k-NN: time ``O(N^2 D)``, memory ``O(N k + chunk * N)``. On a
    large pool compute it within clusters, as :func:`typiclust` does.

    References
    ----------
    .. [1] G. Hacohen, A. Dekel and D. Weinshall. Active Learning on a Budget:
       Opposite Strategies Suit High and Low Budgets. ICML 2022.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import typicality
    >>> X = torch.tensor([[0.0], [1.0], [3.0]])
    >>> typicality(X, 1, eps=0.0).tolist()
    [1.0, 1.0, 0.5]
    """
    X = _as_matrix(X)
    N = X.shape[0]
    if N <= 1:
        return torch.ones(N, device=X.device)
    d, _ = knn(X, min(int(k), N - 1), chunk_size=chunk_size)
    return 1.0 / (d.mean(dim=1) + eps)


# --------------------------------------------------------------------------
# k-means and TypiClust
# --------------------------------------------------------------------------
def _assign(X, C, chunk_size):
    """Index of the nearest center for each row of X, chunked."""
    N, K = X.shape[0], C.shape[0]
    cn = _sq_norms(C)
    rows = chunk_size or default_chunk_size(N, K, X.device)
    labels = torch.empty(N, dtype=torch.long, device=X.device)
    bias = cn.mul_(-0.5)
    for s in range(0, N, rows):
        e = min(N, s + rows)
        # argmin ||x - c||^2 = argmax (x.c - ||c||^2 / 2)
        torch.argmax(_linear(X[s:e], C, bias), dim=1, out=labels[s:e])
    return labels


def kmeans(
    X,
    n_clusters,
    *,
    n_iter=10,
    generator=None,
    chunk_size=None,
    init_sample_size=None,
):
    """Lloyd's k-means with k-means++ seeds drawn on a subsample.

    Parameters
    ----------
    X : tensor or ndarray of shape (N, D)
        Embeddings.
    n_clusters : int
        Number of clusters (clipped to ``N``).
    n_iter : int, default=10
        Maximum number of Lloyd iterations; stops early once the assignment
        no longer changes.
    generator : torch.Generator or int, optional
        Randomness of the subsample and of the seeding.
    chunk_size : int, optional
        Rows per ``chunk x K`` distance block.
    init_sample_size : int, optional
        Rows used for the k-means++ seeding (default
        ``min(N, max(16 * n_clusters, 4096))``); seeding on the full pool
        costs ``n_clusters`` passes over it.

    Returns
    -------
    labels : LongTensor of shape (N,)
        Cluster of each row (on the input's device).
    centers : FloatTensor of shape (n_clusters, D)
        Cluster centers; an empty cluster keeps its previous center.

    Notes
    -----
    Each iteration is a chunked ``X @ C.T`` (time ``O(N K D)``, memory
    ``O(N + chunk * K + K D)``) and an ``index_add_`` of the rows into their
    centers. One host synchronisation per iteration (convergence test).

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import kmeans
    >>> X = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    >>> labels, centers = kmeans(X, 2, generator=0)
    >>> bool(labels[0] == labels[1]) and bool(labels[2] == labels[3])
    True
    """
    X = _as_matrix(X)
    N, D = X.shape
    K = min(int(n_clusters), N)
    if K <= 0:
        raise ValueError("n_clusters must be >= 1 and X non-empty")
    device = X.device
    g = _make_generator(generator, device)
    S = init_sample_size or min(N, max(16 * K, 4096))
    S = max(K, min(N, int(S)))
    if S < N:
        sub = torch.randperm(N, generator=g, device=g.device)[:S].to(device)
        Xs = X.index_select(0, sub)
    else:
        Xs = X
    seeds = kmeans_pp(Xs, K, generator=g, chunk_size=chunk_size)
    C = Xs.index_select(0, seeds.to(device)).clone()
    del Xs
    labels = _assign(X, C, chunk_size)
    for _ in range(int(n_iter)):
        sums = torch.zeros(K, D, device=device).index_add_(0, labels, X)
        counts = torch.bincount(labels, minlength=K).to(X.dtype)
        C = torch.where((counts > 0)[:, None], sums / counts.clamp_min(1.0)[:, None], C)
        new = _assign(X, C, chunk_size)
        if torch.equal(new, labels):
            break
        labels = new
    return labels, C


def typiclust(
    X,
    n,
    *,
    init=None,
    k=20,
    n_clusters=None,
    n_iter=10,
    eps=1e-5,
    generator=None,
    chunk_size=None,
):
    """TypiClust selection: the most typical row of each uncovered cluster.

    The pool is clustered into ``n_clusters`` (default ``M + n`` with ``M``
    reference rows) with :func:`kmeans`; each reference row in ``init`` marks
    its nearest cluster as covered. Clusters are visited by (number of
    reference rows ascending, size descending), round-robin, and each visit
    takes the most typical not-yet-picked row of the cluster, typicality
    being computed among the pool rows of that cluster.

    Parameters
    ----------
    X : tensor or ndarray of shape (N, D)
        Pool embeddings.
    n : int
        Number of rows to select (clipped to ``N``).
    init : tensor or ndarray of shape (M, D), optional
        Embeddings of labeled rows.
    k : int, default=20
        Neighbours for the typicality (clipped to the cluster size - 1).
    n_clusters : int, optional
        Number of clusters; default ``M + n``.
    n_iter : int, default=10
        Lloyd iterations.
    eps : float, default=1e-5
        See :func:`typicality`.
    generator : torch.Generator or int, optional
        Randomness of the clustering.
    chunk_size : int, optional
        Rows per distance block.

    Returns
    -------
    indices : LongTensor of shape (min(n, N),)
        Distinct row indices (CPU), in selection order.

    Notes
    -----
    Clustering costs ``O(n_iter N K D)``; typicality only for the visited
    clusters, ``O(sum_c n_c^2 D)``. The reference rows are assigned to the
    pool clusters rather than clustered with them (no ``(N + M) x D`` copy).
    One host synchronisation for the cluster sizes.

    References
    ----------
    .. [1] G. Hacohen, A. Dekel and D. Weinshall. Active Learning on a Budget:
       Opposite Strategies Suit High and Low Budgets. ICML 2022.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import typiclust
    >>> X = torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1], [9.0]])
    >>> sorted(typiclust(X, 2, n_clusters=3, k=2, generator=0).tolist())
    [1, 3]
    """
    X = _as_matrix(X)
    N = X.shape[0]
    n = _check_n(n, N)
    if n == 0:
        return torch.empty(0, dtype=torch.long)
    device = X.device
    R = _as_reference(init, X)
    M = 0 if R is None else R.shape[0]
    K = min(N, int(n_clusters) if n_clusters is not None else M + n)
    labels, C = kmeans(X, K, n_iter=n_iter, generator=generator, chunk_size=chunk_size)
    sizes = torch.bincount(labels, minlength=K)
    if R is not None:
        covered = torch.bincount(_assign(R, C, chunk_size), minlength=K)
    else:
        covered = torch.zeros_like(sizes)
    key = covered * (N + 1) + (N - sizes)
    key = torch.where(sizes > 0, key, torch.full_like(key, (M + 1) * (N + 1)))
    order = torch.argsort(key, stable=True)
    sorted_rows = torch.argsort(labels, stable=True)
    sizes_h = sizes.cpu().tolist()  # the one host synchronisation
    order_h = order.cpu().tolist()
    offsets = [0]
    for s in sizes_h:
        offsets.append(offsets[-1] + s)
    order_h = [c for c in order_h if sizes_h[c] > 0]
    used = order_h[: min(len(order_h), n)]
    n_used = len(used)
    keys, rows_all = [], []
    for pos, c in enumerate(used):
        rows_c = sorted_rows[offsets[c] : offsets[c + 1]]
        nc = sizes_h[c]
        if nc == 1:
            typ = torch.ones(1, device=device)
        else:
            typ = typicality(
                X.index_select(0, rows_c),
                min(k, nc - 1),
                eps=eps,
                chunk_size=chunk_size,
            )
        rank = torch.empty(nc, dtype=torch.long, device=device)
        rank[torch.argsort(typ, descending=True, stable=True)] = torch.arange(
            nc, device=device
        )
        keys.append(rank * n_used + pos)
        rows_all.append(rows_c)
    keys = torch.cat(keys)
    rows_all = torch.cat(rows_all)
    sel = torch.topk(keys, n, largest=False, sorted=True).indices
    return rows_all[sel].cpu()
