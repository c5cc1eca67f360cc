"""Labels as users have them: unlabeled markers, kinds, dtypes (private).

A layer below the learner: :class:`~skal.ActiveLearner` calls these to read
``y`` — which rows are unlabeled (the ``missing_label`` parameter), labels of
one kind (numbers or strings) per session, pandas nullable labels as numpy,
object labels of one type as a plain array — and to check what ``teach`` is
given. The session's dtype and codec live in :class:`skal._state.LabelState`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

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


def label_kind(y):
    """'number' or 'string' (or 'mixed'): labels of one session must agree."""
    if y.dtype.kind in "biuf":
        return "number"
    if y.dtype.kind in "US":
        return "string"
    kinds = {
        "string"
        if isinstance(v, str | bytes)
        else "number"
        if isinstance(v, numbers.Number)
        else type(v).__name__
        for v in y
    }
    return kinds.pop() if len(kinds) == 1 else "mixed"


def numpy_labels(y):
    """pandas nullable labels (``Int64``, ``boolean``) without NA as numpy.

    scikit-learn reads them as floats, which would turn ``classes_`` and
    ``predict`` into floats; their own numpy dtype keeps them ints.
    """
    numpy_dtype = getattr(getattr(y, "dtype", None), "numpy_dtype", None)
    if (
        numpy_dtype is not None
        and getattr(y, "ndim", 0) == 1
        and hasattr(y, "to_numpy")
        and not bool(y.isna().any())
    ):
        return y.to_numpy(dtype=numpy_dtype)
    return y


def refuse_mixed_labels(y):
    """Numbers and strings in one ``y`` are a named TypeError, not numpy's."""
    if y.dtype.kind == "O" and label_kind(y) == "mixed":
        kinds = sorted({type(v).__name__ for v in y})
        raise TypeError(
            f"The 'y' parameter holds labels of the types {kinds} (e.g. "
            f"{y[:5].tolist()}); the labels of a session must be all numbers or "
            "all strings."
        )


def concrete_labels(y):
    """Object labels of one Python type as a plain array (bools, ints, strs).

    ``-1`` marks unlabeled rows, so string or bool labels arrive in object
    arrays; once the marked rows are gone, scikit-learn reads them better
    with a concrete dtype (it calls object bools "unknown").
    """
    if y.dtype.kind != "O" or y.size == 0:
        return y
    types = {type(v.item() if isinstance(v, np.generic) else v) for v in y}
    if len(types) == 1 and types <= {bool, int, float, str}:
        return np.array(y.tolist())
    return y


def check_label_kind(y, y_old):
    """Labels of one session agree in kind (numbers or strings)."""
    refuse_mixed_labels(y)
    if y_old.shape[0] == 0:
        return
    new, old = label_kind(y), label_kind(y_old)
    if new != old:
        raise TypeError(
            f"The 'y' parameter of teach holds {new} labels (dtype {y.dtype}), "
            f"but the labeled rows hold {old} labels (dtype "
            f"{y_old.dtype}); the labels of a session must be all "
            "numbers or all strings."
        )


def validate_labels(y, n):
    """``y`` as a 1-D array of ``n`` labels (pandas nullable ints as ints)."""
    y = numpy_labels(y)
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n:
        raise ValueError(
            f"X and y must have the same number of rows; got {n} and {y.shape[0]}."
        )
    return y


def taught_labels(y, n, missing_label):
    """The labels given to ``teach``: ``n`` of them, none unlabeled, one kind."""
    y = validate_labels(y, n)
    if unlabeled_mask(y, missing_label).any():
        raise ValueError(
            "The 'y' parameter of teach must hold labels; got "
            f"{missing_label!r}, the unlabeled marker (missing_label). "
            "Leave such rows out of teach."
        )
    if y.shape[0] == 0:
        return y
    y = concrete_labels(y)
    refuse_mixed_labels(y)
    check_classification_targets(y)
    return y
