"""Sparse rows as dense embeddings, never densified: a seeded TruncatedSVD.

An embedding strategy (k-center, k-means, typicality, BADGE's input part)
needs dense vectors; ``toarray()`` on a 5000 x 20000 TF-IDF pool costs 800 MB
of float64. Instead the rows are projected on the top singular vectors of the
pool (LSA), fitted once on at most ``max_fit_rows`` seeded rows and applied in
row chunks, so memory stays O(N x n_components).

The projection is fitted on the first call for an *owner* (the fitted model,
or the pool itself for raw features) and reused for every later call with the
same owner, so the pool and the labeled rows land in one space.
"""

from __future__ import annotations

import weakref

import numpy as np

__all__ = []

N_COMPONENTS = 128
MAX_FIT_ROWS = 20_000
CHUNK_ROWS = 16_384
_PROJECTORS = {}  # id(owner) -> (weakref to owner, {key: fitted TruncatedSVD})


def is_sparse(X):
    import scipy.sparse as sp

    return sp.issparse(X)


def _projectors(owner):
    if owner is None:
        return {}
    entry = _PROJECTORS.get(id(owner))
    if entry is not None and entry[0]() is owner:
        return entry[1]
    try:
        ref = weakref.ref(owner)
    except TypeError:  # not weak-referenceable: no reuse
        return {}
    key = id(owner)
    _PROJECTORS[key] = (ref, {})
    weakref.finalize(owner, _PROJECTORS.pop, key, None)
    return _PROJECTORS[key][1]


def fit_projector(X, *, random_state=0):
    """A TruncatedSVD fitted on (a seeded sample of) the sparse rows ``X``."""
    from sklearn.decomposition import TruncatedSVD

    n, d = X.shape
    rows = np.arange(n)
    if n > MAX_FIT_ROWS:
        rng = np.random.RandomState(random_state)
        rows = np.sort(rng.choice(n, MAX_FIT_ROWS, replace=False))
    k = max(1, min(N_COMPONENTS, d - 1, rows.size))
    svd = TruncatedSVD(
        n_components=k, algorithm="randomized", random_state=random_state
    )
    return svd.fit(X[rows])


def sparse_embedding(X, *, owner=None, key=None):
    """Dense float32 ``(n, k)`` embedding of the sparse rows ``X``.

    Parameters
    ----------
    X : sparse matrix of shape (n, d)
    owner : object, default=None
        Whose projection to use (fitted on the first call for it); None fits
        a fresh one on ``X``.
    key : hashable, default=None
        Distinguishes several projections of one owner (pipeline layers).
    """
    X = X.tocsr() if X.format not in ("csr", "csc") else X
    X = X.astype(np.float32, copy=False)  # the SVD's buffers in float32 too
    n, d = X.shape
    if d <= 2 or n == 0:  # nothing to reduce
        return np.asarray(X.toarray(), dtype=np.float32).reshape(n, d)
    cache = _projectors(owner)
    svd = cache.get((key, d))
    if svd is None:
        svd = cache[(key, d)] = fit_projector(X)
    out = np.empty((n, svd.n_components), dtype=np.float32)
    for s in range(0, n, CHUNK_ROWS):
        out[s : s + CHUNK_ROWS] = svd.transform(X[s : s + CHUNK_ROWS])
    return out
