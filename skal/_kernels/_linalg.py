"""Primitives: the per-pick linear algebra on a device and its threads (the
memory-bound mat-vec, squared norms and distances to a set, sliced vector
updates, D^2 sampling and argmax kept on the device)."""

from __future__ import annotations

import numpy as np
import torch

from ._blocks import _Blocks, _MiB, default_chunk_size

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
