"""Fit and score on Modal GPUs (``pip install "skal-learn[modal]"``).

``modal`` is imported when a session opens, never at import time.

Data staging (see ``docs/modal.rst`` for the numbers): the pool is written
once per session to a Modal Volume, in blocks of ``chunk_size`` rows; each
round's ``Function.map`` input then names a block and the rows of it to score
(a few hundred KiB) instead of carrying the rows. Sending the rows with every
input would re-upload the whole pool each round (31 GB per round for
10M×1×28×28 float32).
"""

from __future__ import annotations

import copy
import importlib
import io
import math
import os
import sys
import uuid
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.utils.validation import _num_samples

from ..models import is_skorch_net
from ..utils._arrays import _is_torch_tensor, take_rows
from ._base import BackendError, BaseExecutor, assemble, check_positive_int, plan_chunks
from ._workers import PoolChunk, StagedFile, dumps, fit_estimator, score_chunk

__all__ = ["ModalCredentialsError", "ModalExecutor", "modal_credentials_present"]

# Modal's limits (modal 1.6):
# - A function input (its pickled args and kwargs) larger than
#   ``modal._utils.blob_utils.MAX_OBJECT_SIZE_BYTES`` = 2 MiB is not sent
#   inline but uploaded to blob storage first, one upload per input.
#   Map inputs are kept below it.
# - "Scaling out" guide (modal.com/docs/guide/scale, "Scaling Limits"): a
#   Function holds at most 2,000 pending and 25,000 total inputs, and one
#   ``.map()`` call runs at most 1,000 inputs concurrently.
MAX_INPUT_BYTES = 2 * 1024 * 1024
MAX_TOTAL_INPUTS = 25_000
MAP_MAX_CONCURRENT = 1_000
# Room left in a map input for everything but the model: the row numbers
# (int32, at most 4 bytes × chunk_size) and the pickled wrappers.
_INPUT_MARGIN = 64 * 1024
# Bytes of pool blocks held in memory per Volume upload batch.
_UPLOAD_BATCH_BYTES = 1 << 30

_TOKEN_HELP = (
    "No Modal credentials found: ModalExecutor runs on Modal and needs a token. "
    "Run `modal token new` (opens a browser; writes ~/.modal.toml), or set "
    "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET. Looked in the environment and in "
    "{path}."
)


class ModalCredentialsError(BackendError):
    """Raised on entering a :class:`ModalExecutor` without Modal credentials.

    Examples
    --------
    >>> from skal.backends import BackendError, ModalCredentialsError
    >>> issubclass(ModalCredentialsError, BackendError)
    True
    """


def _read_toml(path):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: modal depends on ``toml``
        try:
            import toml
        except ModuleNotFoundError:
            return None
        with open(path) as f:
            return toml.load(f)
    with open(path, "rb") as f:
        return tomllib.load(f)


def modal_credentials_present():
    """True when Modal would find a token (environment or ``.modal.toml``).

    Reads what ``modal.config`` reads — ``MODAL_TOKEN_ID`` /
    ``MODAL_TOKEN_SECRET`` (or ``MODAL_OAUTH_*``), else the active profile of
    ``$MODAL_CONFIG_PATH`` (default ``~/.modal.toml``) — without importing
    ``modal`` or contacting anything.

    Examples
    --------
    >>> from skal.backends import modal_credentials_present
    >>> isinstance(modal_credentials_present(), bool)
    True
    """
    env = os.environ
    if env.get("MODAL_OAUTH_REFRESH_TOKEN"):
        return True
    path = env.get("MODAL_CONFIG_PATH") or os.path.expanduser("~/.modal.toml")
    profile = {}
    if os.path.exists(path):
        try:
            data = _read_toml(path)
        except Exception:  # unreadable: let modal report it
            return True
        if data is None:
            return True
        name = env.get("MODAL_PROFILE") or next(
            (k for k, v in data.items() if isinstance(v, dict) and v.get("active")),
            "default",
        )
        profile = data.get(name) or {}
    return all(
        env.get(f"MODAL_{key.upper()}") or profile.get(key)
        for key in ("token_id", "token_secret")
    )


def _import_modal():
    try:
        return importlib.import_module("modal")
    except ImportError as exc:
        raise ImportError(
            "ModalExecutor needs the 'modal' package. Install it with "
            '`pip install "skal-learn[modal]"`.'
        ) from exc


