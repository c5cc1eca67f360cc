"""The labels of a session: the one owner of pool, labels, label codec and rng.

Layer: above strategies, below persistence, simulation and the learner. An
:class:`~skal.ActiveLearner` holds one :class:`LabelState` (built in ``fit``,
rebuilt by ``load``); the session file and the journal read and write it
through its fields and :meth:`LabelState.to_dict` /
:meth:`LabelState.from_dict`, never through the learner's attributes.
"""

from __future__ import annotations

import numpy as np

from .utils._arrays import concat_rows, take_rows
from .utils._seeding import SEED_MAX, draw_seed

__all__ = ["LabelState", "encoded_classes", "labels_for_fit"]


def _is_int(v):
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _n_rows(X):
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def check_indices(A, n, what):
    """``A`` as distinct intp row indices into ``n`` rows, or a named error."""
    if (
        not isinstance(A, np.ndarray)
        or A.ndim != 1
        or (A.size and A.dtype.kind not in "iu")
    ):
        raise TypeError(f"{what} is not a 1-D int array")
    A = A.astype(np.intp)
    if A.size and (A.min() < 0 or A.max() >= n):
        raise ValueError(f"{what} names rows outside fit's X of {n} rows")
    if np.unique(A).size != A.size:
        raise ValueError(f"{what} has duplicates")
    return A


# ------------------------------------------------------------- label codec
def labels_for_fit(y, is_net):
    """Labels as the estimator wants them (int64 class indices for a net).

    A skorch net needs class indices: int labels are its output units as
    they are, integral floats are cast; other labels (strings, bools) are
    encoded as their position among the sorted labeled classes
    (:func:`encoded_classes`), and the learner's ``predict`` decodes them.
    """
    if not is_net:
        return y
    if y.dtype.kind in "iu":
        return y.astype(np.int64, copy=False)
    if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
        return y.astype(np.int64)
    return np.unique(y, return_inverse=True)[1].astype(np.int64).ravel()


def encoded_classes(y, is_net):
    """The labels behind a net's class indices, or None when not encoded."""
    if not is_net or y.dtype.kind in "iuf":
        return None
    return np.unique(y)


def _index_values(index):
    """A pandas index as a plain numeric or str array, or None (not saved)."""
    if index is None:
        return None
    values = np.asarray(index)
    if values.dtype.kind == "O":
        if not all(isinstance(v, str) for v in values):
            return None
        values = values.astype(str)
    return values if values.dtype.kind in "biufU" else None


