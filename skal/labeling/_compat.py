"""The learner calls the labeling page makes, in one place.

The page drives :class:`skal.ActiveLearner` only through its public session
methods: ``teach(indices=, y=, refit=False)``, ``unlabel(indices=,
refit=False)`` and the background refit ``prepare_refit()`` → ``job()`` →
``install_model(fitted)``. This module names those calls once, so the
server reads as the protocol it follows.
"""

from __future__ import annotations

import inspect

import numpy as np

__all__ = [
    "classes_of",
    "install",
    "prepare_refit",
    "provenance",
    "relabel_one",
    "teach_one",
    "unlabel_one",
]


def _accepts(method, name):
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def teach_one(learner, row, label):
    """Record (journal first, fsynced) one label of a pool row; no refit."""
    if not _accepts(learner.teach, "refit"):  # TEMPORARY until issue 23 lands
        from ..utils._arrays import take_rows

        state = learner._state
        rows = state.check_pool_indices(np.array([row], dtype=np.intp))
        y = learner._match_labels(np.asarray([label]))
        learner._journal_labels(y, indices=rows, source="teach")
        state.add(take_rows(state.X, rows), y, pool_rows=rows)
        learner.model_stale_ = True
        return
    learner.teach(indices=np.array([row], dtype=np.intp), y=[label], refit=False)


def unlabel_one(learner, row):
    """Return a taught row to the pool (journaled); no refit."""
    unlabel = getattr(learner, "unlabel", None)
    if unlabel is None:  # TEMPORARY until issue 23 lands: not journaled
        from ..utils._arrays import take_rows

        state = learner._state
        keep = state.labeled_indices != row
        state.labeled_indices = state.labeled_indices[keep]
        state.y_labeled = state.y_labeled[keep]
        state.X_labeled = take_rows(state.X, state.labeled_indices)
        state.pool_indices = np.sort(np.append(state.pool_indices, row))
        learner.model_stale_ = True
        return
    unlabel(indices=np.array([row], dtype=np.intp), refit=False)


def relabel_one(learner, row, label):
    """Correct the label of a labeled row of X (journaled); no refit."""
    relabel = getattr(learner, "relabel", None)
    if relabel is None:  # TEMPORARY until issue 23 lands
        unlabel_one(learner, row)
        teach_one(learner, row, label)
        return
    relabel([label], indices=np.array([row], dtype=np.intp), refit=False)


def prepare_refit(learner):
    """A refit job on a snapshot of the labels (fast; call under the lock)."""
    if hasattr(learner, "prepare_refit"):
        return learner.prepare_refit()
    # TEMPORARY until issue 23 lands
    from sklearn.base import clone

    from .._state import encoded_classes, labels_for_fit
    from ..semi_supervised import is_semi_supervised

    state = learner._state
    if np.unique(state.y_labeled).size < 2:
        return None
    is_net = learner._is_net()
    y = labels_for_fit(state.y_labeled, is_net)
    seed = learner._draw_seed()
    X_fit, y_fit = (
        state.with_pool(y, seed, learner.max_unlabeled)
        if is_semi_supervised(learner.estimator)
        else (state.X_labeled, y)
    )
    est = clone(learner.estimator)
    classes = encoded_classes(state.y_labeled, is_net)
    n = state.n_labels
    fit_params = dict(state.fit_params)

    def job():
        return est.fit(X_fit, y_fit, **fit_params), classes, n

    return job


def install(learner, fitted):
    """Swap a finished job's model in (fast; call under the lock)."""
    if hasattr(learner, "install_model"):
        learner.install_model(fitted)
        return
    est, classes, n = fitted  # TEMPORARY until issue 23 lands
    learner.estimator_ = est
    learner._state.label_classes = classes
    learner.model_fitted_ = True
    learner.model_stale_ = learner._state.n_labels != n
    learner._observe_stopping()


def provenance(learner):
    """``label_provenance_`` (one dict per labeled row), or an empty list."""
    return list(getattr(learner, "label_provenance_", None) or [])


def classes_of(learner, classes=None):
    """The classes the page offers, in key order (1 → the first).

    ``classes`` given wins; else the learner's ``classes`` parameter; else the
    fitted model's ``classes_``; else the labels seen so far.
    """
    if classes is not None:
        out = list(classes)
    elif getattr(learner, "classes", None) is not None:
        out = list(learner.classes)
    else:
        try:
            out = list(learner.classes_)
        except Exception:  # no model yet (fewer than two classes)
            out = list(np.unique(learner.y_labeled_))
    if not out:
        raise ValueError(
            "The labeling page needs the classes: pass classes=[...] to serve "
            "(or ActiveLearner(classes=...)); the learner knows none yet."
        )
    if len(set(map(repr, out))) != len(out):
        raise ValueError(f"The 'classes' parameter has duplicates: {out!r}.")
    return [v.item() if isinstance(v, np.generic) else v for v in out]


def last_query_info(learner):
    """What the last ``query`` recorded: ``{"strategy": str, "scores": array}``.

    The strategy's ``select`` info as the learner keeps it; without one, the
    name of the strategy in use and no scores.
    """
    last = getattr(getattr(learner, "_state", None), "last_query", None)
    if isinstance(last, dict) and isinstance(last.get("info"), dict):
        return last["info"]
    strategy = learner.strategy
    if strategy is None:
        try:
            strategy = learner._active_strategy()
        except Exception:  # pragma: no cover - defensive
            strategy = None
    name = None if strategy is None else type(strategy).__name__
    return {"strategy": name, "scores": None}
