"""Running simulations: :func:`evaluate` and its budgets.

:func:`evaluate` runs every strategy with every seed on one data set and one
estimator, on a schedule of budgets, and returns tidy per-round records. The
protocol (paired initial sets and models) and the meaning of out-of-
distribution answers are in the notes of :mod:`skal.evaluation`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import _num_samples

from .. import _simulation
from .._learner import ActiveLearner
from ..semi_supervised import is_semi_supervised
from ..strategies import RandomSampling
from ..utils._deprecation import DEPRECATED, renamed_param
from ..utils._validation import Count


# --------------------------------------------------------------------------
# budgets
# --------------------------------------------------------------------------
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
    verbose: int = 1,
    as_frame: bool = False,
    progress=DEPRECATED,
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
    verbose : int or bool, default=1
        Above 0 (or True), show a :mod:`tqdm` progress bar: rounds done out of
        all rounds of all simulations, the current strategy, seed and labels,
        time left; 0 (or False) is silent. The name of
        :class:`~skal.ActiveLearner`'s ``verbose``.
    as_frame : bool, default=False
        Return a pandas ``DataFrame`` (needs pandas) instead of a list.
    progress : bool
        Deprecated alias of ``verbose`` (removed in 0.3).

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
    ...                y[1::2], budgets=[6, 12, 24], seeds=[0, 1], verbose=0)
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
    bar = None
    if renamed_param("evaluate", "progress", "verbose", progress, verbose, 1):
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
            on = on_round if bar is not None else None
            for name, s, seed in jobs:
                out.append(_simulate_one(sim, name, s, seed, on_round=on))
        else:
            par = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            tasks = (
                delayed(_simulate_one_threads)(n_threads, sim, name, s, seed)
                for name, s, seed in jobs
            )
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
