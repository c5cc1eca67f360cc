"""The simulation loop: the oracle answers, the learner queries and is taught.

Layer: above :mod:`skal._state` and :mod:`skal.callbacks`, below the learner
and :mod:`skal.evaluation`. One loop, :func:`run_rounds`, drives every
simulation through the learner's public :meth:`~skal.ActiveLearner.query`
and :meth:`~skal.ActiveLearner.teach`, and tells the callbacks
(:mod:`skal.callbacks`) as each round begins and ends:

* :func:`simulate`: ``fit(X, y)`` with ``budget`` set, and
  :meth:`~skal.ActiveLearner.resume` (the stored pool, ``y`` the oracle);
* :func:`paired_run`: one (strategy, seed) of :func:`skal.evaluation.evaluate`
  (an initial set shared by every strategy of a seed, rejected answers, a
  schedule of budgets).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._labels import validate_labels
from ._persistence._journal import JournalError, simulation_script
from ._state import provenance
from .backends._base import in_executor_session
from .callbacks import default_callbacks, notify
from .utils._arrays import take_rows
from .utils._seeding import draw_seed

__all__ = ["SimulationMixin", "paired_run", "run_rounds", "simulate"]


def round_record(
    learner, round_, indices, query_seconds, fit_start, eval_set=None, query_info=None
):
    """The ``history_`` entry of a round that just ended."""
    rec = {
        "round": round_,
        "indices": np.asarray(indices, dtype=np.intp),
        "n_labels": int(learner.y_labeled_.shape[0]),
        "query_seconds": float(query_seconds),
        "fit_seconds": time.perf_counter() - fit_start,
        "query_info": _plain_info(query_info),
    }
    if eval_set is not None and learner.model_fitted_:
        rec["score"] = float(learner.score(*eval_set))
    if learner.stopping is not None:
        rec["stop_reason"] = getattr(learner, "stop_reason_", None)
    return rec


def _plain_info(info):
    """A strategy's ``select`` info without its arrays (JSON-able values)."""
    out = {}
    for k, v in (info or {}).items():
        if isinstance(v, np.ndarray) or k == "scores":
            continue
        if isinstance(v, np.generic):
            v = v.item()
        out[str(k)] = v
    return out


# ------------------------------------------------------- rounds of teach
def _from_last_query(state, pool_rows):
    """The last query of the stored pool, when it picked some of ``pool_rows``."""
    q = state.last_query
    if q is None or pool_rows is None or not np.isin(pool_rows, q["rows"]).any():
        return None
    return q


def teach_round(learner, pending):
    """The number of the round a ``teach`` makes."""
    return pending["round"] if pending is not None else len(learner.history_)


def begin_teach_round(learner, pending, round_, n_before, n):
    """Tell the callbacks the round of a ``teach`` begins: its ``n`` labels
    are journaled and recorded (a callback that raises loses none), the
    refit is to come. A simulated round (``pending``) began before its query
    (:func:`run_rounds`)."""
    if pending is not None:
        return
    notify(
        learner._state.callbacks or callbacks_of(learner),
        "on_round_begin",
        learner,
        round=round_,
        n_labels=int(n_before),
        n_instances=int(n),
    )


def provenance_of(state, pool_rows, n, round_):
    """The provenance of ``n`` rows taught in round ``round_``: who picked
    each (any earlier query of the stored pool, not only the last), else the
    person."""
    if pool_rows is None:
        return [provenance(None, round_) for _ in range(n)]
    out = []
    for r in pool_rows.tolist():
        strategy, score = state.picked.pop(int(r), (None, None))
        out.append(provenance(r, round_, strategy, score))
    return out


def end_teach_round(learner, round_, pending, pool_rows, fit_start, refit):
    """Record the round of a ``teach`` in ``history_`` (and the callbacks)."""
    state = learner._state
    indices = np.empty(0, dtype=np.intp) if pool_rows is None else pool_rows
    q = _from_last_query(state, pool_rows)
    seconds, info = (0.0, None) if q is None else (q["seconds"], q["info"])
    if q is not None:
        q["seconds"] = 0.0  # counted once, in the first round it feeds
    if pending is not None:
        seconds = pending["query_seconds"]
    rec = round_record(
        learner,
        round_,
        indices,
        seconds,
        fit_start,
        state.eval_set if refit else None,
        info,
    )
    if pending is not None:
        state.sim_pending = state.sim_round_start = None
    notify(state.callbacks or callbacks_of(learner), "on_round_end", learner, **rec)


