"""Submodular coverage on embeddings: block similarities in [0, 1] and the
lazy greedy (Minoux, 1978) behind FacilityLocation and SIMILAR's submodular
mutual information. Never an ``N x N`` matrix."""

from __future__ import annotations

import numpy as np
import torch

from ._blocks import default_chunk_size

__all__ = []


class _Similarity:
    """Block similarities ``s(A, B)`` in [0, 1] for one metric and scale."""

    def __init__(self, emb, metric):
        self.metric = metric
        if metric == "cosine":
            self.gamma = None
        else:
            # mean pairwise squared distance = 2 * mean squared distance to
            # the mean: O(N D), permutation invariant.
            e = emb.to(torch.float64)
            spread = 2.0 * float(((e - e.mean(0)) ** 2).sum(1).mean())
            self.gamma = 1.0 / spread if spread > 0 else 1.0

    def prepare(self, A):
        """Rows in the form ``__call__`` wants (normalised or with norms)."""
        A = A.to(torch.float32)
        if self.metric == "cosine":
            n = A.norm(dim=1, keepdim=True)
            return (A / torch.where(n > 0, n, torch.ones_like(n)),)
        return A, (A * A).sum(1)

    def __call__(self, a, b):
        if self.metric == "cosine":
            return (a[0] @ b[0].T).add_(1.0).mul_(0.5).clamp_(0.0, 1.0)
        d2 = torch.addmm(b[1][None, :], a[0], b[0].T, beta=1.0, alpha=-2.0)
        d2.add_(a[1][:, None]).clamp_min_(0.0)
        return d2.mul_(-self.gamma).exp_()


def _rows(p, s, e):
    return tuple(t[s:e] for t in p)


def _take(p, idx):
    return tuple(t.index_select(0, idx) for t in p)


def _max_sim(sim, targets, sources, out=None):
    """``max_j s(targets_i, sources_j)`` for every target (0 without sources)."""
    N = targets[0].shape[0]
    device = targets[0].device
    if out is None:
        out = torch.zeros(N, device=device)
    if sources is None or sources[0].shape[0] == 0:
        return out
    rows = default_chunk_size(N, sources[0].shape[0], device)
    for s in range(0, N, rows):
        e = min(N, s + rows)
        torch.maximum(
            out[s:e], sim(_rows(targets, s, e), sources).amax(1), out=out[s:e]
        )
    return out


def _greedy_coverage(sim, cand, reps, covered, n, keys, modular=None, eta=1.0):
    """Greedy maximisation of ``sum_r max(covered_r, max_{a in A} s(r, a))``
    plus ``eta * modular`` per pick, lazily (Minoux, 1978).

    Gains only shrink as the selection grows (submodularity), so a gain
    computed at an earlier step bounds the current one: each step evaluates
    the rows with the largest bounds, in blocks of doubling size, until no
    bound beats the best exact gain. The result is the plain greedy one (ties
    broken by ``keys``) at a fraction of its ``n N R D`` cost. Memory
    ``O(N + chunk * R)``.
    """
    N = cand[0].shape[0]
    device = cand[0].device
    R = reps[0].shape[0]
    block_max = default_chunk_size(N, R, device)
    f64 = torch.float64
    ub = torch.full((N,), torch.inf, dtype=f64, device=device)
    taken = torch.zeros(N, dtype=torch.bool, device=device)
    fresh = torch.zeros(N, dtype=torch.bool, device=device)
    no_key = torch.full_like(keys, -1.0)
    picks = []
    while len(picks) < n:
        fresh.zero_()
        best, b = -np.inf, min(64, block_max)
        while True:
            open_ = ~taken & ~fresh
            count = int(open_.sum())
            if count == 0:
                break
            top_ub, top = torch.topk(torch.where(open_, ub, -torch.inf), min(b, count))
            if float(top_ub[0]) < best:
                break
            if modular is None and best <= 0 and float(top_ub[0]) <= 0:
                break  # nothing left to gain
            g = sim(_take(cand, top), reps).sub_(covered[None, :]).clamp_min_(0.0)
            g = g.sum(1, dtype=f64)
            if modular is not None:
                g.add_(modular.index_select(0, top), alpha=eta)
            ub[top] = g
            fresh[top] = True
            best = max(best, float(g.max()))
            b = min(2 * b, block_max)
        if best <= 0 and modular is None:
            # every remaining gain is 0: the rest in tie-breaking order
            rest = torch.nonzero(~taken).reshape(-1)
            rest = rest[torch.argsort(keys[rest], descending=True)]
            picks.extend(rest[: n - len(picks)].tolist())
            break
        j = torch.argmax(torch.where(fresh & ~taken & (ub == best), keys, no_key))
        picks.append(int(j))
        taken[j] = True
        covered = torch.maximum(covered, sim(reps, _take(cand, j.reshape(1)))[:, 0])
    return np.asarray(picks, dtype=np.intp)
