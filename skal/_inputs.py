"""Inputs as users have them: unlabeled markers, DataFrames, raw text, rows.

A layer below the learner: :class:`~skal.ActiveLearner` calls these to read
``y`` (which rows are unlabeled, for the ``missing_label`` parameter), to hand
a skorch net plain arrays, and to recognise rows of its stored pool taught
as ``teach(X_rows, y)``.
"""

from __future__ import annotations

import hashlib
import numbers
import sys
import warnings

import numpy as np

__all__ = []


def _is_nan(v):
    return isinstance(v, float | np.floating) and v != v


def unlabeled_mask(y, missing_label=-1):
    """Boolean mask of the rows of ``y`` equal to ``missing_label``.

    NaN matches NaN, None matches None; a number never matches a string (the
    string ``'-1'`` is not the number ``-1``) nor a bool.
    """
    n = y.shape[0]
    if missing_label is None:
        if y.dtype.kind != "O":
            return np.zeros(n, dtype=bool)
        return np.fromiter((v is None for v in y), dtype=bool, count=n)
    if _is_nan(missing_label):
        if y.dtype.kind == "f":
            return np.isnan(y)
        if y.dtype.kind != "O":
            return np.zeros(n, dtype=bool)
        return np.fromiter((_is_nan(v) for v in y), dtype=bool, count=n)
    if isinstance(missing_label, str):
        if y.dtype.kind in "US":
            return y == missing_label
        if y.dtype.kind != "O":
            return np.zeros(n, dtype=bool)
        return np.fromiter(
            (isinstance(v, str) and v == missing_label for v in y), dtype=bool, count=n
        )
    if y.dtype.kind in "iuf":
        return y == missing_label
    if y.dtype.kind == "O":
        return np.fromiter(
            (
                isinstance(v, numbers.Number)
                and not isinstance(v, bool | np.bool_)
                and v == missing_label
                for v in y
            ),
            dtype=bool,
            count=n,
        )
    return np.zeros(n, dtype=bool)


def check_no_lookalike(y, unlabeled, missing_label):
    """Refuse a label that only looks like the marker (``'-1'`` for ``-1``).

    A string session whose unlabeled rows read ``'-1'`` (a CSV column, say)
    would otherwise make ``'-1'`` a class and leave the pool empty.
    """
    if missing_label is None or _is_nan(missing_label):
        text = {"nan", "none", "null", ""}
    else:
        text = {str(missing_label)}
    if y.dtype.kind in "US" or y.dtype.kind == "O":
        labels = y[~unlabeled]
        seen = {
            str(v) for v in np.unique(labels.astype(str)) if v.strip().lower() in text
        }
        if seen and not isinstance(missing_label, str):
            raise ValueError(
                f"y holds the string label(s) {sorted(seen)}, which look like the "
                f"unlabeled marker missing_label={missing_label!r} but are not "
                "equal to it, so they would become a class. Pass "
                f"missing_label={sorted(seen)[0]!r} if they mark unlabeled rows, "
                "or rename that class."
            )
    if missing_label is not None and not _is_nan(missing_label):
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError(
                "Input y contains NaN, but the unlabeled marker is "
                f"missing_label="
                f"{missing_label!r}. Pass missing_label=np.nan if NaN marks "
                "unlabeled rows."
            )
        if y.dtype.kind == "O" and any(v is None or _is_nan(v) for v in y):
            raise ValueError(
                "Input y contains None or NaN, but the unlabeled marker is "
                f"missing_label="
                f"{missing_label!r}. Pass missing_label=None (or np.nan) if they "
                "mark unlabeled rows."
            )


# ----------------------------------------------------------------- X forms
def is_pandas(X):
    return hasattr(X, "iloc") and hasattr(X, "index")


def is_text_rows(X):
    """A 1-D array (or list) of strings: raw text rows for a pipeline."""
    return (
        isinstance(X, np.ndarray)
        and X.ndim == 1
        and (
            X.dtype.kind in "US"
            or (
                X.dtype.kind == "O"
                and X.size
                and all(isinstance(v, str | bytes) for v in X[: min(X.size, 100)])
            )
        )
    )


def as_net_input(X):
    """What a skorch net gets: a DataFrame's values (its columns would reach
    the module's ``forward`` as keyword arguments), anything else unchanged."""
    if is_pandas(X):
        return X.to_numpy()
    return X


def _dataset_rows_class():
    from skorch.helper import SliceDataset

    class DatasetRows(SliceDataset):
        """The rows of a torch ``Dataset`` for a skorch net: lazy (items are
        read in the net's batches), indexable with int arrays like an array,
        with the shape ``(n, *row_shape)`` the learner checks. ``idx=None``
        takes each item whole; ``idx=0`` its first element (``(x, y)``
        items). ``np.asarray`` (labeled rows are stacked) loads the rows."""

        def __init__(self, dataset, idx=0, indices=None):
            super().__init__(dataset, idx=idx, indices=indices)
            self._row_shape = None

        def _select_item(self, Xn):
            return Xn if self.idx is None else super()._select_item(Xn)

        @property
        def shape(self):
            if self._row_shape is None:
                first = self[0] if len(self) else None
                self._row_shape = tuple(getattr(first, "shape", np.shape(first)))
            return (len(self), *self._row_shape)

    return DatasetRows


