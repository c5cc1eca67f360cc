"""A session's state: the one owner of pool, labels, provenance, history,
stop observations, fitted flags, label codec and rng.

Layer: above strategies, below persistence, simulation and the learner. An
:class:`~skal.ActiveLearner` holds one :class:`LabelState` (built in ``fit``,
rebuilt by ``load``) and keeps only its parameters, the model and the
input checks (``sample_shape_``, ``n_features_in_``); its fitted attributes
(``y_labeled_``, ``history_``, ``label_provenance_``, ``model_stale_``, ...)
are views of this object. The session file and the journal read and write it
through its fields and :meth:`LabelState.to_dict` /
:meth:`LabelState.from_dict`.
"""

from __future__ import annotations

import numpy as np

from .utils._arrays import concat_rows, take_rows
from .utils._seeding import SEED_MAX, draw_seed

__all__ = ["LabelState", "encoded_classes", "labels_for_fit", "provenance"]


def _is_int(v):
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _n_rows(X):
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _is_pandas_index(v):
    return type(v).__module__.startswith("pandas") and hasattr(v, "get_indexer")


def _short(v):
    text = repr(v)
    return text if len(text) <= 120 else text[:117] + "..."


def _distinct(rows, param, method):
    if np.unique(rows).size != rows.size:
        u, c = np.unique(rows, return_counts=True)
        raise ValueError(
            f"The '{param}' parameter of {method} names rows {u[c > 1][:10].tolist()} "
            "more than once; nothing was recorded."
        )
    return rows


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


def provenance(row, round_, strategy=None, score=None):
    """One labeled row's provenance (an entry of ``label_provenance_``)."""
    return {
        "row": None if row is None else int(row),
        "round": int(round_),
        "strategy": strategy,
        "score": None if score is None or not np.isfinite(score) else float(score),
    }


# ------------------------------------------------------------- label codec
def labels_for_fit(y, is_net, classes=None):
    """Labels as the estimator wants them (int64 class indices for a net).

    A skorch net needs class indices: with declared ``classes`` a label is
    its position among them; otherwise int labels are its output units as
    they are, integral floats are cast, and other labels (strings, bools) are
    encoded as their position among the sorted labeled classes
    (:func:`encoded_classes`). The learner's ``predict`` decodes them.
    """
    if not is_net:
        return y
    if classes is not None:
        order = np.argsort(classes, kind="stable")
        pos = np.searchsorted(classes, y, sorter=order)
        return order[pos].astype(np.int64)
    if y.dtype.kind in "iu":
        return y.astype(np.int64, copy=False)
    if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
        return y.astype(np.int64)
    return np.unique(y, return_inverse=True)[1].astype(np.int64).ravel()


def encoded_classes(y, is_net, classes=None):
    """The labels behind a net's class indices, or None when not encoded."""
    if is_net and classes is not None:
        return classes
    if not is_net or y.dtype.kind in "iuf":
        return None
    return np.unique(y)