def first_round(learner, labeled, has_pool, eval_set):
    """Round 0 of ``fit`` without ``budget``: the labels it was given."""
    check_classification_targets(learner.y_labeled_)
    callbacks = callbacks_of(learner)
    info = {"round": 0, "n_labels": 0, "n_instances": int(labeled.size)}
    notify(callbacks, "on_round_begin", learner, **info)
    t0 = time.perf_counter()
    if has_pool and np.unique(learner.y_labeled_).size < 2:
        # A session may start from one class; no model until a second.
        warnings.warn(
            "The labeled rows hold a single class "
            f"({learner.y_labeled_[:1].tolist()[0]!r}): no model is fitted "
            "until a second class is taught, and queries use "
            "'initial_strategy' meanwhile.",
            UserWarning,
            stacklevel=5,  # fit's caller
        )
    else:
        learner.refit()
    rec = round_record(learner, 0, labeled, 0.0, t0, eval_set)
    notify(callbacks, "on_round_end", learner, **rec)


def callbacks_of(learner):
    """The learner's defaults (:func:`skal.callbacks.default_callbacks`), then
    its ``callbacks``."""
    return default_callbacks(learner.verbose) + list(learner.callbacks or ())


def run_rounds(learner, sizes, play, *, callbacks, total, initial):
    """The one loop: ``play(round, k)`` runs a round of ``k`` queries.

    ``sizes()`` gives the next round's number and size (a size of 0 ends the
    loop); ``play`` returns the round's record, handed to ``on_round_end``.
    """
    notify(callbacks, "on_simulation_begin", learner, total=total, initial=initial)
    try:
        while True:
            round_, k = sizes()
            if not k:
                break
            notify(
                callbacks,
                "on_round_begin",
                learner,
                round=round_,
                n_labels=len(getattr(learner, "y_labeled_", ())),  # 0 unfitted
                n_instances=int(k),
            )
            rec = play(round_, k)
            if rec is not None:  # None: the round's teach told them
                notify(callbacks, "on_round_end", learner, **rec)
    finally:
        notify(callbacks, "on_simulation_end", learner)


class SimulationMixin:
    """:meth:`resume` of an ActiveLearner: continue a simulation."""

    @in_executor_session
    def resume(self, X=None, y=None):
        """Continue a simulation that was interrupted, or loaded from disk.

        A refit that failed (CUDA out of memory, ``KeyboardInterrupt``, …)
        aborts ``fit`` with every selected label recorded; ``resume`` picks
        up exactly where it stopped, with the same draws, so the final
        ``history_`` and model equal those of an uninterrupted run with the
        same ``random_state``. Raising ``budget`` with ``set_params`` first
        continues a finished simulation.

        Parameters
        ----------
        X, y : array-like, default=None
            Resume from the journal alone (a process killed without a save):
            give ``fit``'s ``X`` and ``y`` to a learner with the same
            parameters and ``journal``. The rounds the journal records are
            taken from it instead of queried (each still refit, with the
            same draws), then the simulation goes on; with an int
            ``random_state`` the result equals an uninterrupted run's.

        Returns
        -------
        self : ActiveLearner
        """
        if X is not None or y is not None:
            return resume_from_journal(self, X, y)
        check_is_fitted(self)
        if self._state.sim is None:
            raise ValueError(
                "resume continues a simulation (fit with budget set); this "
                "learner was fitted without a budget. Use refit() to recover "
                "from a failed teach."
            )
        self._check_params()
        if self.budget is None:
            raise ValueError(
                "The 'budget' parameter must be an int to resume a simulation; "
                "got None."
            )
        return simulate(self)


# ------------------------------------------------------------ fit(budget)
def start(learner, y, unlabeled, eval_set):
    """Check a simulation's oracle ``y`` and budget; then run it."""
    if unlabeled.any():
        raise ValueError(
            "In a simulation (budget is set) y is the oracle and must label "
            f"every row; got {int(unlabeled.sum())} rows marked -1. Drop "
            "them, or set budget=None to keep them as an unlabeled pool."
        )
    check_classification_targets(y)
    n_initial = (
        learner.n_initial if learner.n_initial is not None else learner.n_instances
    )
    if learner.budget < n_initial:
        raise ValueError(
            f"The 'budget' parameter ({learner.budget}) must be >= the size of "
            f"the initial labeled set, n_initial={n_initial}."
        )
    learner._state.sim = {"y": y, "eval_set": eval_set}
    return simulate(learner)