def as_net_rows(X):
    """A torch ``Dataset`` (or skorch ``SliceDataset``) pool as lazy rows a
    skorch net reads batch by batch; anything else unchanged."""
    torch = sys.modules.get("torch")
    if torch is None or isinstance(X, torch.Tensor):
        return X
    from skorch.helper import SliceDataset

    DatasetRows = _dataset_rows_class()
    if isinstance(X, DatasetRows):
        return X
    if type(X) is SliceDataset:
        return DatasetRows(X.dataset, idx=X.idx, indices=X.indices_)
    if isinstance(X, torch.utils.data.Dataset):
        first = X[0] if len(X) else None
        return DatasetRows(X, idx=0 if isinstance(first, tuple | list) else None)
    return X


# -------------------------------------------------------- rows of the pool
def _row_digests(X):
    """A digest per row of a numpy array (bytes of the row)."""
    A = np.ascontiguousarray(X).reshape(X.shape[0], -1)
    if A.dtype.kind == "O":
        return [
            hashlib.blake2b(repr(r.tolist()).encode(), digest_size=16).digest()
            for r in A
        ]
    view = A.view(np.dtype((np.void, A.dtype.itemsize * A.shape[1])))
    return [hashlib.blake2b(v.tobytes(), digest_size=16).digest() for v in view.ravel()]


def _as_numpy_rows(X):
    if isinstance(X, np.ndarray):
        return X
    if is_pandas(X):
        return X.to_numpy()
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # torch tensor
        return X.detach().cpu().numpy()
    return None


def match_pool_rows(X_new, X_fit, pool, *, chunk_rows=65_536):
    """Positions in ``X_fit`` of the pool rows equal to the rows of ``X_new``.

    Returns an int array (one per row of ``X_new``, ``-1`` where no pool row
    is equal), or None when the containers cannot be compared row by row
    (sparse matrices, datasets). Equality is exact (after a lossless cast to
    the pool's dtype); a row equal to several pool rows takes a distinct one
    each time. Numeric pools are screened by a seeded random projection
    (one chunked mat-vec over the pool, no copy of it), then compared exactly.
    """
    import scipy.sparse as sp

    if sp.issparse(X_new) and sp.issparse(X_fit):
        return _match_sparse_rows(X_new.tocsr(), X_fit.tocsr(), pool)
    a, b = _as_numpy_rows(X_new), _as_numpy_rows(X_fit)
    if a is None or b is None or a.shape[1:] != b.shape[1:]:
        return None
    out = np.full(a.shape[0], -1, dtype=np.intp)
    if pool.size == 0 or a.shape[0] == 0:
        return out
    numeric = a.dtype.kind in "biuf" and b.dtype.kind in "biuf"
    if a.dtype != b.dtype:
        if not numeric:
            return None
        with np.errstate(all="ignore"):
            cast = a.astype(b.dtype)
        if not np.array_equal(cast, a):
            return out  # values the pool's dtype cannot hold: no pool row
        a = cast
    if not numeric:  # strings, objects: digests of the rows
        where = {}
        for i, d in zip(pool.tolist(), _row_digests(b[pool])):
            where.setdefault(d, []).append(i)
        for j, d in enumerate(_row_digests(a)):
            rows = where.get(d)
            if rows:
                out[j] = rows.pop(0)
        return out
    A = a.reshape(a.shape[0], -1)
    r = np.random.RandomState(0).standard_normal(A.shape[1])
    fa = A.astype(np.float64) @ r
    fb = np.empty(pool.shape[0])
    for s in range(0, pool.shape[0], chunk_rows):
        rows = b[pool[s : s + chunk_rows]]
        fb[s : s + chunk_rows] = rows.reshape(rows.shape[0], -1).astype(np.float64) @ r
    used = set()
    tol = 1e-9 * (np.abs(A).astype(np.float64) @ np.abs(r) + 1.0)
    for j in range(A.shape[0]):
        near = np.flatnonzero(np.abs(fb - fa[j]) <= tol[j])
        for k in near.tolist():
            i = int(pool[k])
            if i not in used and np.array_equal(b[i].reshape(-1), A[j]):
                out[j] = i
                used.add(i)
                break
    return out


def _match_sparse_rows(a, b, pool):
    """:func:`match_pool_rows` for CSR rows: the same screen (a sparse
    mat-vec, nothing densified), then rows compared exactly (no stored
    element differs)."""
    out = np.full(a.shape[0], -1, dtype=np.intp)
    if a.shape[1] != b.shape[1] or pool.size == 0 or a.shape[0] == 0:
        return out
    r = np.random.RandomState(0).standard_normal(a.shape[1])
    fa = a.astype(np.float64) @ r
    fb = b[pool].astype(np.float64) @ r
    tol = 1e-9 * (abs(a).astype(np.float64) @ np.abs(r) + 1.0)
    used = set()
    for j in range(a.shape[0]):
        for k in np.flatnonzero(np.abs(fb - fa[j]) <= tol[j]).tolist():
            i = int(pool[k])
            if i not in used and (b[i] != a[j]).nnz == 0:
                out[j] = i
                used.add(i)
                break
    return out


def warn_unmatched_pool_rows(n_unmatched, n):
    warnings.warn(
        f"teach got {n} rows in X, {n_unmatched} of them not found in the stored "
        "pool, so no pool row is taken out for them (they are added as new rows). "
        "To label rows of the pool, pass their indices: "
        "teach(y=answers, indices=idx) with idx from query().",
        UserWarning,
        stacklevel=3,
    )
