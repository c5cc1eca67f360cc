"""Rows as users have them: DataFrames, raw text, tensors, datasets (private).

A layer below the learner: :class:`~skal.ActiveLearner` calls these to check
``X`` (``validate_rows``, as scikit-learn's ``validate_data``), to hand a
skorch net plain arrays, to keep taught rows in the labeled rows' dtype, and
to recognise rows of its stored pool taught as ``teach(X_rows, y)``. Labels
are :mod:`skal._labels`'.
"""

from __future__ import annotations

import hashlib
import sys
import warnings

import numpy as np
from sklearn.utils.validation import (
    _check_feature_names,
    _num_samples,
    assert_all_finite,
)

from ._kernels import assert_finite_in_blocks
from .utils._arrays import _is_torch_tensor, sample_shape

__all__ = []


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


def frame_like(X, old):
    """Rows given as an array to a DataFrame session, as a DataFrame.

    Same columns (feature names) and, where the values survive the cast,
    the same column dtypes; so ``X_labeled_`` stays a DataFrame end to end.
    """
    if not (hasattr(old, "iloc") and hasattr(old, "columns")) or hasattr(X, "iloc"):
        return X
    A = np.asarray(X) if isinstance(X, list | tuple) else X
    if not isinstance(A, np.ndarray) or A.ndim != 2 or A.shape[1] != old.shape[1]:
        return X
    frame = type(old)(A, columns=old.columns)
    try:
        cast = frame.astype(old.dtypes.to_dict())
        same = np.array_equal(
            cast.to_numpy(dtype=np.float64), frame.to_numpy(dtype=np.float64)
        )
    except (TypeError, ValueError):
        return frame
    return cast if same else frame


def match_dtype(X, old):
    """New rows ``X`` in the dtype of the labeled rows ``old``.

    Stacking rows of another dtype would silently change ``X_labeled_`` (float
    rows turning a float32 table into float64, strings turning it into a
    string array); cast where no information is lost, else raise a TypeError
    that names both dtypes.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(old, torch.Tensor):
        t = torch.as_tensor(X, device=old.device)
        if t.dtype != old.dtype:
            if old.is_floating_point() and not t.is_complex():
                t = t.to(old.dtype)
            elif not (old.is_floating_point() or t.is_floating_point()):
                t = t.to(old.dtype)
            else:
                raise TypeError(
                    f"The rows taught have dtype {t.dtype}, but the labeled rows "
                    f"have dtype {old.dtype}. Convert X to {old.dtype} first."
                )
        return t
    if not (isinstance(old, np.ndarray) and isinstance(X, np.ndarray)):
        return X
    a, b = old.dtype, X.dtype
    if a == b:
        return X
    if a.kind == "O":
        return X.astype(object)
    if a.kind in "US" and b.kind in "US":
        return X
    if a.kind in "biuf" and b.kind in "biufO":
        if b.kind != "O" and np.can_cast(b, a, casting="same_kind"):
            return X.astype(a)
        try:
            cast = X.astype(a)
        except (TypeError, ValueError):
            pass
        else:
            if b.kind == "O" or np.array_equal(cast, X):
                return cast
    raise TypeError(
        f"The rows taught have dtype {b}, but the labeled rows (fit's X) have "
        f"dtype {a}: stacking them would change X_labeled_ or lose information. "
        f"Convert X with X.astype(np.{a.name})."
    )


# -------------------------------------------------------------------- rows
def validate_rows(learner, X, *, reset, is_net, allow_nan):
    """Check ``X`` without copying it; returns it unchanged (lists → array).

    Like scikit-learn's ``validate_data``: with ``reset`` it records
    ``sample_shape_`` (and ``n_features_in_``, ``feature_names_in_``) on
    ``learner``, else it checks ``X`` against them.
    """
    if is_net:
        X = as_net_rows(X)  # a torch Dataset: lazy rows, never loaded
    if isinstance(X, list | tuple) or (
        hasattr(X, "__array__") and not hasattr(X, "shape")
    ):
        X = np.asarray(X)
    if getattr(X, "format", None) in ("coo", "dia", "bsr", "dok", "lil"):
        X = X.tocsr()  # sparse formats without fast row indexing
    if X is None or not hasattr(X, "__len__") and not hasattr(X, "shape"):
        raise TypeError(
            "The 'X' parameter must be an array-like of samples (numpy array, "
            f"torch tensor, DataFrame, sparse matrix). Got {X!r} instead."
        )
    n = _num_samples(X)
    shape = sample_shape(X)
    if is_net and isinstance(X, np.ndarray) and X.dtype.kind not in "fiub":
        raise TypeError(
            "The 'X' parameter must hold numbers for a skorch net; got an "
            f"array of dtype {X.dtype}. Convert it with X.astype(np.float32)."
        )
    if not allow_nan and not assert_finite_in_blocks(X):
        if _is_torch_tensor(X):
            if X.is_floating_point() and not bool(X.isfinite().all()):
                raise ValueError("Input X contains NaN or infinity.")
        elif (isinstance(X, np.ndarray) and X.dtype.kind in "fc") or getattr(
            X, "format", None
        ) in ("csr", "csc"):
            assert_all_finite(X, input_name="X")
    _check_feature_names(learner, X, reset=reset)
    if is_net:
        X = as_net_input(X)  # a DataFrame's columns are no kwargs
    if reset:
        learner.sample_shape_ = shape
        if shape is not None and len(shape) == 1:
            learner.n_features_in_ = shape[0]
    elif shape is not None and learner.sample_shape_ is not None:
        if len(shape) == 0 and len(learner.sample_shape_) == 1:
            raise ValueError(
                "Expected a 2-D array of rows, got a 1-D array instead. "
                "Reshape your data either using array.reshape(-1, 1) if your "
                "data has a single feature or array.reshape(1, -1) if it "
                "contains a single sample."
            )
        if shape != learner.sample_shape_:
            name = type(learner).__name__
            if len(shape) == 1 and len(learner.sample_shape_) == 1:
                raise ValueError(
                    f"X has {shape[0]} features, but {name} is expecting "
                    f"{learner.sample_shape_[0]} features as input."
                )
            raise ValueError(
                f"X has rows of shape {shape}, but {name} is expecting rows "
                f"of shape {learner.sample_shape_} as input."
            )
    if (
        reset
        and shape is not None
        and len(shape) == 0
        and (is_net or not is_text_rows(X))
    ):
        raise ValueError(
            "Expected a 2-D (or N-D) array of rows, got a 1-D array instead. "
            "Reshape your data either using array.reshape(-1, 1) if your "
            "data has a single feature or array.reshape(1, -1) if it "
            "contains a single sample."
        )
    if shape is not None and 0 in shape:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={(n, *shape)}) while a "
            "minimum of 1 is required by ActiveLearner."
        )
    if n == 0 and reset:
        raise ValueError(
            "Found array with 0 sample(s) while a minimum of 1 is "
            "required by ActiveLearner."
        )
    return X


def refit_hint(exc, X_labeled, y_labeled):
    """A clearer error for a skorch net's dtype or output-size failure, or None."""
    msg = str(exc)
    if isinstance(exc, RuntimeError) and (
        "must have the same dtype" in msg
        or "expected scalar type" in msg
        or "Expected object of scalar type" in msg
    ):
        dtype = getattr(X_labeled, "dtype", "unknown")
        return TypeError(
            f"The skorch net cannot train on X of dtype {dtype} ({msg}). "
            "torch layers expect float32 input: convert X with "
            "X.astype(np.float32), or cast inside the module's forward."
        )
    if isinstance(exc, IndexError) and "out of bounds" in msg:
        n = np.unique(y_labeled).size
        return ValueError(
            f"The skorch net has fewer output units than the labels need "
            f"({msg}); the labeled rows hold {n} classes"
            + (
                f" with labels up to {y_labeled.max()}"
                if y_labeled.dtype.kind in "iu"
                else ""
            )
            + ". Give the module more outputs (e.g. module__n_classes)."
        )
    return None