def simulate(learner):
    """Run (or resume) the simulation of a learner fitted with ``budget``.

    A round stores the generator's state at its start (``sim_round_start``)
    and, before its labels are recorded, its query's indices and fit seed
    (``sim_pending``). A round interrupted anywhere is then either finished
    (its labels are in) or replayed from its start (they are not) with the
    same draws, so an interrupted and resumed run has the history of an
    uninterrupted one.
    """
    state = learner._state
    y, eval_set = state.sim["y"], state.sim["eval_set"]
    callbacks = callbacks_of(learner)
    if state.sim_round_start is not None:  # the last round was interrupted
        p = state.sim_pending
        if p is not None and state.n_labels > p["n_before"]:
            if len(learner.history_) == p["round"]:  # labels in, not recorded
                t0 = time.perf_counter()
                learner._refit_if_able(seed=p["fit_seed"])
                _end_round(learner, p, t0, eval_set, callbacks)
            state.sim_pending = state.sim_round_start = None
        else:
            state.rng.set_state(state.sim_round_start)
            state.sim_pending = state.sim_round_start = None
    budget = min(learner.budget, y.shape[0])
    n_initial = (
        learner.n_initial if learner.n_initial is not None else learner.n_instances
    )
    if learner.stopping is None:  # resumed with stopping removed
        learner.stop_reason_ = None

    def sizes():
        if getattr(learner, "stop_reason_", None) is not None:
            return len(learner.history_), 0
        size = learner.n_instances if learner.history_ else n_initial
        k = min(size, budget - state.n_labels, state.pool_indices.shape[0])
        return len(learner.history_), max(k, 0)

    def play(round_, k):
        n_before = state.n_labels
        state.sim_round_start = state.rng.get_state()
        t0 = time.perf_counter()
        idx = None
        if state.sim_script is not None:  # resume(X, y): rounds of the journal
            idx = scripted_round(learner, k)
        if idx is None:
            idx = learner.query(n_instances=k)
        pending = {
            "round": round_,
            "indices": idx,
            "query_seconds": time.perf_counter() - t0,
            "fit_seed": state.draw_seed(),
            "n_before": n_before,
        }
        state.sim_pending = pending
        # the pending round gives the journal its round, the refit its seed;
        # teach records the round and tells the callbacks it ended
        learner.teach(y=y[idx], indices=idx)

    state.callbacks = callbacks  # the rounds' teach tells these
    try:
        run_rounds(
            learner,
            sizes,
            play,
            callbacks=callbacks,
            total=budget,
            initial=state.n_labels,
        )
    finally:
        state.callbacks = None
    if not learner.model_fitted_:
        learner.refit()  # surfaces the estimator's own error
    return learner


def _end_round(learner, p, fit_start, eval_set, callbacks):
    """The record of a round whose labels are in; clears the pending round."""
    rec = round_record(
        learner, p["round"], p["indices"], p["query_seconds"], fit_start, eval_set
    )
    learner._state.sim_pending = learner._state.sim_round_start = None
    if callbacks is not None:
        notify(callbacks, "on_round_end", learner, **rec)
    return rec


def pending_round(state, pool_rows):
    """The simulation round that ``teach(indices=pool_rows)`` records, or None."""
    p = state.sim_pending
    if (
        p is None
        or pool_rows is None
        or state.n_labels != p["n_before"]
        or not np.array_equal(pool_rows, p["indices"])
    ):
        return None
    return p


# -------------------------------------------------------- resume(X, y)
def resume_from_journal(learner, X, y):
    """Re-run ``fit(X, y)`` taking each round the journal records from it.

    The simulation recorded in ``journal`` on this ``X`` and ``y`` (the
    one with the most labels) gives the rows of its rounds; each round
    still draws its seeds and refits exactly as the original did, so
    ``history_`` (but its timings), the model and the journal's new
    session equal an uninterrupted run's; rounds past the journal are
    queried.
    """
    if learner.budget is None or learner.journal is None:
        raise ValueError(
            "resume(X, y) continues the simulation recorded in the learner's "
            "journal: set 'budget' and 'journal' as in the interrupted run. "
            f"Got budget={learner.budget!r}, journal={learner.journal!r}."
        )
    learner._check_params()
    Xv = learner._validate_X(X, reset=True)
    yv = validate_labels(y, _num_samples(Xv))
    script = simulation_script(learner.journal, Xv, yv)
    return learner._fit(Xv, yv, None, {}, script=script)


