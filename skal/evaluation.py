"""Fair comparison of query strategies: simulations, paired statistics, plots.

:func:`evaluate` runs every strategy with every seed on one data set and one
estimator, on a schedule of budgets, and returns tidy per-round records.
:func:`paired_differences` compares each strategy with a baseline (random
sampling) seed by seed, with confidence intervals (t by default), and
:func:`plot_learning_curves` draws the curves with bands.

Simulations follow the protocol that makes strategies comparable (DISTIL,
DeepAL+): for one seed every strategy starts from the **same** initial
labeled set (drawn with ``initial_strategy``, random by default) and the same
first model, and the same test set scores every round; only the queries
differ. Differences are then paired by seed.

Out-of-distribution rows
------------------------
Rows whose oracle label is ``ood_label`` (``-2``, as
:func:`skal.datasets.add_ood` marks them) stand for an annotator answering
"none of these classes". In a simulation such an answer **costs a label**
(``n_labels`` counts every query) but the row is **not taught**: it leaves the
pool and is never shown to the model (``n_trained`` counts the rows taught;
``n_ood`` the wasted queries). A strategy that favours junk rows pays for it
in accuracy at equal ``n_labels``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _num_samples

from . import _simulation
from ._learner import ActiveLearner
from .metrics import aulc as _aulc
from .semi_supervised import is_semi_supervised
from .strategies import RandomSampling
from .utils._validation import Count

__all__ = [
    "equivalence_test",
    "evaluate",
    "geometric_budgets",
    "learning_curves",
    "paired_differences",
    "paired_t_power",
    "plot_learning_curves",
]

# --------------------------------------------------------------------------
# budgets
# --------------------------------------------------------------------------
_CI_METHODS = ("t", "bca", "percentile", "bootstrap")


@validate_params(
    {
        "start": [Count(1)],
        "stop": [Count(1)],
        "factor": [Interval(Real, 1, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def geometric_budgets(start: int, stop: int, *, factor: float = 2.0) -> list[int]:
    """Budgets growing geometrically from ``start`` up to ``stop``.

    Parameters
    ----------
    start : int
        First budget: the size of the initial labeled set (cold start, e.g.
        about two labels per class).
    stop : int
        Last budget; included even when it is not on the geometric grid.
    factor : float, default=2.0
        Growth factor between consecutive budgets (> 1).

    Returns
    -------
    budgets : list of int
        Strictly increasing, from ``start`` to ``stop``.

    Examples
    --------
    >>> from skal.evaluation import geometric_budgets
    >>> geometric_budgets(20, 300)
    [20, 40, 80, 160, 300]
    >>> geometric_budgets(20, 100, factor=1.5)
    [20, 30, 45, 68, 100]
    """
    if stop < start:  # a relation between two parameters: checked by hand
        raise ValueError(
            f"The 'stop' parameter of geometric_budgets must be >= start; got "
            f"start={start}, stop={stop}."
        )
    out = [int(start)]
    while True:
        nxt = int(round(out[-1] * factor))
        if nxt >= stop or nxt <= out[-1]:
            break
        out.append(nxt)
    if out[-1] != stop:
        if stop - out[-1] < 0.25 * (out[-1] - (out[-2] if len(out) > 1 else 0)):
            out[-1] = int(stop)  # avoid a tiny last step
        else:
            out.append(int(stop))
    return out


def _check_budgets(budgets, n_pool):
    b = np.asarray(list(budgets) if not isinstance(budgets, np.ndarray) else budgets)
    if b.ndim != 1 or b.size == 0 or not np.issubdtype(b.dtype, np.integer):
        raise ValueError(
            "The 'budgets' parameter must be a non-empty 1-D sequence of ints "
            f"(numbers of labels after each round); got {budgets!r}."
        )
    if b[0] < 1 or np.any(np.diff(b) <= 0):
        raise ValueError(
            "The 'budgets' parameter must be strictly increasing and start at "
            f">= 1 (the initial labeled set); got {b.tolist()}."
        )
    if b[-1] > n_pool:
        raise ValueError(
            f"The largest budget ({int(b[-1])}) exceeds the pool ({n_pool} rows); "
            "cap the budgets at the pool size."
        )
    return b.astype(np.intp)


# --------------------------------------------------------------------------
# one simulation
# --------------------------------------------------------------------------
def _label_key(label, ood_label):
    if ood_label is not None and label == ood_label:
        return "count_ood"
    return f"count_{label.item() if hasattr(label, 'item') else label}"


class _Records:
    """Callback of one simulation: its records, as :func:`evaluate` returns them."""

    def __init__(self, name, seed, class_keys, ood_label, on_round=None):
        self.name, self.seed, self.ood_label = name, seed, ood_label
        self.counts = dict.fromkeys(class_keys, 0)
        self.on_round = on_round
        self.records = []

    def on_round_end(self, learner, *, answers, **info):
        for lab in answers:
            self.counts[_label_key(lab, self.ood_label)] += 1
        rec = {"strategy": self.name, "seed": self.seed}
        rec.update(
            (k, info[k])
            for k in (
                "round",
                "n_labels",
                "n_trained",
                "n_ood",
                "accuracy",
                "query_seconds",
                "fit_seconds",
                "inference_seconds",
            )
        )
        rec.update(self.counts)
        self.records.append(rec)
        if self.on_round is not None:
            self.on_round(rec)


def _simulate_one(sim, name, strategy, seed, on_round=None):
    """One (strategy, seed) of :func:`evaluate`: its records, one per budget.

    ``sim`` holds what every simulation shares (data, budgets, template);
    ``on_round(record)`` is called as each round ends (progress).
    """
    template = sim["template"]
    learner = clone(template).set_params(
        strategy=clone(strategy) if hasattr(strategy, "get_params") else strategy,
        n_instances=int(sim["budgets"][0]),
        random_state=seed,
    )
    # The initial set depends only on the seed, not on the strategy: paired runs.
    init = sim["initial_strategy"]
    records = _Records(name, seed, sim["class_keys"], sim["ood_label"], on_round)
    _simulation.paired_run(
        learner,
        sim["X"],
        sim["y"],
        sim["X_test"],
        sim["y_test"],
        budgets=sim["budgets"],
        seed=seed,
        initial=init if init is not None else RandomSampling(),
        ood_label=sim["ood_label"],
        # a semi-supervised estimator learns from the pool: the learner keeps
        # it (fit on every row, -1 for the unlabeled) and is taught by index
        semi=is_semi_supervised(template.estimator),
        callbacks=[records],
    )
    return records.records


@contextmanager
def _torch_threads(n):
    """torch's intra-op threads set to ``n`` (None: unchanged), then restored.

    Simulations run side by side (``n_jobs``) would otherwise each start
    torch's default of one thread per core and oversubscribe the machine.
    """
    torch = sys.modules.get("torch")
    if n is None or torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _simulate_one_threads(n_threads, *args):
    """:func:`_simulate_one` in a worker, with ``n_threads`` torch threads."""
    with _torch_threads(n_threads):
        return _simulate_one(*args)


def _class_keys(y, ood_label):
    labels = [lab for lab in np.unique(y) if ood_label is None or lab != ood_label]
    keys = [_label_key(lab, ood_label) for lab in labels]
    if ood_label is not None and np.any(y == ood_label):
        keys.append("count_ood")
    return keys


_SET_BY_EVALUATE = ("strategy", "n_instances", "random_state", "budget")


def _learner_template(estimator, learner_params):
    """The ActiveLearner every simulation clones (``estimator`` or around it)."""
    params = dict(learner_params or {})
    bad = sorted(set(params) & {*_SET_BY_EVALUATE, "estimator"})
    if bad:
        raise ValueError(
            f"The 'learner_params' parameter of evaluate cannot set {bad}: "
            "evaluate sets strategy, n_instances, random_state and budget for "
            "each simulation, and estimator is its first argument."
        )
    if getattr(estimator, "_is_skal_learner", False):
        if estimator.budget is not None:
            raise ValueError(
                "The ActiveLearner given to evaluate as a template has budget="
                f"{estimator.budget}; evaluate runs the rounds of 'budgets' "
                "itself. Set budget=None."
            )
        template = clone(estimator)
    else:
        template = ActiveLearner(estimator)
    unknown = sorted(set(params) - set(template.get_params(deep=False)))
    if unknown:
        raise ValueError(
            f"The 'learner_params' parameter of evaluate names {unknown}, which "
            "are not parameters of ActiveLearner "
            f"({sorted(template.get_params(deep=False))})."
        )
    return template.set_params(**params)


def evaluate(
    estimator,
    strategies: Mapping,
    X,
    y,
    X_test,
    y_test,
    *,
    budgets: Sequence[int],
    seeds: Sequence[int] = (0, 1, 2),
    initial_strategy=None,
    ood_label=-2,
    learner_params: Mapping | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
    as_frame: bool = False,
):
    """Simulate active learning for every strategy and seed on one data set.

    Each (strategy, seed) pair is one simulation with an
    :class:`~skal.ActiveLearner` around a clone of ``estimator``: the oracle
    ``y`` answers the queries, the learner is refit after each round, and its
    accuracy on ``(X_test, y_test)`` is recorded at every budget.

    Parameters
    ----------
    estimator : classifier or ActiveLearner
        Cloned for every simulation (e.g. a skorch ``NeuralNetClassifier``).
        An :class:`~skal.ActiveLearner` is a template: its estimator and
        parameters (``warm_start``, ``max_unlabeled``, ``callbacks``...) are
        those of every simulation, which sets ``strategy``, ``n_instances``
        and ``random_state``.
    strategies : dict of str to strategy
        Names (used in the records) and strategies. Include
        ``RandomSampling()`` (conventionally as ``"random"``) to compare with.
    X : array-like of shape (n_samples, ...)
        The pool.
    y : array-like of shape (n_samples,)
        The oracle's labels of the pool; ``ood_label`` marks rows the
        annotator rejects (see the module notes).
    X_test, y_test : array-like
        Held-out rows scoring every round.
    budgets : sequence of int
        Number of labels (queries asked) after each round, strictly
        increasing; ``budgets[0]`` is the initial labeled set, drawn by
        ``initial_strategy``, and each later round queries the difference.
        See :func:`geometric_budgets`.
    seeds : sequence of int, default=(0, 1, 2)
        One simulation per seed and strategy. A seed fixes the initial set
        and the first model, shared by all strategies (paired design), and
        the learner's ``random_state``.
    initial_strategy : strategy, default=None
        Picks the initial set without a model; None draws it at random.
    ood_label : int or None, default=-2
        Oracle answer meaning "none of these classes": counted as a label,
        never taught. None treats every value of ``y`` as a class.
    learner_params : dict, default=None
        Parameters of the :class:`~skal.ActiveLearner` of every simulation,
        e.g. ``{"warm_start": True}`` (refit by ``partial_fit`` where the
        estimator has it) or ``{"max_unlabeled": 2000}``. ``strategy``,
        ``n_instances``, ``random_state`` and ``budget`` are set by
        ``evaluate`` and cannot be given.
    n_jobs : int, default=None
        Simulations run in parallel with :mod:`joblib` (``-1``: all cores);
        torch then gets ``cpu_count // n_jobs`` threads in each, instead of
        one per core in every simulation.
    progress : bool, default=True
        Show a :mod:`tqdm` progress bar: rounds done out of all rounds of all
        simulations, the current strategy, seed and labels, time left.
    as_frame : bool, default=False
        Return a pandas ``DataFrame`` (needs pandas) instead of a list.

    Returns
    -------
    results : list of dict or DataFrame
        One record per (strategy, seed, round) with ``strategy``, ``seed``,
        ``round``, ``n_labels`` (queries asked), ``n_trained`` (rows taught),
        ``n_ood`` (queries answered ``ood_label``), ``accuracy``,
        ``query_seconds``, ``fit_seconds``, ``inference_seconds`` (scoring
        the test set) and, for each class ``c``, ``count_c``: the number of
        selected rows of that class so far (``count_ood`` for rejected
        rows).

    See Also
    --------
    paired_differences : Compare each strategy with random sampling.
    plot_learning_curves : Draw the results.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.evaluation import evaluate
    >>> from skal.strategies import MarginSampling, RandomSampling
    >>> X, y = load_iris(return_X_y=True)
    >>> res = evaluate(LogisticRegression(), {"random": RandomSampling(),
    ...                "margin": MarginSampling()}, X[::2], y[::2], X[1::2],
    ...                y[1::2], budgets=[6, 12, 24], seeds=[0, 1], progress=False)
    >>> len(res), sorted(res[0])[:4]
    (12, ['accuracy', 'count_0', 'count_1', 'count_2'])
    """
    from joblib import Parallel, delayed, effective_n_jobs

    if not isinstance(strategies, Mapping) or not strategies:
        raise TypeError(
            "The 'strategies' parameter must be a non-empty dict of name to "
            f"strategy, e.g. {{'random': RandomSampling()}}; got {strategies!r}."
        )
    template = _learner_template(estimator, learner_params)
    y = np.asarray(y)
    y_test = np.asarray(y_test)
    n_pool = _num_samples(X)
    if y.shape[0] != n_pool:
        raise ValueError(
            f"X and y must have the same number of rows; got {n_pool} and {y.shape[0]}."
        )
    budgets = _check_budgets(budgets, n_pool)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("The 'seeds' parameter must hold at least one seed.")
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the env
            raise ImportError(
                "as_frame=True needs pandas; install it or use as_frame=False "
                "for a list of dicts."
            ) from exc
    keys = _class_keys(y, ood_label)
    jobs = [(name, s, seed) for seed in seeds for name, s in strategies.items()]
    n_workers = 1 if n_jobs in (None, 1) else effective_n_jobs(n_jobs)
    # each parallel simulation gets its share of the cores for torch
    n_threads = max(1, (os.cpu_count() or 1) // n_workers) if n_workers > 1 else None
    sim = {
        "template": template,
        "X": X,
        "y": y,
        "X_test": X_test,
        "y_test": y_test,
        "budgets": budgets,
        "initial_strategy": initial_strategy,
        "ood_label": ood_label,
        "class_keys": keys,
    }
    tasks = (
        delayed(_simulate_one_threads)(n_threads, sim, name, s, seed)
        for name, s, seed in jobs
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        # one step per round of every simulation: rounds done, time left
        bar = tqdm(total=len(jobs) * len(budgets), desc="evaluate", unit="round")

    def on_round(rec):
        bar.update()
        bar.set_postfix(
            strategy=rec["strategy"], seed=rec["seed"], labels=rec["n_labels"]
        )

    out = []
    try:
        if n_workers == 1:
            for task in tasks:
                func, args, kwargs = task
                on = on_round if bar is not None else None
                out.append(_simulate_one(*args[1:], on_round=on))
        else:
            par = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            with _torch_threads(n_threads):  # threads share one torch
                for recs in par(tasks):
                    out.append(recs)
                    if bar is not None:  # a whole simulation's rounds at once
                        bar.update(len(recs))
                        bar.set_postfix(
                            strategy=recs[0]["strategy"], seed=recs[0]["seed"]
                        )
    finally:
        if bar is not None:
            bar.close()
    order = {(name, seed): i for i, (name, _, seed) in enumerate(jobs)}
    out.sort(key=lambda recs: order[(recs[0]["strategy"], recs[0]["seed"])])
    records = [r for recs in out for r in recs]
    return pd.DataFrame.from_records(records) if as_frame else records


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
        "metric": [StrOptions({"aulc", "final", "accuracy"})],
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
    metric : {"aulc", "final", "accuracy"}, default="aulc"
        ``"aulc"``: area under each seed's curve (:func:`skal.metrics.aulc`);
        ``"final"``: accuracy at the last budget; ``"accuracy"``: one row
        per budget.
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
        "metric": [StrOptions({"aulc", "final", "accuracy"})],
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
    metric : {"aulc", "final", "accuracy"}, default="aulc"
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


# --------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------
@validate_params(
    {
        "results": ["array-like", HasMethods(["to_dict"])],
        "ax": [HasMethods(["plot"]), None],
        "metric": [str, None],
        "band": [StrOptions({"ci", "std", "none"})],
        "log_x": ["boolean"],
        "strategies": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def plot_learning_curves(
    results,
    ax=None,
    *,
    metric: str | None = None,
    band: str = "ci",
    log_x: bool = True,
    strategies: Sequence[str] | None = None,
):
    """Mean learning curve of each strategy over seeds, with a band.

    Parameters
    ----------
    results : list of dict or DataFrame
        As returned by :func:`evaluate`, or one learner's ``history_`` (a
        simulation fitted with ``eval_set``: one curve named ``"learner"``).
    ax : matplotlib Axes, default=None
        Where to draw; None creates a figure.
    metric : str, default=None
        Column on the y axis; None uses ``"accuracy"`` for the results of
        :func:`evaluate` and ``"score"`` for a ``history_``.
    band : {"ci", "std", "none"}, default="ci"
        ``"ci"``: mean ± 1.96 standard errors over seeds (normal
        approximation of a 95 % interval); ``"std"``: ± one standard
        deviation.
    log_x : bool, default=True
        Logarithmic budget axis (suits geometric budgets).
    strategies : sequence of str, default=None
        Which strategies to draw, in this order; None draws all.

    Returns
    -------
    ax : matplotlib Axes
        With one line per strategy (``ax.get_figure()`` for the figure).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skal.evaluation import plot_learning_curves
    >>> recs = [{"strategy": st, "seed": s, "n_labels": n, "accuracy": n / 10}
    ...         for st in ("a", "b") for s in (0, 1) for n in (1, 2)]
    >>> ax = plot_learning_curves(recs)
    >>> len(ax.get_lines())
    2
    """
    import matplotlib.pyplot as plt

    recs = _as_records(results)
    metric = _default_metric(recs, metric)
    curves = learning_curves(recs, metric)
    names = list(curves) if strategies is None else list(strategies)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        n, _, v = curves[name]
        k = np.sum(np.isfinite(v), axis=0)
        mean = np.nanmean(v, axis=0)
        (line,) = ax.plot(
            n,
            mean,
            marker="o",
            markersize=3,
            label=name,
            lw=2.2 if name == "random" else 1.4,
            ls="--" if name == "random" else "-",
        )
        if band != "none" and v.shape[0] > 1:
            sd = np.nanstd(v, axis=0, ddof=1)
            half = 1.96 * sd / np.sqrt(np.maximum(k, 1)) if band == "ci" else sd
            ax.fill_between(
                n, mean - half, mean + half, color=line.get_color(), alpha=0.15, lw=0
            )
    if log_x:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ticks = sorted({int(b) for name in names for b in curves[name][0]})
        if len(ticks) <= 12:  # label the budgets themselves, not powers of 10
            ax.set_xticks(ticks, [str(b) for b in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("labels")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if len(names) > 6 else 1)
    return ax