def pool_rows_of(X, X_fit, pool):
    """Rows of the stored pool equal to the rows of ``X`` (all of them), or
    None; warns when only some are, since those stay in the pool."""
    if pool.size == 0:
        return None
    match = match_pool_rows(X, X_fit, pool)
    if match is None or not (match >= 0).any():
        return None
    if (match >= 0).all():
        return match
    warn_unmatched_pool_rows(int((match < 0).sum()), match.size)
    return None


def check_nested_params(learner, params):
    """``strategy__<param>`` (``set_params``) needs a strategy object, not None.

    With ``strategy=None`` the default is built at query time, so it has no
    parameters to set: the error says to pass it explicitly.
    """
    for key in params:
        name = key.split("__", 1)[0]
        if "__" in key and name in ("strategy", "initial_strategy"):
            if params.get(name, getattr(learner, name)) is None:
                default = {
                    "strategy": "ColdStartHybrid()",
                    "initial_strategy": "RandomSampling()",
                }[name]
                raise ValueError(
                    f"Cannot set {key!r}: the '{name}' parameter of "
                    f"ActiveLearner is None (the default, {default}, is built "
                    f"when needed). Pass {name}={default} (from skal.strategies) "
                    f"to tune it, e.g. set_params({name}={default}, {key}=...)."
                )


def index_labels(index, positions, stored):
    """``query(return_index=True)``: the pandas index labels of ``positions``."""
    if index is None:
        raise ValueError(
            "query(return_index=True) returns pandas index labels, but "
            + ("fit's X" if stored else "X")
            + " is not a DataFrame or Series; use the positions it returns "
            "with return_index=False."
        )
    return index[positions]


def warn_labeled_rows(X, X_fit, labeled):
    """Warn when new rows given to ``teach`` equal labeled rows of fit's X.

    They are added as new rows (a second label of the same row): a mistake
    is corrected with ``relabel``, which this warning names.
    """
    if labeled.size == 0:
        return
    match = match_pool_rows(X, X_fit, labeled)
    if match is None or not (match >= 0).any():
        return
    rows = match[match >= 0][:10].tolist()
    warnings.warn(
        f"teach got rows equal to rows {rows} of fit's X, which are labeled "
        "already; they are added as new rows, a second label of the same data. "
        f"To correct a label, use relabel(y, indices={rows}).",
        UserWarning,
        stacklevel=4,
    )
