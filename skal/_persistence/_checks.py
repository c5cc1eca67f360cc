"""Cross-checks of a loaded session: what each value must agree with.

A session file whose values each pass their own checks may still disagree
with itself: ``fit_params`` that the estimator's ``fit`` does not take, a
labeled row that is not the row of ``X`` it names, a complex or infinite
labeled row. Each is found here, at load (a :class:`SessionFileError` naming
the field), never as a raw error at the first ``teach`` or ``query``.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator

from ..models import is_skorch_net
from ..utils._arrays import take_rows
from ._codec import _holds_class
from ._format import _n_rows

__all__ = ["check_fit_params", "check_labeled_rows"]


def _keywords(func, skip):
    """Keyword names ``func`` takes (None: any, it has ``**kwargs``)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    names = set()
    for i, p in enumerate(sig.parameters.values()):
        if p.kind is p.VAR_KEYWORD:
            return None
        if i < skip or p.kind is p.VAR_POSITIONAL:
            continue
        names.add(p.name)
    return names


def _accepts(est, key):
    """Whether ``est.fit(X, y, **{key: ...})`` takes ``key`` (True when unknown)."""
    steps = getattr(est, "named_steps", None)
    if steps is not None:  # a Pipeline routes "<step>__<param>"
        step, _, rest = key.partition("__")
        return bool(rest) and step in steps and _accepts(steps[step], rest)
    if is_skorch_net(est):  # fit_params reach the module's forward
        module = est.get_params(deep=False).get("module")
        forward = getattr(module, "forward", None)
        if forward is None:
            return True
        skip = 2 if inspect.isclass(module) else 1  # (self,) X
        names = _keywords(forward, skip)
        return names is None or key in names
    fit = getattr(est, "fit", None)
    if fit is None:
        return False
    names = _keywords(fit, 2)  # X, y (a bound method: no self)
    return names is None or key in names


def check_fit_params(fit_params, estimator):
    """``fit_params`` are plain values that the estimator's ``fit`` takes."""
    for k, v in fit_params.items():
        if not isinstance(k, str):
            raise TypeError(f"fit_params has the key {k!r:.40}, not a str")
        if (
            inspect.isclass(v)
            or _holds_class(v)
            or isinstance(v, BaseEstimator)
            or callable(v)
        ):
            raise TypeError(
                f"fit_params['{k}'] is a {type(v).__name__}; a file holds plain "
                "values there"
            )
        if not _accepts(estimator, k):
            raise ValueError(
                f"fit_params names '{k}', which {type(estimator).__name__}.fit "
                "does not take"
            )


def _allows_nan(estimator):
    if is_skorch_net(estimator):
        return False
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(estimator).input_tags.allow_nan)
    except Exception:  # pragma: no cover - an estimator without tags
        return False


def _numeric(A):
    """A numpy view of ``A``'s values when they are numbers, else None."""
    if getattr(A, "format", None) in ("csr", "csc"):
        return np.asarray(A.data)
    if hasattr(A, "iloc") and hasattr(A, "columns"):
        kinds = {np.dtype(d).kind if isinstance(d, np.dtype) else "O" for d in A.dtypes}
        if not kinds <= set("biufc"):
            return None
        return A.to_numpy()
    if hasattr(A, "detach"):  # a tensor
        A = A.detach().cpu().numpy()
    A = np.asarray(A)
    return A if A.dtype.kind in "biufc" else None


def _kind(A):
    if getattr(A, "format", None) in ("csr", "csc"):
        return "sparse"
    if hasattr(A, "iloc") and hasattr(A, "columns"):
        return "pandas"
    if hasattr(A, "detach"):
        return "torch"
    return "numpy"


def _same_rows(a, b):
    kind = _kind(a)
    if kind != _kind(b) or a.shape != b.shape:
        return False
    if kind == "sparse":
        diff = abs(a.tocsr() - b.tocsr())
        return diff.nnz == 0 or not np.any(diff.data)
    if kind == "pandas":
        return a.reset_index(drop=True).equals(b.reset_index(drop=True))
    if kind == "torch":
        a, b = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def check_labeled_rows(state, X, estimator, positions=None):
    """The labeled rows agree with ``X`` and hold what a refit accepts.

    ``X_labeled`` is of ``X``'s container and kind of values (no complex or
    text rows beside real ones), finite (NaN only where the estimator takes
    it), and each row labeled from the pool is the row of ``X`` it names
    (``label_provenance_`` aligns them; ``positions`` is None for files
    saved before it was, whose rows of the pool are then not compared).
    """
    XL = state.X_labeled
    if _kind(XL) != _kind(X):
        raise TypeError(f"X_labeled_ is a {_kind(XL)} array, fit's X a {_kind(X)} one")
    if _kind(X) != "pandas" and tuple(XL.shape[1:]) != tuple(X.shape[1:]):
        raise ValueError(
            f"X_labeled_ has rows of shape {tuple(XL.shape[1:])}, fit's X of "
            f"{tuple(X.shape[1:])}"
        )
    if _kind(X) == "pandas" and list(XL.columns) != list(X.columns):
        raise ValueError("X_labeled_ has other columns than fit's X")
    x_values, xl_values = _numeric(X), _numeric(XL)
    if x_values is not None:
        if xl_values is None:
            raise TypeError("X_labeled_ holds values that are not numbers")
        if xl_values.dtype.kind == "c" and x_values.dtype.kind != "c":
            raise TypeError("X_labeled_ holds complex values; fit's X real ones")
        if xl_values.dtype.kind in "fc":
            finite = np.isfinite(xl_values)
            if not finite.all():
                nan_ok = _allows_nan(estimator)
                if not nan_ok or np.isinf(xl_values).any():
                    raise ValueError(
                        "X_labeled_ holds values that are not finite, which "
                        f"{type(estimator).__name__} does not take"
                    )
    if positions is None:
        return
    prov = state.provenance
    at = [i for i, p in enumerate(prov) if p["row"] is not None]
    rows = [prov[i]["row"] for i in at]
    if not at:
        return
    if not _same_rows(take_rows(XL, np.asarray(at)), take_rows(X, np.asarray(rows))):
        raise ValueError(
            "X_labeled_ does not hold the rows of fit's X that labeled_indices_ "
            "and label_provenance_ name"
        )
    if _n_rows(XL) != len(prov):  # pragma: no cover - from_dict checks it
        raise ValueError("label_provenance_ and X_labeled_ differ in length")
