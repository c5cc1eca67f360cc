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


def _is_null(v):
    """None, NaN or pandas ``NA``: what ``missing_label="auto"`` reads as unlabeled."""
    return v is None or _is_nan(v) or type(v).__name__ == "NAType"


def _is_minus_one(v):
    return (
        isinstance(v, numbers.Number)
        and not isinstance(v, bool | np.bool_)
        and not _is_nan(v)
        and v == -1
    )


#: What the hints say about the default marker.
AUTO_HINT = (
    "missing_label='auto' (the default: -1, NaN, None and pandas NA mark "
    "unlabeled rows)"
)


def _auto_mask(y):
    """``missing_label="auto"``: -1 for numbers, NaN, None and pandas NA."""
    n = y.shape[0]
    if y.dtype.kind in "iu":
        return y == -1
    if y.dtype.kind == "f":
        return np.isnan(y) | (y == -1)
    if y.dtype.kind != "O":
        return np.zeros(n, dtype=bool)
    return np.fromiter((_is_null(v) or _is_minus_one(v) for v in y), bool, count=n)


def unlabeled_mask(y, missing_label="auto"):
    """Boolean mask of the rows of ``y`` equal to ``missing_label``.

    ``"auto"`` matches ``-1`` (a number, never a bool nor the string
    ``'-1'``), NaN, None and pandas NA. Otherwise NaN matches NaN, None
    matches None; a number never matches a string (the string ``'-1'`` is not
    the number ``-1``) nor a bool.
    """
    n = y.shape[0]
    if isinstance(missing_label, str) and missing_label == "auto":
        return _auto_mask(y)
    if missing_label is None:  # None (and pandas NA, never a class)
        if y.dtype.kind != "O":
            return np.zeros(n, dtype=bool)
        return np.fromiter(
            (v is None or type(v).__name__ == "NAType" for v in y), bool, count=n
        )
    if _is_nan(missing_label):  # NaN (and pandas NA, never a class)
        if y.dtype.kind == "f":
            return np.isnan(y)
        if y.dtype.kind != "O":
            return np.zeros(n, dtype=bool)
        return np.fromiter(
            (_is_nan(v) or type(v).__name__ == "NAType" for v in y), bool, count=n
        )
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
    would otherwise make ``'-1'`` a class and leave the pool empty. Every
    hint names one marker that works; none points back to another.
    """
    auto = isinstance(missing_label, str) and missing_label == "auto"
    if auto:
        text = {"-1", "nan", "null", "<na>", ""}
    elif missing_label is None or _is_nan(missing_label):
        text = {"nan", "none", "null", "<na>", ""}
    else:
        text = {str(missing_label)}
    if y.dtype.kind == "O" and not auto:
        nulls = [v for v in y[~unlabeled] if _is_null(v)]
        if nulls:
            raise ValueError(
                f"y holds {nulls[0]!r}, which is not the unlabeled marker "
                f"missing_label={missing_label!r}, and is never a class. Pass "
                f"{AUTO_HINT} if it marks unlabeled rows."
            )
    if y.dtype.kind in "US" or y.dtype.kind == "O":
        labels = y[~unlabeled]
        if y.dtype.kind == "O":
            labels = np.array([v for v in labels if isinstance(v, str)], dtype=str)
        seen = {
            str(v) for v in np.unique(labels.astype(str)) if v.strip().lower() in text
        }
        if seen and (auto or not isinstance(missing_label, str)):
            raise ValueError(
                f"y holds the string label(s) {sorted(seen)}, which look like the "
                f"unlabeled marker missing_label={missing_label!r} but are not "
                "equal to it, so they would become a class. Pass "
                f"missing_label={sorted(seen)[0]!r} if they mark unlabeled rows, "
                "or rename that class."
            )
    if not auto and missing_label is not None and not _is_nan(missing_label):
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError(
                "Input y contains NaN, but the unlabeled marker is "
                f"missing_label={missing_label!r}. Pass {AUTO_HINT}, or "
                "missing_label=np.nan, if NaN marks unlabeled rows."
            )


def label_kind(y):
    """'number' or 'string' (or 'mixed'): labels of one session must agree."""
    if y.dtype.kind in "biuf":
        return "number"
    if y.dtype.kind in "US":
        return "string"
    if y.size == 0:
        return "empty"
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
    ):
        if not bool(y.isna().any()):
            return y.to_numpy(dtype=numpy_dtype)
        # pandas NA marks unlabeled rows: the labels stay ints (not floats)
        return y.to_numpy(dtype=object)
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


def check_label_kind(y, y_old, method="teach"):
    """Labels of one session agree in kind (numbers or strings)."""
    refuse_mixed_labels(y)
    if y_old.shape[0] == 0:
        return
    new, old = label_kind(y), label_kind(y_old)
    if new != old:
        raise TypeError(
            f"The 'y' parameter of {method} holds {new} labels (dtype {y.dtype}), "
            f"but the labeled rows hold {old} labels (dtype "
            f"{y_old.dtype}); the labels of a session must be all "
            "numbers or all strings."
        )


def validate_labels(y, n, where=""):
    """``y`` as a 1-D array of ``n`` labels (pandas nullable ints as ints)."""
    y = numpy_labels(y)
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n:
        raise ValueError(
            f"X and y must have the same number of rows; got {n} and "
            f"{y.shape[0]}{where}."
        )
    return y


# ---------------------------------------------------------- declared classes
def check_classes(classes, missing_label):
    """The ``classes`` parameter as a 1-D array of distinct labels, or None."""
    if classes is None:
        return None
    c = numpy_labels(classes)
    c = np.asarray(c)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(
            "The 'classes' parameter of ActiveLearner must be a non-empty 1-D "
            f"list of class labels; got {classes!r}."
        )
    c = concrete_labels(c)
    if c.dtype.kind == "O" or c.dtype.kind not in "biufU":
        raise TypeError(
            "The 'classes' parameter of ActiveLearner must hold numbers or "
            f"strings (all of one kind); got {c[:5].tolist()!r}."
        )
    marked = unlabeled_mask(c, missing_label)
    if marked.any():
        raise ValueError(
            f"The 'classes' parameter holds {c[marked][0]!r}, which is the "
            f"unlabeled marker (missing_label={missing_label!r}). Pass another "
            "missing_label (e.g. a string such as '?') to use it as a class."
        )
    if np.unique(c).size != c.size:
        raise ValueError(f"The 'classes' parameter has duplicates: {c.tolist()!r}.")
    return c


def declared_labels(y, classes, method):
    """``y`` as values of ``classes`` (their dtype), or a ValueError naming
    the labels outside them."""
    lookup = {}
    for i, c in enumerate(classes.tolist()):
        lookup.setdefault(c, i)
    pos, bad = [], []
    for v in y.tolist():
        try:
            k = lookup.get(v)
        except TypeError:  # unhashable
            k = None
        if k is None or isinstance(v, bool) != isinstance(classes[k].item(), bool):
            bad.append(v)
        else:
            pos.append(k)
    if bad:
        shown = classes.tolist()
        shown = shown if len(shown) <= 20 else shown[:20] + ["..."]
        raise ValueError(
            f"The 'y' parameter of {method} holds {sorted(set(map(repr, bad)))[:5]}, "
            f"not among the declared classes {shown} (the 'classes' parameter). "
            "Correct the label, or declare the class: "
            "set_params(classes=[...]) and fit again."
        )
    return classes[np.asarray(pos, dtype=np.intp)]


def taught_labels(y, n, missing_label, method="teach"):
    """The labels given to ``teach`` (or ``relabel``): ``n`` of them, none
    unlabeled, one kind."""
    y = validate_labels(
        y, n, f" (in {method}, the rows given by indices= or index= count as X)"
    )
    marked = unlabeled_mask(y, missing_label)
    if marked.any():
        raise ValueError(
            f"The 'y' parameter of {method} must hold labels; got "
            f"{y[marked][0]!r}, an unlabeled marker (missing_label="
            f"{missing_label!r}). Leave such rows out of {method}"
            + (
                ", or use unlabel() to return rows to the pool."
                if method != "unlabel"
                else "."
            )
        )
    if method == "teach":
        check_no_lookalike(y, marked, missing_label)
    if y.shape[0] == 0:
        return y
    y = concrete_labels(y)
    refuse_mixed_labels(y)
    check_classification_targets(y)
    return y
