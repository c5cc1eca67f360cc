"""The labeling session: who sees which row, journal first, refits behind.

:class:`LabelingSession` is the page's logic without HTTP: it hands each
browser (a *client*) its own queried row, records a pressed label through the
learner's journal (fsynced) before it hands out the next row, undoes and
skips, and refits in a background thread every ``n_instances`` labels so the
person never waits for a model. Every method that touches the learner holds
one lock; the slow part of a refit (``job()``) runs without it.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import defaultdict

import numpy as np

from . import _compat

__all__ = ["LabelingError", "LabelingSession"]


class LabelingError(ValueError):
    """A request the session refuses; ``status`` is its HTTP status (4xx)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _json_value(v):
    """A plain JSON-able value (numpy scalars unwrapped, NaN as None)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


class LabelingSession:
    """Queue, labels, undo, skips and background refits for the page.

    Parameters
    ----------
    learner : ActiveLearner
        Fitted (``fit`` with the pool marked unlabeled); its stored pool is
        what gets labeled. With a ``journal``, the labels already on disk
        are applied first (``resume``), so none is asked again.
    classes : sequence, default=None
        The classes offered, key 1 for the first; None asks the learner.
    n_instances : int, default=None
        Labels between two background refits; None uses the learner's.
    queue_size : int, default=None
        Rows queried ahead from the last fitted model; None uses
        ``max(2 * n_instances, 8)``.
    eval_set : tuple (X_val, y_val), default=None
        Held-out rows scored after every refit (the learning curve).
    lease_seconds : float, default=600
        How long a row shown to one browser is kept from the others.
    resume : bool, default=True
        Replay the learner's journal before the first row is handed out.
    background : bool, default=True
        Refit in a background thread; False refits only on :meth:`refit_now`.
    """

    def __init__(
        self,
        learner,
        *,
        classes=None,
        n_instances=None,
        queue_size=None,
        eval_set=None,
        lease_seconds=600.0,
        resume=True,
        background=True,
    ):
        self.learner = learner
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        if resume and getattr(learner, "journal", None) is not None:
            learner.replay_journal()
        self.classes = _compat.classes_of(learner, classes)
        self.n_instances = int(n_instances or learner.n_instances)
        self.queue_size = int(queue_size or max(2 * self.n_instances, 8))
        self.eval_set = eval_set
        self.lease_seconds = float(lease_seconds)
        self.queue = []  # rows queried ahead, best first
        self.info = {}  # row -> {"strategy", "score", "rank", "model"}
        self.assigned = {}  # client -> (row, time handed out)
        self.skipped = []  # rows set aside, asked last (oldest first)
        self.taught = defaultdict(list)  # client -> rows it labeled (undo)
        self.restored = [  # rows labeled before this server started
            int(p["row"])
            for p in _compat.provenance(learner)
            if p.get("row") is not None and p.get("round", 0)
        ]
        self.since_refit = 0
        self.model_version = 0
        self.refit_running = False
        self.refit_requested = False
        self.last_refit_seconds = None
        self.refit_error = None
        self.curve = []
        self.prefetch_requested = False
        self._closed = False
        self._thread = self._prefetcher = None
        if background:
            self._thread = threading.Thread(
                target=self._worker, name="skal-labeling-refit", daemon=True
            )
            self._prefetcher = threading.Thread(
                target=self._prefetch_loop, name="skal-labeling-queue", daemon=True
            )
            self._thread.start()
            self._prefetcher.start()

    # ---------------------------------------------------------------- helpers
    def _pool(self):
        return np.asarray(self.learner.pool_indices_)

    def _in_pool(self, row):
        return bool(np.any(self._pool() == row))

    def _held(self, client):
        now = time.monotonic()
        return {
            r
            for c, (r, t) in self.assigned.items()
            if c != client and now - t < self.lease_seconds
        }

    def _query_rows(self, n):
        """Query ``n`` rows of the pool: ``[(row, {"strategy", "score", "rank"})]``.

        Called under the lock, or by the prefetch thread without it: the
        query only reads the learner (a row labeled meanwhile is filtered
        out when it would be handed out).
        """
        learner = self.learner
        n = min(int(n), len(self._pool()))
        if n <= 0:
            return []
        rows = [int(r) for r in learner.query(n_instances=n)]
        info = _compat.last_query_info(learner)
        scores = info.get("scores")
        out = []
        for rank, r in enumerate(rows):
            score = None
            if scores is not None and rank < len(scores):
                score = _json_value(scores[rank])
            out.append(
                (r, {"strategy": info.get("strategy"), "score": score, "rank": rank})
            )
        return out

    def _set_queue(self, picked, version):
        for r, info in picked:
            self.info[r] = dict(info, model=version)
        self.queue = [r for r, _ in picked]

    def _query(self, n):
        """Query under the lock; record who picked each row and its score."""
        picked = self._query_rows(n)
        self._set_queue(picked, self.model_version)
        return self.queue

    def _want(self, client=None):
        return self.queue_size + len(self._held(client)) + len(self.skipped)

    def _refill(self, client):
        self._query(self._want(client))

    def _prefetch(self):
        """Query ahead without holding the lock; swap the queue in after."""
        with self.lock:
            n, version = self._want(), self.model_version
        picked = self._query_rows(n)
        with self.lock:
            if version == self.model_version or not self.queue:
                self._set_queue(picked, version)

    def _ask_prefetch(self):
        with self._wake:
            self.prefetch_requested = True
            self._wake.notify_all()

    def _candidate(self, client):
        held, skipped = self._held(client), set(self.skipped)
        pool = self._pool()
        ok = np.isin(np.asarray(self.queue, dtype=np.intp), pool)
        for row, good in zip(self.queue, ok):
            if good and row not in held and row not in skipped:
                return row
        return None

    def _next_for(self, client):
        """The row to show ``client`` (the one it holds, else a fresh one)."""
        mine = self.assigned.get(client)
        if mine is not None and self._in_pool(mine[0]):
            self.assigned[client] = (mine[0], time.monotonic())
            return mine[0]
        row = self._candidate(client)
        if row is None:  # queue ran dry before the next refit: query now
            self._refill(client)
            row = self._candidate(client)
        if row is None:  # only skipped rows (or rows others hold) are left
            held, pool = self._held(client), set(self._pool().tolist())
            row = next((r for r in self.skipped if r in pool and r not in held), None)
            if row is not None:
                self.skipped.remove(row)
        if row is None:
            self.assigned.pop(client, None)
            return None
        if row in self.queue:
            self.queue.remove(row)
        if len(self.queue) < max(self.queue_size // 2, 1):
            self._ask_prefetch()  # query ahead before the queue runs dry
        self.assigned[client] = (row, time.monotonic())
        return row

    def _check_row(self, row, what="index"):
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
            raise LabelingError(f"'{what}' must be an int row of X; got {row!r}.")
        n = len(self.learner._X_fit) if hasattr(self.learner, "_X_fit") else None
        if row < 0 or (n is not None and row >= n):
            raise LabelingError(f"'{what}' {row} is not a row of X (0..{n - 1}).")
        return int(row)

    def _check_label(self, k):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise LabelingError(
                "'label' must be the int position of a class "
                f"(0..{len(self.classes) - 1}); got {k!r}."
            )
        if not 0 <= k < len(self.classes):
            raise LabelingError(
                f"'label' {k} is not a class position: expected 0.."
                f"{len(self.classes) - 1} for classes {self.classes!r}."
            )
        return self.classes[int(k)]

    # --------------------------------------------------------------- the API
    def next_item(self, client):
        """The row ``client`` should label now, or None when the pool is done."""
        with self.lock:
            return self._next_for(client)

    def label(self, client, row, k):
        """Journal ``classes[k]`` for ``row`` (fsynced), then the next row.

        Returns the next row for ``client`` (None when nothing is left).
        """
        row = self._check_row(row)
        label = self._check_label(k)
        with self.lock:
            if not self._in_pool(row):
                raise LabelingError(
                    f"Row {row} is not in the pool (already labeled?); "
                    "reload the page for the next item.",
                    status=409,
                )
            _compat.teach_one(self.learner, row, label)  # on disk before we go on
            mine = self.assigned.get(client)
            if mine is not None and mine[0] == row:
                del self.assigned[client]
            if row in self.skipped:
                self.skipped.remove(row)
            self.taught[client].append(row)
            self.since_refit += 1
            if self.since_refit >= self.n_instances:
                self.request_refit()
            return self._next_for(client)

    def record(self, row, k, *, client="api"):
        """Journal ``classes[k]`` for ``row``; a labeled row is relabeled.

        For callers that pick rows themselves (the Label Studio bridge).
        Returns whether the label changed anything.
        """
        row = self._check_row(row)
        label = self._check_label(k)
        with self.lock:
            if self._in_pool(row):
                _compat.teach_one(self.learner, row, label)
                self.taught[client].append(row)
            elif self.label_of(row) == k:
                return False
            elif self.label_of(row) is not None:
                _compat.relabel_one(self.learner, row, label)
            else:
                raise LabelingError(f"Row {row} is neither in the pool nor labeled.")
            if row in self.skipped:
                self.skipped.remove(row)
            self.since_refit += 1
            if self.since_refit >= self.n_instances:
                self.request_refit()
            return True

    def forget(self, row):
        """Return a labeled ``row`` to the pool (journaled)."""
        row = self._check_row(row)
        with self.lock:
            if self.label_of(row) is None:
                return False
            _compat.unlabel_one(self.learner, row)
            return True

    def request_refit(self):
        """Ask the background thread for a refit now."""
        with self._wake:
            self.refit_requested = True
            self._wake.notify_all()

    def skip(self, client, row):
        """Set ``row`` aside (asked again once nothing else is left)."""
        row = self._check_row(row)
        with self.lock:
            if self._in_pool(row) and row not in self.skipped:
                self.skipped.append(row)
            mine = self.assigned.get(client)
            if mine is not None and mine[0] == row:
                del self.assigned[client]
            return self._next_for(client)

    def undo(self, client):
        """Return ``client``'s last label to the pool (journaled); that row is next.

        Falls back to the labels of an earlier run of the server (after a
        restart) when this client labeled nothing yet.
        """
        with self.lock:
            pool = set(self._pool().tolist())
            stack = self.taught[client]
            while stack and stack[-1] in pool:
                stack.pop()
            if not stack:
                while self.restored and self.restored[-1] in pool:
                    self.restored.pop()
                stack = self.restored
            if not stack:
                raise LabelingError("Nothing to undo.", status=409)
            row = stack.pop()
            _compat.unlabel_one(self.learner, row)
            mine = self.assigned.get(client)
            if mine is not None:  # the row shown goes back to the front
                self.queue.insert(0, mine[0])
            self.assigned[client] = (row, time.monotonic())
            self.since_refit = max(self.since_refit - 1, 0)
            return row

    def label_of(self, row):
        """The class position currently recorded for ``row`` (None if none)."""
        learner = self.learner
        lab = np.asarray(learner.labeled_indices_)
        hit = np.flatnonzero(lab == row)
        y = np.asarray(learner.y_labeled_)
        if not hit.size or len(lab) != len(y):
            return None
        value = y[hit[-1]]
        for k, c in enumerate(self.classes):
            if c == value:
                return k
        return None

    def status(self):
        """What the page shows beside the item (JSON-able)."""
        with self.lock:
            learner = self.learner
            y = np.asarray(learner.y_labeled_)
            counts = [int(np.sum(y == c)) if y.size else 0 for c in self.classes]
            stopping = getattr(learner, "stopping", None)
            obs = list(getattr(learner, "stop_observations_", None) or [])
            last = obs[-1] if obs else None
            return {
                "n_labels": int(y.size),
                "n_pool": int(len(self._pool())),
                "classes": [str(c) for c in self.classes],
                "counts": counts,
                "skipped": len(self.skipped),
                "stopping": None
                if stopping is None
                else {
                    "criterion": repr(stopping),
                    "stop": getattr(learner, "stop_reason_", None) is not None,
                    "reason": getattr(learner, "stop_reason_", None),
                    "observation": None
                    if last is None
                    else {
                        str(k): _json_value(v)
                        for k, v in dict(last).items()
                        if np.ndim(v) == 0
                    },
                },
                "curve": list(self.curve),
                "model": {
                    "version": self.model_version,
                    "fitted": bool(getattr(learner, "model_fitted_", False)),
                    "stale": bool(getattr(learner, "model_stale_", False)),
                    "refit_running": self.refit_running,
                    "last_refit_seconds": self.last_refit_seconds,
                    "error": self.refit_error,
                },
            }

    # ---------------------------------------------------------------- refits
    def refit_now(self):
        """Refit in the calling thread (the same steps as the background)."""
        self._refit_once()

    def _refit_once(self):
        with self.lock:
            self.refit_requested = False
            self.since_refit = 0
            if np.unique(np.asarray(self.learner.y_labeled_)).size < 2:
                return  # no model from a single class: wait for more labels
            try:
                job = _compat.prepare_refit(self.learner)
            except Exception as exc:  # e.g. one class so far
                self.refit_error = f"{type(exc).__name__}: {exc}"
                return
            if job is None:
                return
            self.refit_running = True
        t0 = time.perf_counter()
        try:
            fitted = job()
        except Exception as exc:
            with self.lock:
                self.refit_running = False
                self.refit_error = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            return
        with self.lock:
            self.refit_running = False
            self.last_refit_seconds = round(time.perf_counter() - t0, 3)
            _compat.install(self.learner, fitted)
            self.refit_error = None
            self.model_version += 1
            n_labels = int(len(self.learner.y_labeled_))
        if self._prefetcher is None:
            self._prefetch()
        else:  # the next items from the new model, queried in the background
            self._ask_prefetch()
        if self.eval_set is not None:  # reads the model only: no lock needed
            X_val, y_val = self.eval_set
            score = float(self.learner.score(X_val, y_val))
            with self.lock:
                self.curve.append([n_labels, score])

    def _worker(self):
        while True:
            with self._wake:
                while not (self._closed or self.refit_requested):
                    self._wake.wait(timeout=1.0)
                if self._closed:
                    return
            try:
                self._refit_once()
            except Exception:  # never let the thread die silently
                traceback.print_exc()

    def _prefetch_loop(self):
        while True:
            with self._wake:
                while not (self._closed or self.prefetch_requested):
                    self._wake.wait(timeout=1.0)
                if self._closed:
                    return
                self.prefetch_requested = False
            try:
                self._prefetch()
            except Exception:
                traceback.print_exc()

    def close(self, timeout=None):
        """Stop the background threads (a running job finishes first)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        for thread in (self._thread, self._prefetcher):
            if thread is not None:
                thread.join(timeout)
