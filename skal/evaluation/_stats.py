"""Statistics over simulations: learning curves, paired differences, power, TOST.

:func:`paired_differences` compares each strategy with a baseline (random
sampling) seed by seed, with confidence intervals (t by default);
:func:`equivalence_test` runs the two one-sided tests and reports the power
of the paired t-test (:func:`paired_t_power`).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

from ..metrics import aulc as _aulc
from ..utils._validation import Count

_CI_METHODS = ("t", "bca", "percentile", "bootstrap")


# --------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------
def _as_records(results):
    """Records of :func:`evaluate`, or one learner's ``history_`` as such.

    A ``history_`` (records without ``"strategy"``) becomes one curve named
    ``"learner"``, seed 0.
    """
    if hasattr(results, "to_dict") and hasattr(results, "columns"):
        return results.to_dict("records")
    recs = list(results)
    if recs and all("strategy" not in r for r in recs):
        recs = [{"strategy": "learner", "seed": 0, **r} for r in recs]
    return recs


def _default_metric(recs, metric):
    """``metric``, else "accuracy" (evaluate) or "score" (a ``history_``)."""
    if metric is None:
        metric = "score" if recs and "accuracy" not in recs[0] else "accuracy"
    missing = [r for r in recs if metric not in r]
    if missing:
        hint = (
            " A learner's history_ has a 'score' only when fit got "
            "eval_set=(X_val, y_val)."
            if metric == "score"
            else ""
        )
        raise ValueError(
            f"The 'metric' {metric!r} is missing from {len(missing)} of "
            f"{len(recs)} records (keys: {sorted(missing[0])}).{hint}"
        )
    return metric


def learning_curves(results, metric: str = "accuracy") -> dict:
    """Per strategy, the curves of every seed on a common budget axis.

    Parameters
    ----------
    results : list of dict or DataFrame
        As returned by :func:`evaluate`.
    metric : str, default="accuracy"
        Column to read.

    Returns
    -------
    curves : dict of str to (n_labels, seeds, values)
        ``n_labels`` (n_budgets,), ``seeds`` (n_seeds,), ``values``
        (n_seeds, n_budgets) with NaN where a run lacks a budget.

    Examples
    --------
    >>> from skal.evaluation import learning_curves
    >>> recs = [{"strategy": "a", "seed": s, "n_labels": n, "accuracy": n / 10}
    ...         for s in (0, 1) for n in (1, 2)]
    >>> n, seeds, v = learning_curves(recs)["a"]
    >>> n.tolist(), v.tolist()
    ([1, 2], [[0.1, 0.2], [0.1, 0.2]])
    """
    recs = _as_records(results)
    curves = {}
    names = list(dict.fromkeys(r["strategy"] for r in recs))
    for name in names:
        rows = [r for r in recs if r["strategy"] == name]
        n = np.array(sorted({int(r["n_labels"]) for r in rows}))
        seeds = np.array(sorted({r["seed"] for r in rows}))
        v = np.full((seeds.size, n.size), np.nan)
        si = {s: i for i, s in enumerate(seeds.tolist())}
        ni = {b: j for j, b in enumerate(n.tolist())}
        for r in rows:
            v[si[r["seed"]], ni[int(r["n_labels"])]] = float(r[metric])
        curves[name] = (n, seeds, v)
    return curves


def _per_seed(curves, metric, scale):
    """{strategy: {seed: value or ndarray per budget}} for ``metric``."""
    out = {}
    for name, (n, seeds, v) in curves.items():
        if metric == "aulc":
            vals = {}
            for s, row in zip(seeds.tolist(), v):
                ok = np.isfinite(row)
                vals[s] = _aulc(n[ok], row[ok], scale=scale)
        elif metric == "mean":
            vals = {s: float(np.nanmean(row)) for s, row in zip(seeds.tolist(), v)}
        elif metric == "final":
            vals = {s: row[np.isfinite(row)][-1] for s, row in zip(seeds.tolist(), v)}
        else:
            vals = {s: row for s, row in zip(seeds.tolist(), v)}
        out[name] = (n, vals)
    return out


@validate_params(
    {
        "results": ["array-like", HasMethods(["to_dict"])],
        "baseline": [str, None],
        "metric": [StrOptions({"aulc", "final", "mean", "accuracy"})],
        "scale": [StrOptions({"linear", "log"})],
        "n_boot": [Count(1)],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "ci": [StrOptions(set(_CI_METHODS))],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def paired_differences(
    results,
    baseline: str | None = "random",
    metric: str = "aulc",
    *,
    scale: str = "linear",
    n_boot: int = 2000,
    confidence: float = 0.95,
    ci: str = "t",
    random_state=None,
):
    """Each strategy minus the baseline, paired by seed, with confidence intervals.

    For every seed the baseline's value is subtracted from the strategy's
    (same initial set, same test set), and the mean difference over seeds gets
    a confidence interval, computed by :mod:`scipy.stats`: by default
    Student's t interval of the paired t-test, which keeps its nominal
    coverage with few seeds when the per-seed differences are roughly normal;
    or a bootstrap over seeds (BCa or percentile). The percentile bootstrap is
    optimistic with few seeds (below about 10 seeds it under-covers: with 5
    seeds a nominal 95 % interval covers about 85 %) and flags differences
    that are noise; use it only with many seeds.

    Parameters
    ----------
    results : list of dict or DataFrame
        As returned by :func:`evaluate`.
    baseline : str or None, default="random"
        Strategy to subtract. None summarises each strategy's own values
        (mean and CI), e.g. AULC ± CI for a table.
    metric : {"aulc", "final", "mean", "accuracy"}, default="aulc"
        ``"aulc"``: area under each seed's curve (:func:`skal.metrics.aulc`);
        ``"final"``: accuracy at the last budget; ``"mean"``: mean accuracy
        over the rounds (the AULC of rounds of equal size, as some papers
        define it); ``"accuracy"``: one row per budget.
    scale : {"linear", "log"}, default="linear"
        Budget axis of the AULC.
    n_boot : int, default=2000
        Bootstrap resamples.
    confidence : float, default=0.95
        Coverage of the interval.
    ci : {"t", "bca", "percentile", "bootstrap"}, default="t"
        ``"t"``: mean ± ``t(n_seeds - 1)`` quantile × standard error (the
        paired t-test, :func:`scipy.stats.ttest_1samp`); ``"bca"``: the
        bias-corrected and accelerated bootstrap over seeds;
        ``"percentile"`` (alias ``"bootstrap"``): the percentile bootstrap
        (:func:`scipy.stats.bootstrap`, ``n_boot`` resamples).
    random_state : int, RandomState instance or None, default=None
        Bootstrap draws (unused by ``"t"``).

    Returns
    -------
    table : list of dict
        One row per strategy (and per budget for ``"accuracy"``), baseline
        included, with ``strategy``, ``n_labels`` (``"accuracy"`` only),
        ``mean``, ``ci_low``, ``ci_high``, ``n_seeds`` and, when
        ``baseline`` is set, ``significant``: ``"better"``, ``"worse"`` or
        ``""`` when the interval contains 0.

    Examples
    --------
    >>> from skal.evaluation import paired_differences
    >>> recs = [{"strategy": st, "seed": s, "n_labels": n,
    ...          "accuracy": n / 10 + (0.1 if st == "a" else 0) + s / 100}
    ...         for st in ("random", "a") for s in range(4) for n in (1, 2)]
    >>> row = paired_differences(recs)[1]
    >>> row["strategy"], round(row["mean"], 3), row["significant"]
    ('a', 0.1, 'better')
    >>> round(row["ci_low"], 3), round(row["ci_high"], 3)
    (0.1, 0.1)
    """
    rng = check_random_state(random_state)
    per = _per_seed(learning_curves(results), metric, scale)
    if baseline is not None and baseline not in per:
        raise ValueError(
            f"The baseline {baseline!r} is not among the strategies of the "
            f"results: {sorted(per)}. Pass baseline=None for absolute values."
        )
    return [
        _summary_row(name, d, n_boot, confidence, rng, baseline, ci, n_labels=b)
        for name, b, d in _paired(per, baseline, metric)
    ]


def _paired(per, baseline, metric):
    """(strategy, n_labels or None, per-seed values minus the baseline's).

    Seeds are those the strategy shares with the baseline; ``n_labels`` is
    set for ``metric="accuracy"`` (one item per budget), else None.
    """
    for name, (n, vals) in per.items():
        if baseline is not None:
            n_base, base = per[baseline]
            seeds = [s for s in vals if s in base]
        else:
            seeds = list(vals)
        if metric == "accuracy":
            budgets = n if baseline is None else np.intersect1d(n, n_base)
            for b in budgets:
                j = int(np.flatnonzero(n == b)[0])
                d = np.array([vals[s][j] for s in seeds])
                if baseline is not None:
                    jb = int(np.flatnonzero(n_base == b)[0])
                    d = d - np.array([base[s][jb] for s in seeds])
                yield name, int(b), d
        else:
            d = np.array([vals[s] for s in seeds], dtype=float)
            if baseline is not None:
                d = d - np.array([base[s] for s in seeds], dtype=float)
            yield name, None, d


@validate_params(
    {
        "d": ["array-like"],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def t_interval(d, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its Student's t confidence interval.

    The interval of the paired t-test (:func:`scipy.stats.ttest_1samp`), the
    one :func:`paired_differences` and :func:`equivalence_test` report, for
    differences a caller has already paired (e.g. per-seed accuracies of two
    strategies at one budget).

    Parameters
    ----------
    d : array-like of shape (n_seeds,)
        Paired differences; NaN values are dropped.
    confidence : float, default=0.95
        Coverage of the interval.

    Returns
    -------
    mean, ci_low, ci_high : float
        The interval is NaN with fewer than two values, and the mean itself
        when all values are equal (no spread).

    Examples
    --------
    >>> from skal.evaluation import t_interval
    >>> m, lo, hi = t_interval([0.01, 0.02, 0.03])
    >>> round(m, 3), round(lo, 4), round(hi, 4)
    (0.02, -0.0048, 0.0448)
    """
    d = np.asarray(d, dtype=float).reshape(-1)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan, math.nan, math.nan
    m = float(d.mean())
    if d.size < 2:
        return m, math.nan, math.nan
    lo, hi = _interval(d, "t", confidence, None, None)
    return m, lo, hi


def _interval(d, ci, confidence, n_boot, rng):
    """Confidence interval of the mean of ``d`` (1-D, NaN-free) from scipy.

    ``"t"``: :func:`scipy.stats.ttest_1samp`'s interval (the paired t-test);
    ``"bca"`` / ``"percentile"`` (``"bootstrap"``): :func:`scipy.stats.bootstrap`.
    A single value, or values all equal, have no spread: the interval is
    that value.
    """
    from scipy import stats

    m = float(d.mean())
    if d.size == 1 or np.ptp(d) <= 1e-12 * max(1.0, abs(m)):
        return m, m
    if ci == "t":
        res = stats.ttest_1samp(d, 0.0).confidence_interval(confidence)
        return float(res.low), float(res.high)
    res = stats.bootstrap(
        (d,),
        np.mean,
        n_resamples=n_boot,
        confidence_level=confidence,
        method="BCa" if ci == "bca" else "percentile",
        random_state=rng,
    ).confidence_interval
    return float(res.low), float(res.high)


def _summary_row(name, d, n_boot, confidence, rng, baseline, ci, n_labels=None):
    d = d[np.isfinite(d)]
    row = {"strategy": name}
    if n_labels is not None:
        row["n_labels"] = n_labels
    if d.size == 0:
        row.update(mean=math.nan, ci_low=math.nan, ci_high=math.nan, n_seeds=0)
    else:
        lo, hi = _interval(d, ci, confidence, n_boot, rng)
        row.update(mean=float(d.mean()), ci_low=lo, ci_high=hi, n_seeds=int(d.size))
    if baseline is not None:
        sig = ""
        if d.size > 1 and row["ci_low"] > 0:
            sig = "better"
        elif d.size > 1 and row["ci_high"] < 0:
            sig = "worse"
        row["significant"] = sig
    return row


# --------------------------------------------------------------------------
# equivalence and power
# --------------------------------------------------------------------------
@validate_params(
    {
        "effect": [Real],
        "sd": [Interval(Real, 0, None, closed="left")],
        "n_seeds": [Count(2)],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "alternative": [StrOptions({"two-sided", "greater", "less"})],
    },
    prefer_skip_nested_validation=True,
)
def paired_t_power(
    effect: float,
    sd: float,
    n_seeds: int,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> float:
    """Power of the paired t-test to detect a true mean difference ``effect``.

    The probability that :func:`scipy.stats.ttest_1samp` on ``n_seeds``
    paired differences with standard deviation ``sd`` rejects "no
    difference" at level ``alpha`` when the true mean difference is
    ``effect``: under that alternative the t statistic follows the
    noncentral t distribution (:data:`scipy.stats.nct`) with ``n_seeds - 1``
    degrees of freedom and noncentrality ``effect / (sd / sqrt(n_seeds))``.

    A comparison whose power at an effect is low cannot tell that effect
    from noise: "not significant" then says little. Report it beside every
    non-significant or equivalence result.

    Parameters
    ----------
    effect : float
        The true mean difference to detect (e.g. 0.02 AULC).
    sd : float
        Standard deviation of the paired differences (``ddof=1``), e.g. the
        ``sd`` of a row of :func:`equivalence_test`.
    n_seeds : int
        Number of paired differences (seeds), at least 2.
    alpha : float, default=0.05
        Level of the test.
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        As in :func:`scipy.stats.ttest_1samp`.

    Returns
    -------
    power : float
        In ``[0, 1]``; ``alpha`` when ``effect`` is 0 (two-sided), and 1 for
        a non-zero effect in the tested direction when ``sd`` is 0.

    See Also
    --------
    equivalence_test : TOST and the paired t-test of each strategy against a
        baseline, with this power.

    Examples
    --------
    >>> from skal.evaluation import paired_t_power
    >>> round(paired_t_power(1.0, 1.0, 10), 3)  # one SD, 10 seeds
    0.803
    >>> round(paired_t_power(0.0, 1.0, 10), 3)
    0.05
    """
    from scipy import stats

    df = n_seeds - 1
    if sd == 0:
        nc = math.copysign(math.inf, effect) if effect else 0.0
    else:
        nc = effect / (sd / math.sqrt(n_seeds))
    if alternative == "two-sided":
        t = stats.t.ppf(1 - alpha / 2, df)
        if math.isinf(nc):
            return 1.0
        if nc == 0:
            return float(alpha)
        # P(T > t) + P(T < -t), the lower tail by symmetry (nct.cdf
        # underflows to NaN far in the tail; sf does not)
        power = stats.nct.sf(t, df, nc) + stats.nct.sf(t, df, -nc)
    else:
        t = stats.t.ppf(1 - alpha, df)
        nc = nc if alternative == "greater" else -nc
        if math.isinf(nc):
            return 1.0 if nc > 0 else 0.0
        power = stats.t.sf(t, df) if nc == 0 else stats.nct.sf(t, df, nc)
    return float(min(max(power, 0.0), 1.0))


@validate_params(
    {
        "results": ["array-like", HasMethods(["to_dict"])],
        "baseline": [str],
        "metric": [StrOptions({"aulc", "final", "mean", "accuracy"})],
        "margin": [Interval(Real, 0, None, closed="neither")],
        "scale": [StrOptions({"linear", "log"})],
        "alpha": [Interval(Real, 0, 0.5, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def equivalence_test(
    results,
    baseline: str = "random",
    metric: str = "aulc",
    *,
    margin: float,
    scale: str = "linear",
    alpha: float = 0.05,
):
    """Is each strategy equivalent to the baseline within ``margin``? TOST, paired.

    "Not significantly different" is not "equivalent": with few seeds or
    noisy curves a real deficit goes unseen. The two one-sided tests (TOST,
    Schuirmann 1987) state it properly: the mean paired difference
    ``d = strategy - baseline`` is shown to lie inside ``(-margin, margin)``
    when both ``H0: mean(d) <= -margin`` and ``H0: mean(d) >= margin`` are
    rejected at level ``alpha`` by one-sided paired t-tests
    (:func:`scipy.stats.ttest_1samp`); the TOST p value is the larger of the
    two. Equivalently, the ``1 - 2 * alpha`` t interval lies inside the
    margin. Each row also reports the ordinary two-sided paired t-test and
    its power (:func:`paired_t_power`) to detect a difference of ``margin``
    given the observed standard deviation and number of seeds.

    For a one-sided claim ("not worse than random"), read ``p_lower`` (the
    non-inferiority test, ``H0: mean(d) <= -margin``).

    Parameters
    ----------
    results : list of dict or DataFrame
        As returned by :func:`evaluate`.
    baseline : str, default="random"
        Strategy to compare with, seed by seed.
    metric : {"aulc", "final", "mean", "accuracy"}, default="aulc"
        As in :func:`paired_differences` (``"accuracy"``: one row per
        budget).
    margin : float
        Equivalence margin, in the metric's units (e.g. 0.005 AULC): the
        largest difference that counts as no difference. Fix it before
        looking at the results.
    scale : {"linear", "log"}, default="linear"
        Budget axis of the AULC.
    alpha : float, default=0.05
        Level of each one-sided test (TOST at level ``alpha``) and of the
        two-sided t-test.

    Returns
    -------
    table : list of dict
        One row per strategy other than the baseline (and per budget for
        ``"accuracy"``): ``strategy``, ``n_labels`` (``"accuracy"`` only),
        ``n_seeds``, ``mean`` and ``sd`` of the paired differences,
        ``ci_low`` / ``ci_high`` (the ``1 - alpha`` t interval),
        ``p_value`` (two-sided paired t-test), ``p_lower`` / ``p_upper``
        (the one-sided tests against ``-margin`` and ``+margin``),
        ``tost_p_value`` (their maximum), ``equivalent``
        (``tost_p_value < alpha``), ``margin`` and ``power`` (to detect a
        difference of ``margin``). Statistics are NaN with fewer than two
        seeds.

    See Also
    --------
    paired_differences : Differences and intervals with bootstrap options.
    paired_t_power : The power figure.

    Examples
    --------
    >>> from skal.evaluation import equivalence_test
    >>> recs = [{"strategy": st, "seed": s, "n_labels": n,
    ...          "accuracy": n / 10 + (0.001 * (-1) ** s if st == "a" else 0)}
    ...         for st in ("random", "a") for s in range(10) for n in (1, 2)]
    >>> row = equivalence_test(recs, margin=0.005)[0]
    >>> row["strategy"], row["equivalent"], row["tost_p_value"] < 1e-6
    ('a', True, True)
    """
    per = _per_seed(learning_curves(results), metric, scale)
    if baseline not in per:
        raise ValueError(
            f"The baseline {baseline!r} is not among the strategies of the "
            f"results: {sorted(per)}."
        )
    rows = []
    for name, b, d in _paired(per, baseline, metric):
        if name == baseline:
            continue
        row = {"strategy": name}
        if b is not None:
            row["n_labels"] = b
        row.update(_tost(d[np.isfinite(d)], margin, alpha))
        rows.append(row)
    return rows


def _tost(d, margin, alpha):
    """Paired t-test, TOST within ``±margin`` and power, from scipy."""
    from scipy import stats

    n = int(d.size)
    nan = math.nan
    out = dict(
        n_seeds=n,
        mean=float(d.mean()) if n else nan,
        sd=nan,
        ci_low=nan,
        ci_high=nan,
        p_value=nan,
        p_lower=nan,
        p_upper=nan,
        tost_p_value=nan,
        equivalent=False,
        margin=float(margin),
        power=nan,
    )
    if n < 2:
        return out
    m, sd = float(d.mean()), float(d.std(ddof=1))
    out.update(sd=sd, power=paired_t_power(margin, sd, n, alpha=alpha))
    if sd <= 1e-12 * max(1.0, abs(m)):  # no spread: the mean is exact
        out.update(
            ci_low=m,
            ci_high=m,
            p_value=float(m == 0),
            p_lower=float(m <= -margin),
            p_upper=float(m >= margin),
        )
    else:
        res = stats.ttest_1samp(d, 0.0)
        ci = res.confidence_interval(1 - alpha)
        out.update(
            ci_low=float(ci.low),
            ci_high=float(ci.high),
            p_value=float(res.pvalue),
            p_lower=float(stats.ttest_1samp(d, -margin, alternative="greater").pvalue),
            p_upper=float(stats.ttest_1samp(d, margin, alternative="less").pvalue),
        )
    out["tost_p_value"] = max(out["p_lower"], out["p_upper"])
    out["equivalent"] = bool(out["tost_p_value"] < alpha)
    return out
