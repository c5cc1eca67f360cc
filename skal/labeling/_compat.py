"""The learner calls the labeling page makes, in one place.

The page drives :class:`skal.ActiveLearner` only through its public session
methods: ``teach(indices=, y=, refit=False)``, ``unlabel(indices=,
refit=False)`` and the background refit ``prepare_refit()`` → ``job()`` →
``install_model(fitted)``. This module names those calls once, so the
server reads as the protocol it follows.
"""

from __future__ import annotations

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


def teach_one(learner, row, label):
    """Record (journal first, fsynced) one label of a pool row; no refit."""
    learner.teach(indices=np.array([row], dtype=np.intp), y=[label], refit=False)


def unlabel_one(learner, row):
    """Return a taught row to the pool (journaled); no refit."""
    learner.unlabel(indices=np.array([row], dtype=np.intp), refit=False)


def relabel_one(learner, row, label):
    """Correct the label of a labeled row of X (journaled); no refit."""
    learner.relabel([label], indices=np.array([row], dtype=np.intp), refit=False)


def prepare_refit(learner):
    """A refit job on a snapshot of the labels (fast; call under the lock)."""
    return learner.prepare_refit()


def install(learner, fitted):
    """Swap a finished job's model in (fast; call under the lock)."""
    learner.install_model(fitted)


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
