"""k-means (Lloyd) and TypiClust selection."""

from __future__ import annotations

import torch

from ._blocks import (
    _as_matrix,
    _as_reference,
    _check_n,
    _make_generator,
    default_chunk_size,
)
from ._kmeanspp import kmeans_pp
from ._linalg import _linear, _sq_norms
from ._neighbors import typicality

__all__ = ["kmeans", "nearest_to_centers", "typiclust"]


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
    random_state=None,
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
    random_state : int, torch.Generator, RandomState or None, optional
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
    >>> labels, centers = kmeans(X, 2, random_state=0)
    >>> bool(labels[0] == labels[1]) and bool(labels[2] == labels[3])
    True
    """
    X = _as_matrix(X)
    N, D = X.shape
    K = min(int(n_clusters), N)
    if K <= 0:
        raise ValueError("n_clusters must be >= 1 and X non-empty")
    device = X.device
    g = _make_generator(random_state, device)
    S = init_sample_size or min(N, max(16 * K, 4096))
    S = max(K, min(N, int(S)))
    if S < N:
        sub = torch.randperm(N, generator=g, device=g.device)[:S].to(device)
        Xs = X.index_select(0, sub)
    else:
        Xs = X
    seeds = kmeans_pp(Xs, K, random_state=g, chunk_size=chunk_size)
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
    random_state=None,
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
    random_state : int, torch.Generator, RandomState or None, optional
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
    >>> sorted(typiclust(X, 2, n_clusters=3, k=2, random_state=0).tolist())
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
    labels, C = kmeans(
        X, K, n_iter=n_iter, random_state=random_state, chunk_size=chunk_size
    )
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


def nearest_to_centers(X, labels, centers):
    """For each non-empty cluster, the row nearest its center.

    Parameters
    ----------
    X : tensor of shape (N, d)
        The clustered rows (as :func:`kmeans` read them).
    labels : tensor of int64 of shape (N,)
        Cluster of each row.
    centers : tensor of shape (K, d)
        The centers.

    Returns
    -------
    positions : tensor of int64
        One row position per non-empty cluster, in cluster order; ties go to
        the lowest position. Chunked: no ``N x d`` temporary.

    Examples
    --------
    >>> import torch
    >>> from skal._kernels import nearest_to_centers
    >>> X = torch.tensor([[0.0], [0.4], [5.0], [5.2]])
    >>> nearest_to_centers(X, torch.tensor([0, 0, 1, 1]), torch.tensor([[0.1], [5.0]]))
    tensor([0, 2])
    """
    emb = X
    n_clusters = centers.shape[0]
    N = emb.shape[0]
    d = torch.empty(N, device=emb.device)
    rows = default_chunk_size(N, emb.shape[1], emb.device)
    for s in range(0, N, rows):
        e = min(N, s + rows)
        diff = emb[s:e] - centers.index_select(0, labels[s:e])
        d[s:e] = (diff * diff).sum(1)
    best = torch.full((n_clusters,), torch.inf, device=emb.device)
    best.scatter_reduce_(0, labels, d, reduce="amin")
    is_best = d <= best.index_select(0, labels)
    pos = torch.where(
        is_best, torch.arange(N, device=emb.device), torch.full_like(labels, N)
    )
    first = torch.full((n_clusters,), N, dtype=torch.long, device=emb.device)
    first.scatter_reduce_(0, labels, pos, reduce="amin")
    return first[first < N]
