"""Summaries of active-learning curves.

A learning curve is a sequence of budgets (number of labels) with the score
the model reached at each budget. :func:`aulc` condenses one curve into a
single number; :func:`label_efficiency` compares a strategy's curve with
random sampling's in the unit practitioners care about: labels.
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import auc
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["aulc", "label_efficiency", "labels_to_reach"]


def _check_curve(n_labels, scores, *, names=("n_labels", "scores"), positive=None):
    """Validate one learning curve and return it sorted by budget, as floats.

    ``positive``, when given, is the reason budgets must be positive.
    """
    n_name, s_name = names
    n = np.asarray(n_labels)
    s = np.asarray(scores)
    for name, arr in ((n_name, n), (s_name, s)):
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-D array, one value per budget; "
                f"got an array of shape {arr.shape}."
            )
        if not np.issubdtype(arr.dtype, np.number) or arr.dtype == bool:
            raise TypeError(f"{name} must hold numbers; got dtype {arr.dtype}.")
    if n.shape[0] != s.shape[0]:
        raise ValueError(
            f"{n_name} and {s_name} must have the same length; "
            f"got {n.shape[0]} and {s.shape[0]}."
        )
    if n.shape[0] == 0:
        raise ValueError(f"{n_name} and {s_name} must hold at least one point; got 0.")
    n = n.astype(np.float64)
    s = s.astype(np.float64)
    for name, arr in ((n_name, n), (s_name, s)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite; got {arr[~np.isfinite(arr)][0]}.")
    if positive and np.any(n <= 0):
        raise ValueError(
            f"{n_name} must be positive {positive}; got {n[n <= 0][0]:g}. "
            "Drop the zero-label point of the curve."
        )
    order = np.argsort(n, kind="stable")
    n, s = n[order], s[order]
    dup = np.flatnonzero(np.diff(n) == 0)
    if dup.size:
        raise ValueError(
            f"{n_name} must be strictly increasing after sorting (one score per "
            f"budget); got the budget {n[dup[0]]:g} more than once. Average the "
            "repeated runs first."
        )
    return n, s


@validate_params(
    {
        "n_labels": ["array-like"],
        "scores": ["array-like"],
        "scale": [StrOptions({"linear", "log"})],
        "normalize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def aulc(
    n_labels: ArrayLike,
    scores: ArrayLike,
    *,
    scale: str = "linear",
    normalize: bool = True,
) -> float:
    """Area under the learning curve.

    The curve is integrated with the trapezoidal rule over the budget axis,
    after sorting the points by budget.

    Parameters
    ----------
    n_labels : array-like of shape (n_points,)
        Number of labels at each point of the curve. Sorted internally; every
        budget must appear once.
    scores : array-like of shape (n_points,)
        Score (e.g. test accuracy) reached at each budget.
    scale : {"linear", "log"}, default="linear"
        Axis to integrate over. ``"log"`` integrates over ``log(n_labels)``,
        so every doubling of the budget weighs the same; this emphasises the
        small budgets where strategies differ most. Requires positive
        ``n_labels``.
    normalize : bool, default=True
        Divide by the width of the budget range (on the chosen scale), so the
        result is an average score: a constant curve at ``a`` gives ``a`` and
        ``min(scores) <= aulc <= max(scores)``. With ``False`` the raw area is
        returned, in score x labels (or score x log-labels).

    Returns
    -------
    area : float
        Normalised (or raw) area under the curve. A single point has no width:
        its score is returned when ``normalize=True`` and ``0.0`` otherwise.

    See Also
    --------
    label_efficiency : Compare a strategy's curve with random sampling's.

    Examples
    --------
    >>> from skal.metrics import aulc
    >>> aulc([100, 200, 300], [0.5, 0.7, 0.9])
    0.7
    >>> aulc([100, 200, 300], [0.8, 0.8, 0.8])
    0.8
    >>> round(aulc([10, 100, 1000], [0.5, 0.7, 0.8], scale="log"), 6)
    0.675
    >>> aulc([100, 200], [0.5, 0.7], normalize=False)
    60.0
    """
    n, s = _check_curve(
        n_labels, scores, positive="with scale='log'" if scale == "log" else None
    )
    if n.shape[0] == 1:
        return float(s[0]) if normalize else 0.0
    x = np.log(n) if scale == "log" else n
    area = float(auc(x, s))  # scikit-learn's trapezoidal rule
    if normalize:
        area /= x[-1] - x[0]
        # Guard the mathematical bound against floating-point round-off.
        area = float(np.clip(area, s.min(), s.max()))
    return area


def _labels_to_reach(targets, n, s_monotone, scale="linear"):
    """Smallest budget at which a non-decreasing, piecewise linear curve reaches
    each target score; ``inf`` where it never does. Targets at or below the
    first score map to the first budget (the curve is unknown before it).
    ``scale="log"`` interpolates linearly in ``log(n)`` between two budgets."""
    idx = np.searchsorted(s_monotone, targets, side="left")
    out = np.full(targets.shape, np.inf)
    first = idx == 0
    out[first] = n[0]
    inner = (idx > 0) & (idx < n.shape[0])
    j = idx[inner]
    s0, s1 = s_monotone[j - 1], s_monotone[j]
    n0, n1 = n[j - 1], n[j]
    # s0 < target <= s1 here, so s1 > s0 and the division is safe.
    frac = (targets[inner] - s0) / (s1 - s0)
    if scale == "log":
        lo, hi = np.log(n0), np.log(n1)
        out[inner] = np.exp(lo + frac * (hi - lo))
    else:
        out[inner] = n0 + frac * (n1 - n0)
    return out


@validate_params(
    {
        "n_labels": ["array-like"],
        "scores": ["array-like"],
        "target": ["array-like", Real],
        "scale": [StrOptions({"linear", "log"})],
    },
    prefer_skip_nested_validation=True,
)
def labels_to_reach(
    n_labels: ArrayLike,
    scores: ArrayLike,
    target: ArrayLike | float,
    *,
    scale: str = "linear",
) -> np.ndarray | float:
    """Labels a learning curve needs to reach a score.

    The curve is first made non-decreasing with a running maximum (the best
    score reached with at most ``n`` labels), then read between its points by
    interpolation; the labels needed is the first budget where it reaches
    ``target``. This is the reading :func:`label_efficiency` makes of both
    curves.

    Parameters
    ----------
    n_labels : array-like of shape (n_points,)
        Budgets of the learning curve (each once).
    scores : array-like of shape (n_points,)
        The score at each budget.
    target : float or array-like of float
        Score(s) to reach.
    scale : {"linear", "log"}, default="linear"
        Interpolation between two budgets: linear in the number of labels,
        or linear in its logarithm (suits geometric budgets; needs positive
        budgets).

    Returns
    -------
    n_needed : float or ndarray of shape (n_targets,)
        ``inf`` where the curve never reaches the target; the first budget
        where the target is at or below the first score.

    See Also
    --------
    label_efficiency : The ratio of two such readings, random's over the
        strategy's.

    Examples
    --------
    >>> from skal.metrics import labels_to_reach
    >>> labels_to_reach([100, 200, 400], [0.6, 0.7, 0.8], 0.75)
    300.0
    >>> round(labels_to_reach([100, 200, 400], [0.6, 0.7, 0.8], 0.75,
    ...                       scale="log"), 1)
    282.8
    >>> labels_to_reach([100, 200], [0.6, 0.7], [0.5, 0.9]).tolist()
    [100.0, inf]
    """
    n, s = _check_curve(
        n_labels, scores, positive="with scale='log'" if scale == "log" else None
    )
    t = np.asarray(target, dtype=np.float64)
    if t.ndim > 1:
        raise ValueError(
            "target must be a float or a 1-D array of scores; "
            f"got an array of shape {t.shape}."
        )
    if not np.all(np.isfinite(t)):
        raise ValueError(f"target must be finite; got {t[~np.isfinite(t)][0]}.")
    out = _labels_to_reach(t.reshape(-1), n, np.maximum.accumulate(s), scale)
    return float(out[0]) if t.ndim == 0 else out


@validate_params(
    {
        "n_labels": ["array-like"],
        "scores": ["array-like"],
        "random_n_labels": ["array-like"],
        "random_scores": ["array-like"],
        "at": ["array-like", Real, None],
        "unreached": [StrOptions({"warn", "bound"}), Real],
    },
    prefer_skip_nested_validation=True,
)
def label_efficiency(
    n_labels: ArrayLike,
    scores: ArrayLike,
    random_n_labels: ArrayLike,
    random_scores: ArrayLike,
    *,
    at: ArrayLike | float | None = None,
    unreached: str | float = "warn",
) -> np.ndarray | float:
    """How many times more labels random sampling needs to match a strategy.

    At a strategy budget ``b``, the strategy reaches the score ``a``; the label
    efficiency is the number of labels random sampling needs to reach ``a``,
    divided by the number the strategy needed. A value of 2 means random
    sampling needs twice the labels (the strategy halves the labelling cost);
    1 means no gain; below 1, the strategy is worse than random.

    Both curves are first made non-decreasing with a running maximum (the best
    score reached with at most ``n`` labels), then read between points by
    linear interpolation; the labels a curve needs to reach ``a`` is the first
    budget where it does. Both curves are treated the same way, so identical
    curves give exactly 1, and a strategy curve strictly increasing at ``b``
    needed exactly ``b`` labels.

    Parameters
    ----------
    n_labels : array-like of shape (n_points,)
        Budgets of the strategy's learning curve (positive, each once).
    scores : array-like of shape (n_points,)
        The strategy's score at each budget.
    random_n_labels : array-like of shape (n_random_points,)
        Budgets of random sampling's learning curve (positive, each once).
    random_scores : array-like of shape (n_random_points,)
        Random sampling's score at each budget. Average the seeds first.
    at : float or array-like of float, default=None
        Strategy budget(s) at which to evaluate, inside the range of
        ``n_labels`` (the strategy curve is interpolated between its points).
        ``None`` evaluates at every budget of the strategy's curve.
    unreached : "warn", "bound" or float, default="warn"
        What to return where random sampling never reaches the strategy's
        score within its curve, so the labels it needs are unknown beyond its
        largest budget ``B``:

        - ``"warn"``: return the lower bound ``B / labels the strategy
          needed`` (the true efficiency is at least this) and emit an
          :class:`~sklearn.exceptions.UndefinedMetricWarning`;
        - ``"bound"``: the same lower bound, silently;
        - a float, e.g. ``np.nan`` (mean-safe with ``np.nanmean``) or
          ``np.inf``: returned as is for those budgets.

        Measure random sampling further than the strategy to avoid the case.
        Symmetrically, where random sampling already reaches the score at its
        first budget, its first budget is used, so the ratio is then an upper
        bound; with both curves starting from the same initial labeled set
        this gives 1 at the first budget.

    Returns
    -------
    efficiency : ndarray of shape (n_at,) or float
        Ratio for each budget of ``at`` (every strategy budget when ``at`` is
        None); a float when ``at`` is a scalar.

    See Also
    --------
    aulc : Area under one learning curve.

    Examples
    --------
    Random sampling needs twice the labels to reach each of the strategy's
    scores:

    >>> from skal.metrics import label_efficiency
    >>> label_efficiency([100, 200, 400], [0.6, 0.7, 0.8],
    ...                  [100, 200, 400, 800], [0.5, 0.6, 0.7, 0.8])
    array([2., 2., 2.])

    Between random's points the curve is interpolated; a scalar ``at`` gives a
    float:

    >>> label_efficiency([100, 200], [0.6, 0.7], [100, 300], [0.5, 0.7], at=200)
    1.5
    """
    reason = "to form a ratio of label counts"
    n_s, s_s = _check_curve(n_labels, scores, positive=reason)
    n_r, s_r = _check_curve(
        random_n_labels,
        random_scores,
        names=("random_n_labels", "random_scores"),
        positive=reason,
    )
    scalar = at is not None and np.ndim(at) == 0
    if at is None:
        budgets = n_s
    else:
        if np.ndim(at) > 1:
            raise ValueError(
                "at must be a float or a 1-D array of budgets; "
                f"got an array of shape {np.shape(at)}."
            )
        budgets = np.asarray(at, dtype=np.float64).reshape(-1)
        outside = (budgets < n_s[0]) | (budgets > n_s[-1]) | ~np.isfinite(budgets)
        if np.any(outside):
            raise ValueError(
                f"at must lie within the strategy's budgets "
                f"[{n_s[0]:g}, {n_s[-1]:g}]; got {budgets[outside][0]:g}."
            )

    s_s = np.maximum.accumulate(s_s)
    s_r = np.maximum.accumulate(s_r)
    targets = np.interp(budgets, n_s, s_s)
    needed_strategy = _labels_to_reach(targets, n_s, s_s)
    needed_random = _labels_to_reach(targets, n_r, s_r)
    ratio = needed_random / needed_strategy

    never = ~np.isfinite(needed_random)
    if np.any(never):
        if isinstance(unreached, str):
            ratio[never] = n_r[-1] / needed_strategy[never]
            if unreached == "warn":
                warnings.warn(
                    f"Random sampling never reaches the strategy's score at "
                    f"{never.sum()} of {never.size} budget(s) (first at "
                    f"{budgets[never][0]:g} labels, score "
                    f"{targets[never][0]:g} > random's best {s_r[-1]:g}); "
                    f"returning the lower bound {n_r[-1]:g} / labels the "
                    "strategy needed. Extend random sampling's curve, or pass "
                    "unreached='bound' (or a float such as np.nan) to silence "
                    "this warning.",
                    UndefinedMetricWarning,
                    stacklevel=3,
                )
        else:
            ratio[never] = float(unreached)
    return float(ratio[0]) if scalar else ratio
