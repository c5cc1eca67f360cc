"""k-center greedy (CoreSet)."""

from __future__ import annotations

import torch

from ._blocks import (
    _as_pool,
    _as_reference,
    _check_n,
    _make_generator,
)
from ._linalg import (
    _ArgMax,
    _MatVec,
    _min_sq_dist_to_set,
    _slices,
    _sq_norms,
    _update_mins,
)

__all__ = ["k_center_greedy"]


def k_center_greedy(X, n, *, init=None, chunk_size=None, random_state=None):
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
    random_state : int, torch.Generator, RandomState or None, optional
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
        g = _make_generator(random_state, device)
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
