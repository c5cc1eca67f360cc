"""k-means++ seeding (KMeansSampling) and BADGE seeding on implicit gradient
embeddings."""

from __future__ import annotations

import torch

from ._blocks import (
    _as_matrix,
    _as_pool,
    _as_reference,
    _Blocks,
    _check_n,
    _is_out_of_core,
    _uniforms,
)
from ._linalg import _D2Sampler, _MatVec, _min_sq_dist_to_set, _sq_norms, _update_mins

__all__ = ["badge_kmeans_pp", "badge_sq_distances", "kmeans_pp"]


# --------------------------------------------------------------------------
# k-means++ seeding
# --------------------------------------------------------------------------
def kmeans_pp(X, n, *, random_state=None, init=None, chunk_size=None, uniforms=None):
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
    random_state : int, torch.Generator, RandomState or None, optional
        Source of the ``n`` uniform draws (all drawn upfront on the
        random_state generator's device).
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
    >>> sorted(kmeans_pp(X, 3, random_state=0).tolist())
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
    u = _uniforms(n, random_state, device, uniforms)
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


def badge_kmeans_pp(
    proba, emb, n, *, random_state=None, chunk_size=None, uniforms=None
):
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
    random_state : int, torch.Generator, RandomState or None, optional
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
    u = _uniforms(n, random_state, device, uniforms)
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
