"""Execution backends: where the learner fits its model and scores the pool.

:class:`LocalExecutor` (the default) runs in this process;
:class:`ModalExecutor` (``pip install "skal-learn[modal]"``) fits on a Modal GPU and
scores the pool in chunks with ``Function.map``. Select one with
``ActiveLearner(..., executor=...)`` or by entering it::

    with ModalExecutor(gpu="A100"):
        learner.fit(X, y)

Importing this package never imports ``modal``. The workers' payloads
(``PoolChunk``, ``StagedFile``) and ``score_chunk`` are internals of
:class:`ModalExecutor`: import them from ``skal.backends._workers``.
"""

from ._base import (
    BackendError,
    BaseExecutor,
    current_executor,
    plan_chunks,
)
from ._local import LocalExecutor, resolve_executor
from ._modal import ModalCredentialsError, ModalExecutor, modal_credentials_present
from ._workers import fit_estimator

__all__ = [
    "BackendError",
    "BaseExecutor",
    "LocalExecutor",
    "ModalCredentialsError",
    "ModalExecutor",
    "current_executor",
    "fit_estimator",
    "modal_credentials_present",
    "plan_chunks",
    "resolve_executor",
]
