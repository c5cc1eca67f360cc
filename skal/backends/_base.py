"""The executor interface: where the learner fits its model and scores the pool.

An executor holds configuration only (its ``__init__`` stores parameters, like
any scikit-learn estimator), so a learner holding one still clones and
pickles. What it opens at run time — a remote app, staged data — lives in a
*session*, entered with ``with executor:`` and never pickled.
"""

from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator

from ..models import get_adapter
from ..models._delegate import SCORING_METHODS
from ..utils._arrays import take_rows
from ..utils._validation import Described, check_int
from ._workers import fit_estimator

__all__ = [
    "BackendError",
    "BaseExecutor",
    "current_executor",
    "in_executor_session",
    "plan_chunks",
]

# The executor entered with ``with executor:``; a learner whose ``executor``
# is None uses it.
_ACTIVE = contextvars.ContextVar("skal_active_executor", default=None)


class BackendError(RuntimeError):
    """Raised when an execution backend cannot run (missing setup, remote failure).

    Examples
    --------
    >>> from skal.backends import BackendError
    >>> issubclass(BackendError, RuntimeError)
    True
    """


def current_executor():
    """The executor entered with ``with executor:`` in this context, or None.

    Examples
    --------
    >>> from skal.backends import LocalExecutor, current_executor
    >>> current_executor() is None
    True
    >>> with LocalExecutor() as executor:
    ...     current_executor() is executor
    True
    """
    return _ACTIVE.get()


