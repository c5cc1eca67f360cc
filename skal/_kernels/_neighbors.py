"""Nearest neighbours, radius graphs and typicality (TypiClust, ProbCover)."""

from __future__ import annotations

import torch

from ._blocks import _as_matrix, default_chunk_size
from ._linalg import _sq_norms

__all__ = ["knn", "radius_graph", "typicality"]


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
