"""The default executor: everything in this process."""

from __future__ import annotations

import math

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import _num_samples

from ..utils._arrays import take_rows
from ._base import (
    EXECUTOR_CONSTRAINTS,
    BaseExecutor,
    assemble,
    check_positive_int,
    current_executor,
    plan_chunks,
)
from ._workers import score_chunk

__all__ = ["LocalExecutor", "resolve_executor"]


class LocalExecutor(BaseExecutor):
    """Fit and score in this process (the default).

    Pool scoring is a single call unless joblib asks for parallelism (``n_jobs``
    here, or an enclosing ``joblib.parallel_config(n_jobs=...)``) or
    ``chunk_size`` is set: then the pool is scored in chunks with
    ``joblib.Parallel`` (threads preferred, so neither the model nor the pool
    is copied; ``parallel_config(backend=...)`` overrides), through the same
    worker function (:func:`~skal.backends.score_chunk`) as the remote
    executors, on the same chunks — so results match theirs exactly.

    Parameters
    ----------
    n_jobs : int, default=None
        Parallel chunks; None follows ``joblib.parallel_config`` (1 outside
        one), -1 uses every core.
    chunk_size : int, default=None
        Pool rows per chunk; None scores unchunked with one job and splits the
        pool in ``n_jobs`` blocks otherwise.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.backends import LocalExecutor
    >>> X, y = load_iris(return_X_y=True)
    >>> ex = LocalExecutor(n_jobs=2, chunk_size=50)
    >>> model = ex.fit(LogisticRegression(max_iter=500), X, y)
    >>> ex.score(model, X, candidates=[0, 120]).shape
    (2, 3)
    """

    def __init__(self, n_jobs=None, chunk_size=None):
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    def _n_jobs(self):
        return effective_n_jobs(self.n_jobs)

    def chunked_scoring(self, X=None):
        return self.chunk_size is not None or self._n_jobs() > 1

    def _score(self, model, X, candidates, what, kwargs):
        n_rows = _num_samples(X)
        n_jobs = self._n_jobs()
        if self.chunk_size is None:
            if n_jobs == 1:
                Xc = X if candidates is None else take_rows(X, candidates)
                return score_chunk(model, Xc, what, **kwargs)
            chunk_size = max(1, math.ceil(n_rows / n_jobs))
        else:
            chunk_size = check_positive_int(
                self.chunk_size, "chunk_size", "LocalExecutor"
            )
        cand = np.arange(n_rows) if candidates is None else np.asarray(candidates)
        plan = plan_chunks(n_rows, cand, chunk_size)
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(score_chunk)(model, take_rows(X, cand[pos]), what, **kwargs)
            for _, pos, _ in plan
        )
        return assemble(
            cand.shape[0],
            [(pos, res) for (_, pos, _), res in zip(plan, results, strict=True)],
        )


def resolve_executor(executor=None):
    """The executor to use: ``executor``, else the entered one, else local.

    Parameters
    ----------
    executor : BaseExecutor or None
        An executor given explicitly (``ActiveLearner(executor=...)``).

    Returns
    -------
    executor : BaseExecutor

    Examples
    --------
    >>> from skal.backends import LocalExecutor, resolve_executor
    >>> resolve_executor()
    LocalExecutor()
    """
    if executor is None:
        executor = current_executor()
        if executor is None:
            return LocalExecutor()
    validate_parameter_constraints(
        {"executor": EXECUTOR_CONSTRAINTS}, {"executor": executor}, "ActiveLearner"
    )
    return executor
