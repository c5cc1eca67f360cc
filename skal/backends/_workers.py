"""Worker functions: the code that runs where the heavy work happens.

Plain module-level functions, called by every executor: in this process by
:class:`~skal.backends.LocalExecutor`, in a Modal container by
:class:`~skal.backends.ModalExecutor` (registered as Modal Functions, so
``fn.local(...)`` runs exactly this code). Nothing here imports ``modal``
except, inside a Modal container, to reload a Volume.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass

import numpy as np

from ..models import get_adapter, is_skorch_net
from ..utils._arrays import take_rows
from ..utils._seeding import seeded_torch

__all__ = ["PoolChunk", "StagedFile", "dumps", "fit_estimator", "score_chunk"]


def dumps(obj) -> bytes:
    """Serialize with cloudpickle (classes defined in ``__main__`` travel too)."""
    try:
        import cloudpickle  # a dependency of joblib >= 1.5
    except ImportError:  # older joblib vendors it
        from joblib.externals import cloudpickle

    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


@dataclass(frozen=True)
class StagedFile:
    """A file staged on a Modal Volume: its path inside the container.

    Examples
    --------
    >>> from skal.backends._workers import StagedFile
    >>> StagedFile("/data/pool.npy").path
    '/data/pool.npy'
    """

    path: str
    volume_id: str | None = None


@dataclass(frozen=True)
class PoolChunk:
    """One staged block of the pool and the rows of it to score.

    ``rows`` are row numbers inside the block (None: every row), so a map
    input stays a few hundred KiB however large the pool is.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.backends._workers import PoolChunk
    >>> PoolChunk("/data/pool_000.npy", rows=np.array([0, 5])).rows.tolist()
    [0, 5]
    """

    path: str
    rows: np.ndarray | None = None
    volume_id: str | None = None


def _ensure_visible(path, volume_id):
    """Inside a Modal container, reload the Volume if ``path`` is not there yet.

    A container sees the Volume as it was when it started; files staged by
    the client afterwards (a new round's model) appear after a reload.
    """
    in_container = os.environ.get("MODAL_IS_REMOTE") == "1"
    if os.path.exists(path) or not volume_id or not in_container:
        return
    import modal  # only inside a Modal container

    modal.Volume.from_id(volume_id).reload()


def _load(payload):
    """An object from bytes, a staged file, or the object itself."""
    if isinstance(payload, bytes | bytearray | memoryview):
        return pickle.loads(payload)
    if isinstance(payload, StagedFile):
        _ensure_visible(payload.path, payload.volume_id)
        with open(payload.path, "rb") as f:
            return pickle.load(f)
    return payload


def _load_chunk(chunk):
    """The rows of a chunk: staged on a Volume (``PoolChunk``) or given as is."""
    if not isinstance(chunk, PoolChunk):
        return chunk
    _ensure_visible(chunk.path, chunk.volume_id)
    if chunk.path.endswith(".npy"):
        block = np.load(chunk.path, mmap_mode="r")
        if chunk.rows is None:
            return np.array(block)
        return np.asarray(block[np.asarray(chunk.rows, dtype=np.intp)])
    with open(chunk.path, "rb") as f:
        block = pickle.load(f)
    return block if chunk.rows is None else take_rows(block, chunk.rows)


def fit_estimator(estimator_bytes, X, y, fit_params=None, *, seed=None, method="fit"):
    """Fit an estimator and return it, weights included.

    Parameters
    ----------
    estimator_bytes : bytes, StagedFile or estimator
        The unfitted estimator, serialized with :func:`dumps` (or, in
        process, the estimator itself, fitted in place).
    X, y : array-like
        The labeled set.
    fit_params : dict, default=None
        Passed to ``fit``.
    seed : int, default=None
        For skorch nets, torch is seeded with it inside ``fork_rng``.
    method : {"fit", "partial_fit"}, default="fit"

    Returns
    -------
    estimator : estimator
        The fitted estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.backends import fit_estimator
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> fit_estimator(LogisticRegression(), X, y).classes_.tolist()
    [0, 1]
    """

    estimator = _load(estimator_bytes)
    active = seed is not None and is_skorch_net(estimator)
    with seeded_torch(seed, active=active):
        getattr(estimator, method)(X, y, **(fit_params or {}))
    return estimator


def score_chunk(model_bytes, chunk, what="predict_proba", **kwargs):
    """Apply a model adapter method to one chunk of rows.

    Parameters
    ----------
    model_bytes : bytes, StagedFile or estimator
        The fitted model, serialized with :func:`dumps` (or the model itself).
    chunk : PoolChunk or array-like
        The rows: a staged block of the pool, or the rows themselves.
    what : {"predict_proba", "embed"}, default="predict_proba"
        The :func:`~skal.models.get_adapter` method to apply.
    **kwargs : dict
        Passed to that method.

    Returns
    -------
    scores : ndarray
        One row of output per row of the chunk.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.backends._workers import score_chunk
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> score_chunk(LogisticRegression().fit(X, y), X[:2]).shape
    (2, 2)
    """
    model = _load(model_bytes)
    X = _load_chunk(chunk)
    return getattr(get_adapter(model), what)(X, **kwargs)