class LabelState:
    """Pool, labeled rows, labels, label codec and random state of a session.

    Parameters
    ----------
    X : array-like
        ``fit``'s ``X``: the rows that ``pool_indices`` and
        ``labeled_indices`` index (referenced, never copied).
    labeled : ndarray of int
        Rows of ``X`` labeled by ``y_labeled`` (in order).
    y_labeled : ndarray
        Their labels.
    pool : ndarray of int
        Rows of ``X`` still unlabeled.
    rng : RandomState
        The session's generator: every query and refit draws its seed here.
    fit_params : dict, default=None
        Passed to the estimator's ``fit`` on every refit.
    index : pandas Index, default=None
        ``fit``'s ``X.index`` when ``X`` is a DataFrame or Series.

    Attributes
    ----------
    X_labeled, y_labeled, labeled_indices, pool_indices
        The labeled rows (taught rows included), their labels, and the rows
        of ``X`` labeled and still unlabeled.
    label_classes : ndarray or None
        The labels behind a net's class indices (the codec), set by a
        successful refit.
    sim, sim_pending, sim_round_start, sim_script
        The running simulation (:mod:`skal._simulation`): its oracle and
        ``eval_set``, the round being recorded, the generator's state at the
        round's start, and rows scripted from a journal (not saved).
    journal_session, journal_seq, journal_end, journal_replayed
        The journal cursor (:mod:`skal._persistence`): the session written,
        its last sequence number, the file's size after the last write (not
        saved), and per replayed session the last record applied.
    """

    #: ``to_dict`` keys (the keys of a session file's ``state.json``) and the
    #: attributes they hold: the one list of what a session saves.
    SAVED = {
        "X_labeled_": "X_labeled",
        "y_labeled_": "y_labeled",
        "labeled_indices_": "labeled_indices",
        "pool_indices_": "pool_indices",
        "fit_params": "fit_params",
        "rng": "rng",
        "label_classes": "label_classes",
        "sim": "sim",
        "sim_pending": "sim_pending",
        "sim_round_start": "sim_round_start",
        "journal_session": "journal_session",
        "journal_seq": "journal_seq",
        "journal_replayed": "journal_replayed",
        "fit_index": "index",
    }

    def __init__(
        self, X, labeled, y_labeled, pool, *, rng, fit_params=None, index=None
    ):
        self.X = X
        self.index = index
        self.labeled_indices = np.asarray(labeled, dtype=np.intp)
        self.pool_indices = np.asarray(pool, dtype=np.intp)
        self.X_labeled = take_rows(X, self.labeled_indices)
        self.y_labeled = y_labeled
        self.rng = rng
        self.fit_params = {} if fit_params is None else fit_params
        self.label_classes = None
        self.sim = self.sim_pending = self.sim_round_start = self.sim_script = None
        self.journal_session, self.journal_seq = None, 0
        self.journal_end, self.journal_replayed = None, {}

    @property
    def n_labels(self):
        """Number of labeled rows."""
        return int(self.y_labeled.shape[0])

    def draw_seed(self):
        """The next int seed of the session's generator."""
        return draw_seed(self.rng)

    def add(self, X_new, y_new, pool_rows=None):
        """Record new labels, all or none (before any refit: none is lost).

        Everything is computed first and committed in one go, so an
        interruption leaves either the old state or the new one.
        """
        y_all = np.concatenate([self.y_labeled, y_new]) if self.n_labels else y_new
        X_all = concat_rows(self.X_labeled, X_new)
        labeled, pool = self.labeled_indices, self.pool_indices
        if pool_rows is not None:
            labeled = np.concatenate([labeled, pool_rows])
            pool = pool[~np.isin(pool, pool_rows)]
        (
            self.X_labeled,
            self.y_labeled,
            self.labeled_indices,
            self.pool_indices,
        ) = X_all, y_all, labeled, pool

    def match_labels(self, y):
        """Labels ``y`` in the dtype of the first labels seen (``y_labeled``).

        An int session stays int when taught ``1.0`` or pandas ``Int64``;
        a value that would change on the cast (``1.5``) is a TypeError.
        """
        old = self.y_labeled.dtype
        if y.dtype == old or old.kind not in "biuf" or y.dtype.kind not in "biuf":
            return y
        if y.size == 0 or np.can_cast(y.dtype, old, casting="safe"):
            return y.astype(old)
        with np.errstate(all="ignore"):
            cast = y.astype(old)
        if np.array_equal(cast, y):
            return cast
        bad = y[cast != y][:3].tolist()
        raise TypeError(
            f"The 'y' parameter of teach holds labels {bad} of dtype {y.dtype} "
            f"that are not labels of this session's dtype {old} (the dtype of "
            "the first labels seen). Pass labels of that dtype."
        )

    def with_pool(self, y, seed, cap):
        """The labeled rows plus the pool marked -1 (semi-supervised training).

        ``y`` are the labels as the estimator wants them; a pool larger than
        ``cap`` is subsampled, seeded by ``seed``.
        """
        X, pool, X_all = self.X_labeled, self.pool_indices, self.X
        if not len(pool):
            return X, y
        if cap is not None and len(pool) > cap:
            rng = np.random.RandomState(seed % SEED_MAX)
            pool = np.sort(rng.choice(pool, cap, replace=False))
        if y.dtype.kind in "iuf":
            marks = np.full(len(pool), -1, dtype=y.dtype)
        else:
            y = y.astype(object)
            marks = np.full(len(pool), -1, dtype=object)
        return concat_rows(X, take_rows(X_all, pool)), np.concatenate([y, marks])

    def check_pool_indices(self, indices):
        """``indices`` (``teach``'s) as distinct rows of the pool, or an error."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise TypeError(
                "The 'indices' parameter of teach must be a 1-D array of int "
                f"indices into fit's X. Got {idx!r} instead."
            )
        idx = idx.astype(np.intp)
        if np.unique(idx).size != idx.size:
            raise ValueError("The 'indices' parameter of teach has duplicates.")
        unknown = idx[~np.isin(idx, self.pool_indices)]
        if unknown.size:
            raise ValueError(
                "The 'indices' parameter of teach must name rows of the stored "
                f"pool; {unknown[:10].tolist()} are not in it (already labeled "
                "or not an index of fit's X)."
            )
        return idx

    def decode_proba(self, proba):
        """A net's probabilities (trained on encoded labels), one per class."""
        proba = np.asarray(proba)
        m = len(self.label_classes)
        if proba.shape[1] != m:  # more output units than labeled classes
            proba = proba[:, :m]
            proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
        return proba

    # ------------------------------------------------------------ persistence
    def to_dict(self):
        """The saved fields (``SAVED``) as plain values: arrays, dicts, tuples."""
        out = {key: getattr(self, attr) for key, attr in self.SAVED.items()}
        out["rng"] = self.rng.get_state()
        out["journal_replayed"] = {
            str(k): int(v) for k, v in (self.journal_replayed or {}).items()
        }
        out["journal_seq"] = int(self.journal_seq)
        out["fit_index"] = _index_values(self.index)
        return out

    @classmethod
    def from_dict(cls, d, X, *, sample_shape=None):
        """Rebuild from :meth:`to_dict`'s values, checking every one of them.

        ``d`` is untrusted (a session file): anything malformed is a
        TypeError or ValueError naming the field. ``fit_index`` may be
        missing (files saved before it was).
        """
        n = _n_rows(X)
        self = cls.__new__(cls)
        self.X = X
        X_lab, y_lab = d["X_labeled_"], d["y_labeled_"]
        if not isinstance(y_lab, np.ndarray) or y_lab.ndim != 1:
            raise TypeError("y_labeled_ is not a 1-D array")
        if y_lab.dtype.kind not in "biufUS":
            raise TypeError(f"y_labeled_ has dtype {y_lab.dtype}")
        if not hasattr(X_lab, "shape") or _n_rows(X_lab) != y_lab.shape[0]:
            raise ValueError("X_labeled_ and y_labeled_ differ in length")
        if sample_shape is not None and tuple(X_lab.shape[1:]) != tuple(sample_shape):
            raise ValueError("X_labeled_ rows do not have the shape sample_shape_")
        labeled = check_indices(d["labeled_indices_"], n, "labeled_indices_")
        pool = check_indices(d["pool_indices_"], n, "pool_indices_")
        if np.intersect1d(labeled, pool).size:
            raise ValueError("a row is both labeled and in the pool")
        if labeled.size > y_lab.size:
            raise ValueError("more labeled indices than labels")
        self.X_labeled, self.y_labeled = X_lab, y_lab
        self.labeled_indices, self.pool_indices = labeled, pool
        if not isinstance(d["fit_params"], dict):
            raise TypeError("fit_params is not a dict")
        self.fit_params = d["fit_params"]
        self.rng = np.random.RandomState()
        self.rng.set_state(d["rng"])
        classes = d["label_classes"]
        if classes is not None and (
            not isinstance(classes, np.ndarray) or classes.ndim != 1
        ):
            raise TypeError("label_classes is not a 1-D array")
        self.label_classes = classes
        self.sim = cls._check_sim(d["sim"], n)
        self.sim_pending = cls._check_pending(d["sim_pending"], n)
        start = d["sim_round_start"]
        if start is not None:
            np.random.RandomState().set_state(start)
        self.sim_round_start, self.sim_script = start, None
        session, seq = d["journal_session"], d["journal_seq"]
        if session is not None and not isinstance(session, str):
            raise TypeError("journal_session is not a str")
        if not _is_int(seq) or seq < 0:
            raise TypeError("journal_seq is not an int >= 0")
        replayed = d.get("journal_replayed", {})
        if not isinstance(replayed, dict) or not all(
            _is_int(v) and v >= 0 for v in replayed.values()
        ):
            raise TypeError("journal_replayed is not a dict of ints")
        self.journal_session, self.journal_seq = session, seq
        self.journal_replayed, self.journal_end = dict(replayed), None
        self.index = cls._check_index(d.get("fit_index"), n)
        return self

    @staticmethod
    def _check_sim(sim, n):
        if sim is None:
            return None
        if not isinstance(sim, dict) or set(sim) != {"y", "eval_set"}:
            raise TypeError("sim is not a dict of y and eval_set")
        if not isinstance(sim["y"], np.ndarray) or sim["y"].shape != (n,):
            raise ValueError("the simulation's y does not fit X")
        return sim

    @staticmethod
    def _check_pending(pending, n):
        if pending is None:
            return None
        keys = {"round", "indices", "query_seconds", "fit_seed", "n_before"}
        if not isinstance(pending, dict) or set(pending) != keys:
            raise TypeError("sim_pending is malformed")
        pending["indices"] = check_indices(
            np.asarray(pending["indices"]), n, "sim_pending's indices"
        )
        for k in ("round", "fit_seed", "n_before"):
            if not _is_int(pending[k]) or pending[k] < 0:
                raise TypeError(f"sim_pending's {k} is not an int")
        return pending

    @staticmethod
    def _check_index(values, n):
        if values is None:
            return None
        if (
            not isinstance(values, np.ndarray)
            or values.shape != (n,)
            or values.dtype.kind not in "biufU"
        ):
            raise TypeError("fit_index is not a 1-D array of numbers or str of len X")
        import pandas as pd

        return pd.Index(values)