def expand_proba(proba, model_classes, classes):
    """Columns of ``proba`` (one per ``model_classes``) in the order of the
    declared ``classes``; 0 for a class the model has not seen."""
    proba = np.asarray(proba)
    model_classes = np.asarray(model_classes)
    if np.array_equal(model_classes, classes):
        return proba
    out = np.zeros((proba.shape[0], len(classes)), dtype=proba.dtype)
    where = {c: i for i, c in enumerate(classes.tolist())}
    for j, c in enumerate(model_classes.tolist()):
        out[:, where[c]] = proba[:, j]
    return out


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
    provenance : list of dict
        One per labeled row, aligned with ``y_labeled`` (:func:`provenance`):
        its row of ``X`` (None for rows given as new ``X``), the round that
        labeled it, the strategy that picked it and its score there.
    history, stop_observations, stop_reason, model_fitted, model_stale
        The learner's ``history_``, ``stop_observations_``, ``stop_reason_``,
        ``model_fitted_`` and ``model_stale_`` (the learner shows them).
    classes : ndarray or None
        The declared classes (the learner's ``classes`` parameter at ``fit``).
    version : int
        Bumped by every change of the labels (not saved): a background refit
        knows whether labels arrived after its snapshot.
    last_query : dict or None
        The last ``query()`` of the stored pool: rows, seconds, the strategy's
        info and per row its score.
    picked : dict
        For every row a ``query()`` of the stored pool handed out and nobody
        has labeled yet: the strategy that picked it and its score there
        (``{row: (strategy, score)}``). A row queried ahead, several queries
        before it is taught (as the labeling page does), keeps its provenance.
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
        "label_provenance_": "provenance",
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
        self.provenance = [provenance(r, 0) for r in self.labeled_indices.tolist()]
        self._init_session()

    def _init_session(self):
        """The session fields that a file rebuilds elsewhere (load sets them)."""
        self.history, self.stop_observations, self.stop_reason = [], [], None
        self.model_fitted = self.model_stale = False
        self.classes = None
        self.version = 0
        self.last_query = None
        self.picked = {}
        self.eval_set = None
        self.callbacks = None  # a running simulation's callbacks

    def note_query(self, rows, seconds, info):
        """Record a query of the stored pool: who picked each row, its score."""
        self.last_query = {"rows": rows, "seconds": seconds, "info": info}
        scores = info.get("scores")
        if scores is not None and len(scores) != len(rows):
            scores = None
        for i, r in enumerate(np.asarray(rows).tolist()):
            score = None if scores is None else float(scores[i])
            self.picked[int(r)] = (info.get("strategy"), score)

    @property
    def n_labels(self):
        """Number of labeled rows."""
        return int(self.y_labeled.shape[0])

    def draw_seed(self):
        """The next int seed of the session's generator."""
        return draw_seed(self.rng)

    def add(self, X_new, y_new, pool_rows=None, prov=None):
        """Record new labels, all or none (before any refit: none is lost).

        Everything is computed first and committed in one go, so an
        interruption leaves either the old state or the new one. ``prov`` is
        their provenance (one :func:`provenance` each; by default their row,
        round ``len(history)``, picked by no strategy).
        """
        y_all = np.concatenate([self.y_labeled, y_new]) if self.n_labels else y_new
        X_all = concat_rows(self.X_labeled, X_new)
        labeled, pool = self.labeled_indices, self.pool_indices
        if pool_rows is not None:
            labeled = np.concatenate([labeled, pool_rows])
            pool = pool[~np.isin(pool, pool_rows)]
        if prov is None:
            rows = [None] * len(y_new) if pool_rows is None else pool_rows.tolist()
            prov = [provenance(r, len(self.history)) for r in rows]
        (
            self.X_labeled,
            self.y_labeled,
            self.labeled_indices,
            self.pool_indices,
            self.provenance,
            self.version,
        ) = X_all, y_all, labeled, pool, self.provenance + list(prov), self.version + 1

    def label_positions(self, rows):
        """Positions in ``y_labeled`` of labeled ``rows`` of ``X`` (or -1)."""
        where = {p["row"]: i for i, p in enumerate(self.provenance)}
        return np.array([where.get(int(r), -1) for r in rows], dtype=np.intp)

    def relabel(self, rows, y_new):
        """Replace the labels of labeled ``rows`` (copy on write: a snapshot
        taken by a background refit keeps its labels)."""
        pos = self.label_positions(rows)
        y = self.y_labeled.copy()
        if y.dtype.kind in "US" and np.asarray(y_new).dtype.itemsize > y.itemsize:
            y = y.astype(np.asarray(y_new).dtype)
        y[pos] = y_new
        self.y_labeled, self.version = y, self.version + 1

    def unlabel(self, rows):
        """Return labeled ``rows`` of ``X`` to the pool (all or none)."""
        pos = self.label_positions(rows)
        keep = np.ones(self.n_labels, dtype=bool)
        keep[pos] = False
        kept = np.flatnonzero(keep)
        X_lab = take_rows(self.X_labeled, kept)
        y_lab = self.y_labeled[kept]
        labeled = self.labeled_indices[~np.isin(self.labeled_indices, rows)]
        pool = np.sort(np.concatenate([self.pool_indices, rows]).astype(np.intp))
        prov = [p for p, k in zip(self.provenance, keep.tolist()) if k]
        (
            self.X_labeled,
            self.y_labeled,
            self.labeled_indices,
            self.pool_indices,
            self.provenance,
            self.version,
        ) = X_lab, y_lab, labeled, pool, prov, self.version + 1

    def match_labels(self, y, method="teach"):
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
            f"The 'y' parameter of {method} holds labels {bad} of dtype {y.dtype} "
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

    def rows_of(self, indices, index, method):
        """``indices=`` (positions, or a pandas Index of labels) or ``index=``
        (labels of fit's DataFrame index) as distinct int rows of ``X``.

        Every id must name a row of ``X``; what the rows must be (in the pool,
        labeled) the caller checks with :meth:`check_rows`.
        """
        if indices is not None and index is not None:
            raise ValueError(
                f"Pass either indices= (positions) or index= (index labels) to "
                f"{method}, not both."
            )
        if index is None and indices is not None and _is_pandas_index(indices):
            index, indices = indices, None  # query(return_index=True)'s labels
            param = "indices"
        else:
            param = "index"
        if index is not None:
            return self._rows_of_labels(index, method, param)
        idx = np.asarray(indices)
        if idx.ndim == 0:
            idx = idx.reshape(1)
        if idx.ndim != 1 or (
            idx.size and (idx.dtype.kind not in "iu" or idx.dtype == bool)
        ):
            hint = (
                " For the labels of fit's DataFrame index, pass index=."
                if self.index is not None
                else ""
            )
            raise TypeError(
                f"The 'indices' parameter of {method} must be a 1-D array of int "
                f"positions (rows of fit's X) or a pandas Index; got "
                f"{_short(indices)}.{hint}"
            )
        idx = idx.astype(np.intp)
        n = _n_rows(self.X)
        bad = idx[(idx < 0) | (idx >= n)]
        if bad.size:
            raise ValueError(
                f"The 'indices' parameter of {method} names {bad[:10].tolist()}, "
                f"not rows of fit's X (positions 0 to {n - 1}); nothing was "
                "recorded."
            )
        return _distinct(idx, "indices", method)

    def _rows_of_labels(self, labels, method, param):
        if self.index is None:
            raise ValueError(
                f"The '{param}' parameter of {method} got index labels, but fit's "
                "X was not a DataFrame or Series; pass positions (int indices)."
            )
        import pandas as pd

        labels = pd.Index(np.atleast_1d(np.asarray(labels, dtype=object)))
        if not self.index.is_unique:
            raise ValueError(
                f"The '{param}' parameter of {method} got index labels, but the "
                "index of fit's X has duplicate labels, so a label can name "
                "several rows; pass positions (indices=, from query()) or fit "
                "on a frame with a unique index (df.reset_index())."
            )
        rows = self.index.get_indexer(labels)
        if (rows < 0).any():
            missing = labels[rows < 0][:10].tolist()
            raise ValueError(
                f"The '{param}' parameter of {method} names index labels "
                f"{missing} that are not in the index of fit's X; nothing was "
                "recorded."
            )
        return _distinct(rows.astype(np.intp), param, method)

    def check_rows(self, rows, method, param="indices", *, labeled):
        """``rows`` are all in the pool (``labeled=False``) or all labeled."""
        if labeled:
            where = self.label_positions(rows)
            wrong = rows[where < 0]
            what, fix = "labeled", "teach them instead"
        else:
            wrong = rows[~np.isin(rows, self.pool_indices)]
            what, fix = "in the stored pool", "use relabel() to correct a label"
        if wrong.size:
            ids = wrong[:10].tolist()
            if self.index is not None:
                ids = f"{ids} (index labels {self.index[wrong[:10]].tolist()})"
            raise ValueError(
                f"The '{param}' parameter of {method} names rows {ids} that are "
                f"not {what}: {fix}. Nothing was recorded."
            )
        return rows

    def check_pool_indices(self, indices):
        """``indices`` (``teach``'s) as distinct rows of the pool, or an error."""
        rows = self.rows_of(indices, None, "teach")
        return self.check_rows(rows, "teach", labeled=False)

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
        self._init_session()
        self.provenance = cls._check_provenance(
            d.get("label_provenance_"), labeled, y_lab.shape[0], n
        )
        return self

    @staticmethod
    def _check_provenance(prov, labeled, n_labels, n):
        if prov is None:  # files saved before it was: rows of fit's X first
            rows = labeled.tolist() + [None] * (n_labels - labeled.size)
            return [provenance(r, 0) for r in rows]
        if not isinstance(prov, list) or len(prov) != n_labels:
            raise TypeError("label_provenance_ is not a list of one dict per label")
        out, rows = [], []
        for p in prov:
            if not isinstance(p, dict) or set(p) != {
                "row",
                "round",
                "strategy",
                "score",
            }:
                raise TypeError("label_provenance_ holds a malformed entry")
            row, round_, strat, score = p["row"], p["round"], p["strategy"], p["score"]
            if row is not None and (not _is_int(row) or not 0 <= row < n):
                raise ValueError("label_provenance_ names a row outside fit's X")
            if not _is_int(round_) or round_ < 0:
                raise TypeError("label_provenance_'s round is not an int >= 0")
            if strat is not None and not isinstance(strat, str):
                raise TypeError("label_provenance_'s strategy is not a str")
            if score is not None and not isinstance(score, int | float):
                raise TypeError("label_provenance_'s score is not a number")
            if row is not None:
                rows.append(row)
            out.append(provenance(row, round_, strat, score))
        if sorted(rows) != sorted(labeled.tolist()):
            raise ValueError("label_provenance_ does not name the labeled rows")
        return out

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
