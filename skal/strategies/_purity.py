"""ProbCover's purity-based ball radius (Yehuda et al. 2022), private."""

from __future__ import annotations

import math

import numpy as np
import torch

from .._kernels import kmeans, knn
from ._common import draw_seed

__all__ = ["purity_radius"]


def _distance_to_other_cluster(emb, labels, rows):
    """Distance of each of ``rows`` to the nearest row of another cluster."""
    out = torch.full((rows.numel(),), float("inf"), device=emb.device)
    queries, q_labels = emb.index_select(0, rows), labels.index_select(0, rows)
    for c in torch.unique(q_labels).tolist():
        mine = q_labels == c
        others = emb[labels != c]
        if others.shape[0] == 0:  # one cluster: every ball is pure
            continue
        d, _ = knn(queries[mine], 1, Y=others)
        out[mine] = d[:, 0]
    return out


def purity_radius(emb, n_clusters, *, purity=0.95, random_state, max_queries=5000):
    """The largest radius whose balls are ``purity``-pure under k-means labels.

    Pseudo-labels come from k-means with ``n_clusters`` clusters (the paper:
    the number of classes). The ball of radius ``r`` around ``x`` is pure
    when every row closer than ``r`` to ``x`` has ``x``'s pseudo-label, i.e.
    when ``r`` is at most ``x``'s distance to the nearest row of another
    cluster. The fraction of pure balls falls as ``r`` grows, so the largest
    radius keeping it at least ``purity`` is an order statistic of those
    distances — no search over radii (the paper scans a grid). On a pool
    larger than ``max_queries`` the fraction is estimated on a seeded
    subsample of ball centres (the distances are still to the whole pool).

    Parameters
    ----------
    emb : FloatTensor of shape (N, D)
    n_clusters : int
    purity : float in (0, 1]
        The paper's alpha (0.95).
    random_state : RandomState
    max_queries : int

    Returns
    -------
    radius : float
        Positive; when more than ``1 - purity`` of the rows have a duplicate
        in another cluster (radius 0), the smallest positive such distance.
    """
    N = emb.shape[0]
    if N < 2:
        return 1.0
    labels, _ = kmeans(
        emb, min(int(n_clusters), N), random_state=draw_seed(random_state)
    )
    if N > max_queries:
        rows = np.sort(random_state.choice(N, max_queries, replace=False))
    else:
        rows = np.arange(N)
    rows = torch.as_tensor(rows, device=emb.device)
    d = _distance_to_other_cluster(emb, labels, rows)
    finite = d[torch.isfinite(d)]
    if finite.numel() == 0:  # a single cluster: cover with the largest scale
        return float(torch.cdist(emb[:1], emb).max().clamp_min(1e-12))
    keep = math.ceil(purity * d.numel())  # balls that must stay pure
    r = float(torch.sort(d, descending=True).values[keep - 1])
    if not math.isfinite(r):
        r = float(finite.max())
    if r <= 0:
        positive = finite[finite > 0]
        r = float(positive.min()) if positive.numel() else 1.0
    return r
