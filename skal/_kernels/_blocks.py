"""Primitives: chunk sizes, out-of-core pools read in row blocks, input
conversion and generators (no selection logic; see :mod:`skal._kernels`)."""

from __future__ import annotations

import mmap
import warnings

import numpy as np
import torch
from sklearn.utils import assert_all_finite

__all__ = ["default_chunk_size", "assert_finite_in_blocks", "DEFAULT_BUDGET_BYTES"]

_MiB = 1 << 20
#: default memory budget for one chunk's temporaries
DEFAULT_BUDGET_BYTES = 256 * _MiB
# Rows of an out-of-core pool are read in blocks of this many bytes (float32).
_STREAM_BYTES = 32 * _MiB


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


def _make_generator(random_state, device):
    """A torch.Generator from a kernel's ``random_state``.

    An int (or None, or a numpy ``RandomState``, which gives one draw) seeds
    a fresh generator on the CPU: seeding on the CPU whatever ``device`` is
    makes CPU and GPU runs draw the same numbers (callers move the draws to
    ``device``); a torch.Generator passed in is used as is, on its own
    device.
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    if random_state is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(np.iinfo(np.int32).max))
    else:
        seed = int(random_state)
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g


def _uniforms(n, random_state, device, uniforms=None):
    """``n`` float64 uniform draws in [0, 1) on ``device`` (one transfer)."""
    if uniforms is not None:
        u = torch.as_tensor(uniforms, dtype=torch.float64).reshape(-1)
        if u.numel() < n:
            raise ValueError(f"need {n} uniforms, got {u.numel()}")
        return u[:n].to(device)
    g = _make_generator(random_state, device)
    return torch.rand(n, generator=g, device=g.device, dtype=torch.float64).to(device)