def scripted_round(learner, k):
    """The rows of the next round from the journal (``resume(X, y)``), or
    None where the journal ends (the round queries)."""
    state = learner._state
    r = len(learner.history_)
    if r not in state.sim_script:
        state.sim_script = None  # the journal ends here: query from now on
        return None
    state.draw_seed()  # the query's own draw, as the original round took it
    idx = state.sim_script.pop(r)
    if len(idx) != k or not np.isin(idx, state.pool_indices).all():
        raise JournalError(
            f"Round {r} of the journal's simulation labeled {len(idx)} rows; "
            f"this learner asks for {k} rows of its pool there. Resume with "
            "the parameters of the interrupted run (n_instances, n_initial, "
            "random_state, strategy)."
        )
    name = type(learner._active_strategy()).__name__  # who picked them then
    state.note_query(
        idx, 0.0, {"strategy": name, "scores": None, "from_journal": True}
    )
    return idx


# -------------------------------------------------------------- evaluation
def paired_run(
    learner, X, y, X_test, y_test, *, budgets, seed, initial, ood_label, semi, callbacks
):
    """One simulation of :func:`skal.evaluation.evaluate`; one record per budget.

    The initial set (``budgets[0]`` rows, picked by ``initial`` with a
    generator seeded by ``seed`` alone) is shared by every strategy of a
    seed; later rounds query the unseen rows. Answers equal to ``ood_label``
    cost a label but are not taught. With ``semi`` the learner keeps the
    pool (``fit`` on every row, -1 for the unlabeled) and is taught by index.
    """
    n_pool = y.shape[0]
    init_rng = np.random.RandomState(seed)
    seen = np.zeros(n_pool, dtype=bool)
    out = {"n_ood": 0}
    rounds = iter(enumerate(budgets))

    def sizes():
        r, budget = next(rounds, (len(budgets), None))
        return r, 0 if budget is None else int(budget) - int(seen.sum())

    def play(round_, k):
        cand = np.flatnonzero(~seen)
        t0 = time.perf_counter()
        if round_ == 0:
            pick = initial(
                learner,
                take_rows(X, cand),
                n_instances=k,
                random_state=draw_seed(init_rng),
            )
        else:
            pick = learner.query(take_rows(X, cand), n_instances=k)
        rows = cand[pick]
        t_query = time.perf_counter() - t0
        seen[rows] = True
        answers = y[rows]
        keep = np.ones(rows.shape[0], dtype=bool)
        if ood_label is not None:
            keep = answers != ood_label
            out["n_ood"] += int((~keep).sum())
        t0 = time.perf_counter()
        if round_ == 0:
            _fit_initial(learner, X, y, rows[keep], seed, budgets[0], semi)
        elif keep.any():
            if semi:
                learner.teach(y=answers[keep], indices=rows[keep])
            else:
                learner.teach(take_rows(X, rows[keep]), answers[keep])
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        accuracy = float(np.mean(learner.predict(X_test) == y_test))
        return {
            "round": round_,
            "indices": rows,
            "n_labels": int(budgets[round_]),
            "n_trained": int(learner.y_labeled_.shape[0]),
            "n_ood": out["n_ood"],
            "accuracy": accuracy,
            "query_seconds": t_query,
            "fit_seconds": t_fit,
            "inference_seconds": time.perf_counter() - t0,
            "answers": answers,
        }

    run_rounds(
        learner, sizes, play, callbacks=callbacks, total=int(budgets[-1]), initial=0
    )
    return learner


def _fit_initial(learner, X, y, taught, seed, n_first, semi):
    if np.unique(y[taught]).size < 2:
        raise ValueError(
            f"The initial labeled set of seed {seed} ({n_first} rows, "
            f"{taught.size} in-distribution) holds fewer than two classes; "
            "increase the first budget."
        )
    if semi:
        kind = y.dtype if y.dtype.kind in "iu" else object
        y_partial = np.full(y.shape[0], -1, dtype=kind)
        y_partial[taught] = y[taught]
        learner.fit(X, y_partial)
    else:
        learner.fit(take_rows(X, taught), y[taught])