def _release(version):
    """'2.5.1+cpu' -> '2.5.1' (a local build tag has no wheel on PyPI)."""
    return version.split("+")[0]


def default_image(modal, pip_packages=()):
    """A Debian image with this process's Python and versions of skal's stack.

    skal itself is added by Modal (the worker functions' package is mounted
    from this machine), so the container runs the same skal code.
    """
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for dist in (
        "numpy",
        "scipy",
        "scikit-learn",
        "joblib",
        "cloudpickle",
        "torch",
        "skorch",
    ):
        try:
            pins.append(f"{dist}=={_release(version(dist))}")
        except PackageNotFoundError:
            pins.append(dist)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return modal.Image.debian_slim(python_version=py).pip_install(*pins, *pip_packages)


def _on_device(estimator, device):
    """``estimator`` with its skorch ``device`` set to ``device`` (a shallow copy).

    A skorch net loads its weights onto ``net.device`` when unpickled, so the
    copy sent to a GPU container loads onto the GPU even if this machine's
    copy was mapped to the CPU (skorch does that where CUDA is missing).
    """
    if device is None or not is_skorch_net(estimator) or estimator.device == device:
        return estimator
    estimator = copy.copy(estimator)
    estimator.device = device
    return estimator


@contextmanager
def _quiet_device_mapping():
    """Silence skorch's note that a CUDA net was loaded on the CPU here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting self.device = ")
        warnings.filterwarnings("ignore", message="Requested to load data to CUDA")
        yield


def _block(X, start, stop):
    if isinstance(X, np.ndarray) or _is_torch_tensor(X):
        return X[start:stop]
    return take_rows(X, np.arange(start, stop))


def _serialize_block(block):
    """(bytes, suffix): ``.npy`` for arrays and tensors, a pickle otherwise."""
    if _is_torch_tensor(block):
        block = block.detach().cpu().numpy()
    if isinstance(block, np.ndarray) and block.dtype.kind != "O":
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(block), allow_pickle=False)
        return buf.getvalue(), ".npy"
    return dumps(block), ".pkl"


class _Session:
    """What a ModalExecutor holds while entered (never pickled)."""

    def __init__(self, app, run, fit_fn, score_fn, volume, volume_id, mount):
        self.app, self.run = app, run
        self.fit_fn, self.score_fn = fit_fn, score_fn
        self.volume, self.volume_id, self.mount = volume, volume_id, mount
        self.root = f"skal-{uuid.uuid4().hex[:12]}"
        self.pools = {}  # id(X) -> (X, key, suffix, n_rows)
        self.model = None  # (model, payload) of the last model sent
        self.n_staged_models = 0

    def path(self, remote):
        return f"{self.mount.rstrip('/')}/{remote.lstrip('/')}"


class ModalExecutor(BaseExecutor):
    """Fit and score the pool on Modal GPUs.

    The model is fitted in a GPU container (:func:`~skal.backends.fit_estimator`)
    and comes back with its weights; the pool is staged once per session on
    a Modal Volume, in blocks of ``chunk_size`` rows, and scored with
    ``Function.map`` over the blocks holding candidates
    (:func:`~skal.backends.score_chunk`), each candidate exactly once. The
    worker functions are the ones :class:`LocalExecutor` calls, so results
    match it on the same inputs.

    Holds configuration only: ``clone`` and pickling work. A session (the
    Modal app, run once; the staged data) opens when the executor is entered
    and closes when it is left::

        with ModalExecutor(gpu="A100"):
            learner.fit(X, y)        # learners with executor=None use it

    A learner given ``executor=ModalExecutor(...)`` opens a session for each
    call it makes (one for a whole ``budget`` simulation); wrap a hand-written
    query/teach loop in ``with learner.executor:`` so the pool is staged once.

    Parameters
    ----------
    gpu : str or list of str or None, default="A100"
        Modal GPU request ("T4", "L4", "A10G", "A100", "A100-80GB", "H100",
        "H100:2", or a list to fall back on); None runs on CPU.
    timeout : int, default=3600
        Seconds one fit or one chunk may run.
    chunk_size : int, default=65536
        Pool rows per staged block and per map input. Each round sends the
        model once per block holding candidates: larger blocks mean fewer
        inputs; smaller ones spread a pool over more containers.
    app_name : str, default="skal"
        Name of the ephemeral Modal app (shown in the Modal dashboard).
    image : modal.Image, default=None
        Container image; None builds Debian slim with this Python and the
        installed versions of numpy, scipy, scikit-learn, joblib, cloudpickle,
        torch and skorch, plus ``pip_packages``. A given image must have them. (Modal
        objects do not pickle: a learner holding one cannot be pickled.)
    volume : str or modal.Volume, default=None
        Where the pool is staged: a Volume name (created if missing) or a
        Volume; None uses ``"<app_name>-pool"``. Each session writes under
        its own folder and deletes it when it ends.
    pip_packages : tuple of str, default=()
        Extra requirements of the default image (e.g. the package defining
        your ``nn.Module``).
    max_containers : int, default=None
        Upper bound on concurrent containers per function (cost control);
        None leaves it to Modal's autoscaler.
    device : str, default=None
        ``device`` of skorch nets in the containers; None uses ``"cuda"``
        when ``gpu`` is set, else the net's own. (A fitted net that comes back
        to a machine without CUDA is loaded on its CPU, as skorch does.)
    volume_mount : str, default="/skal"
        Where the Volume is mounted in the containers.

    Examples
    --------
    >>> from skal.backends import ModalExecutor
    >>> ModalExecutor(gpu="H100", chunk_size=100_000)
    ModalExecutor(chunk_size=100000, gpu='H100')
    """

    remote = True

    def __init__(
        self,
        gpu="A100",
        *,
        timeout=3600,
        chunk_size=65_536,
        app_name="skal",
        image=None,
        volume=None,
        pip_packages=(),
        max_containers=None,
        device=None,
        volume_mount="/skal",
    ):
        self.gpu = gpu
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.app_name = app_name
        self.image = image
        self.volume = volume
        self.pip_packages = pip_packages
        self.max_containers = max_containers
        self.device = device
        self.volume_mount = volume_mount

    def __getstate__(self):
        for name in ("image", "volume"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"This ModalExecutor cannot be pickled: its '{name}' is a "
                    f"Modal object ({type(value).__name__}), and Modal objects do "
                    "not pickle. Pass volume as a name (str), and leave image=None "
                    "with pip_packages=[...] for extra requirements."
                )
        return super().__getstate__()

    # ------------------------------------------------------------ sessions
    def _check_params(self):
        chunk_size = check_positive_int(self.chunk_size, "chunk_size", "ModalExecutor")
        check_positive_int(self.timeout, "timeout", "ModalExecutor")
        if self.max_containers is not None:
            check_positive_int(self.max_containers, "max_containers", "ModalExecutor")
        if not isinstance(self.app_name, str) or not self.app_name:
            raise ValueError(
                "The 'app_name' parameter of ModalExecutor must be a non-empty "
                f"str. Got {self.app_name!r} instead."
            )
        if isinstance(self.pip_packages, str):
            raise TypeError(
                "The 'pip_packages' parameter of ModalExecutor must be a list of "
                f"requirement strings. Got the str {self.pip_packages!r}; wrap "
                "it in a list."
            )
        return chunk_size

    def _open(self):
        self._check_params()
        if not modal_credentials_present():
            path = os.environ.get("MODAL_CONFIG_PATH") or "~/.modal.toml"
            raise ModalCredentialsError(_TOKEN_HELP.format(path=path))
        modal = _import_modal()
        image = (
            self.image
            if self.image is not None
            else default_image(modal, tuple(self.pip_packages))
        )
        volume = self.volume
        if volume is None or isinstance(volume, str):
            volume = modal.Volume.from_name(
                volume or f"{self.app_name}-pool", create_if_missing=True
            )
        app = modal.App(self.app_name, image=image)
        options = {
            "gpu": self.gpu,
            "timeout": int(self.timeout),
            "volumes": {self.volume_mount: volume},
            "max_containers": self.max_containers,
        }
        fit_fn = app.function(**options)(fit_estimator)
        score_fn = app.function(**options)(score_chunk)
        run = app.run()
        run.__enter__()
        try:
            volume_id = volume.hydrate().object_id
        except BaseException:
            run.__exit__(*sys.exc_info())
            raise
        self._session = _Session(
            app, run, fit_fn, score_fn, volume, volume_id, self.volume_mount
        )

    def _close(self):
        s = self.__dict__.pop("_session", None)
        if s is None:
            return
        try:
            if s.pools or s.n_staged_models:
                s.volume.remove_file(f"/{s.root}", recursive=True)
        except Exception as exc:  # leave the app's exit to run regardless
            warnings.warn(
                f"Could not delete the staged data /{s.root} from the Modal "
                f"Volume: {exc}. Delete it with `modal volume rm`.",
                RuntimeWarning,
                stacklevel=2,
            )
        finally:
            s.run.__exit__(None, None, None)

    # ---------------------------------------------------------------- work
    def chunked_scoring(self, X=None):
        """True unless ``X`` fits in one chunk (then the returned model scores
        it in-process: one container round trip would cost more)."""
        return X is None or _num_samples(X) > self._check_params()

    def _device(self):
        if self.device is not None:
            return self.device
        return "cuda" if self.gpu is not None else None

    def _fit(self, estimator, X, y, fit_params, seed, method):
        s = self._session
        payload = dumps(_on_device(estimator, self._device()))
        with _quiet_device_mapping():
            return s.fit_fn.remote(payload, X, y, fit_params, seed=seed, method=method)

    def _stage_pool(self, s, X):
        """Write ``X`` to the Volume in blocks, once per session; returns its entry."""
        entry = s.pools.get(id(X))
        if entry is not None and entry[0] is X:
            return entry
        chunk_size = self._check_params()
        n_rows = _num_samples(X)
        n_blocks = math.ceil(n_rows / chunk_size)
        if n_blocks > MAX_TOTAL_INPUTS:
            raise ValueError(
                f"The pool of {n_rows} rows makes {n_blocks} blocks of "
                f"chunk_size={chunk_size} rows, more than the {MAX_TOTAL_INPUTS} "
                "inputs a Modal Function may hold. Raise chunk_size to at least "
                f"{math.ceil(n_rows / MAX_TOTAL_INPUTS)}."
            )
        key = f"pool-{len(s.pools)}"
        suffix = None
        j = 0
        while j < n_blocks:
            held = 0
            with s.volume.batch_upload() as batch:
                while j < n_blocks and held < _UPLOAD_BATCH_BYTES:
                    data, suffix = _serialize_block(
                        _block(X, j * chunk_size, (j + 1) * chunk_size)
                    )
                    batch.put_file(io.BytesIO(data), f"/{s.root}/{key}/{j:06d}{suffix}")
                    held += len(data)
                    j += 1
        entry = (X, key, suffix, n_rows)
        s.pools[id(X)] = entry
        return entry

    def _model_payload(self, s, model, chunk_size):
        """The model inline (bytes) when a map input stays under Modal's limit,
        else staged once on the Volume."""
        if s.model is not None and s.model[0] is model:
            return s.model[1]
        data = dumps(_on_device(model, self._device()))
        if len(data) + 4 * chunk_size + _INPUT_MARGIN <= MAX_INPUT_BYTES:
            payload = data
        else:
            remote = f"/{s.root}/models/{s.n_staged_models:05d}.pkl"
            with s.volume.batch_upload() as batch:
                batch.put_file(io.BytesIO(data), remote)
            s.n_staged_models += 1
            payload = StagedFile(s.path(remote), s.volume_id)
        s.model = (model, payload)
        return payload

    def _score(self, model, X, candidates, what, kwargs):
        s = self._session
        chunk_size = self._check_params()
        _, key, suffix, n_rows = self._stage_pool(s, X)
        plan = plan_chunks(n_rows, candidates, chunk_size)
        payload = self._model_payload(s, model, chunk_size)
        chunks = []
        for j, _, rows in plan:
            block_rows = min(chunk_size, n_rows - j * chunk_size)
            full = rows.shape[0] == block_rows and np.array_equal(
                rows, np.arange(block_rows)
            )
            chunks.append(
                PoolChunk(
                    s.path(f"/{s.root}/{key}/{j:06d}{suffix}"),
                    None if full else rows.astype(np.int32),
                    s.volume_id,
                )
            )
        n = len(plan)
        results = list(
            s.score_fn.map(
                [payload] * n, chunks, [what] * n, kwargs=kwargs, order_outputs=True
            )
        )
        n_out = n_rows if candidates is None else len(candidates)
        return assemble(
            n_out, [(pos, res) for (_, pos, _), res in zip(plan, results, strict=True)]
        )