def in_executor_session(method):
    """Run a learner method inside one session of the learner's executor.

    So every fit and scoring call of a ``budget`` simulation shares one
    session (one Modal app run, the pool staged once).
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._executor_.session():
            return method(self, *args, **kwargs)

    return wrapper


def plan_chunks(n_rows, candidates, chunk_size):
    """Group candidate rows by fixed blocks of ``chunk_size`` pool rows.

    Block ``j`` holds pool rows ``[j * chunk_size, (j + 1) * chunk_size)``;
    only blocks with at least one candidate are returned. Local and remote
    executors share this plan, so each chunk holds the same rows in the same
    order on both, and each candidate lies in exactly one chunk.

    Parameters
    ----------
    n_rows : int
        Rows in the pool.
    candidates : array-like of int or None
        Rows to score (None: all of them).
    chunk_size : int
        Pool rows per block.

    Returns
    -------
    plan : list of (int, ndarray, ndarray)
        ``(j, positions, local_rows)``: the block, the positions of its
        candidates in ``candidates`` and their row numbers inside the block.

    Examples
    --------
    >>> from skal.backends import plan_chunks
    >>> [(j, p.tolist(), r.tolist()) for j, p, r in plan_chunks(10, [9, 1, 4], 4)]
    [(0, [1], [1]), (1, [2], [0]), (2, [0], [1])]
    """
    chunk_size = int(chunk_size)
    if candidates is None:
        cand = np.arange(n_rows, dtype=np.intp)
    else:
        cand = np.asarray(candidates, dtype=np.intp)
    if cand.size == 0:
        return []
    block = cand // chunk_size
    order = np.argsort(block, kind="stable")
    blocks, starts = np.unique(block[order], return_index=True)
    return [
        (int(j), pos, cand[pos] - int(j) * chunk_size)
        for j, pos in zip(blocks, np.split(order, starts[1:]), strict=True)
    ]


def check_positive_int(value, name, owner):
    """Validate an int >= 1 parameter (bools refused), as scikit-learn does."""
    return check_int(value, name, owner)


class BaseExecutor(BaseEstimator):
    """Where an :class:`~skal.ActiveLearner` fits its model and scores the pool.

    Subclasses implement ``_fit`` and ``_score`` (and ``_open`` / ``_close``
    when they hold a session); the public methods validate. Select one with
    ``ActiveLearner(executor=...)`` or enter it as a context manager::

        with ModalExecutor(gpu="A100"):
            learner.fit(X, y)  # learners with executor=None use it

    A session is opened once on entering and closed on leaving; entering
    again (nested ``with``) reuses it.

    Examples
    --------
    >>> from skal.backends import BaseExecutor, LocalExecutor
    >>> isinstance(LocalExecutor(), BaseExecutor)
    True
    """

    #: True when the work runs outside this process (adapters then delegate
    #: pool scoring to :meth:`score`).
    remote = False

    # ------------------------------------------------------------ sessions
    def __enter__(self):
        self._enter_session()
        tokens = self.__dict__.setdefault("_context_tokens", [])
        tokens.append(_ACTIVE.set(self))
        return self

    def __exit__(self, exc_type, exc, tb):
        _ACTIVE.reset(self._context_tokens.pop())
        self._exit_session()
        return False

    @contextmanager
    def session(self):
        """Keep one session open for the block (reuses an open one).

        The learner wraps each public call in it, so a simulation's rounds
        share one session; wrap a hand-written query/teach loop in
        ``with executor:`` to share one across calls.
        """
        self._enter_session()
        try:
            yield self
        finally:
            self._exit_session()

    @property
    def in_session(self):
        """True while a session is open."""
        return self.__dict__.get("_session_depth", 0) > 0

    def _enter_session(self):
        depth = self.__dict__.get("_session_depth", 0)
        if depth == 0:
            self._open()
        self._session_depth = depth + 1

    def _exit_session(self):
        self._session_depth -= 1
        if self._session_depth == 0:
            self._close()

    def _open(self):
        """Open the session (nothing to do for in-process executors)."""

    def _close(self):
        """Close the session."""

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the live object keeps its own
        for key in [
            k for k in state if k.startswith("_session") or k in ("_context_tokens",)
        ]:
            del state[key]
        return state

    def __sklearn_clone__(self):
        # A fresh executor with the same configuration; parameters such as a
        # Modal Image are immutable descriptions, shared rather than copied.
        return type(self)(**self.get_params(deep=False))

    # ---------------------------------------------------------------- work
    def fit(self, estimator, X, y, fit_params=None, *, seed=None, method="fit"):
        """Fit ``estimator`` on ``(X, y)`` and return the fitted estimator.

        Parameters
        ----------
        estimator : estimator
            An unfitted clone (or, for ``method="partial_fit"``, a copy).
        X, y : array-like
            The labeled set.
        fit_params : dict, default=None
            Passed to the estimator's ``fit``.
        seed : int, default=None
            Seeds torch (inside ``fork_rng``) for skorch nets.
        method : {"fit", "partial_fit"}, default="fit"

        Returns
        -------
        estimator : estimator
            The fitted estimator (for remote executors, a copy with its
            weights sent back).
        """
        if method not in ("fit", "partial_fit"):
            raise ValueError(
                "The 'method' parameter of fit must be 'fit' or 'partial_fit'. "
                f"Got {method!r} instead."
            )
        with self.session():
            return self._fit(estimator, X, y, dict(fit_params or {}), seed, method)

    def _fit(self, estimator, X, y, fit_params, seed, method):
        return fit_estimator(estimator, X, y, fit_params, seed=seed, method=method)

    def score(self, model, X, candidates=None, what="predict_proba", **kwargs):
        """Apply a model adapter method to the candidate rows, chunk by chunk.

        Parameters
        ----------
        model : estimator
            A fitted classifier.
        X : array-like of shape (n_samples, ...)
            The pool.
        candidates : array-like of int, default=None
            Rows of ``X`` to score; None scores every row.
        what : {"predict_proba", "logits", "embed", "grad_embedding_factors"}, \
                default="predict_proba"
            The adapter method (see :func:`skal.models.get_adapter`).
        **kwargs : dict
            Passed to the adapter method (e.g. ``layer`` for ``embed``).

        Returns
        -------
        scores : ndarray of shape (n_candidates, ...) or tuple of them
            One row per candidate, in the order of ``candidates`` (a tuple
            for ``grad_embedding_factors``).
        """
        if what not in SCORING_METHODS:
            raise ValueError(
                f"The 'what' parameter of score must be one of {SCORING_METHODS}. "
                f"Got {what!r} instead."
            )
        if candidates is not None and len(candidates) == 0:
            return getattr(get_adapter(model), what)(take_rows(X, []), **kwargs)
        with self.session():
            return self._score(model, X, candidates, what, kwargs)

    def _score(self, model, X, candidates, what, kwargs):
        raise NotImplementedError

    def chunked_scoring(self, X=None):
        """True when adapters should hand the scoring of ``X`` to :meth:`score`."""
        return self.remote


#: The ``executor`` parameter of :class:`~skal.ActiveLearner`.
EXECUTOR_CONSTRAINTS = [
    Described(BaseExecutor, "a skal executor (LocalExecutor(), ModalExecutor(...))"),
    None,
]


def assemble(n, parts):
    """Stack per-chunk results ``[(positions, result)]`` into ``n`` rows.

    A result may be an array or a tuple of arrays (stacked element-wise).
    """
    if parts and isinstance(parts[0][1], tuple):
        width = len(parts[0][1])
        return tuple(
            assemble(n, [(pos, res[i]) for pos, res in parts]) for i in range(width)
        )
    out = None
    for pos, res in parts:
        res = np.asarray(res)
        if out is None:
            out = np.empty((n, *res.shape[1:]), dtype=res.dtype)
        out[pos] = res
    if out is None:
        return np.empty((0, 0), dtype=np.float64)
    return out
