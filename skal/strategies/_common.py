"""Helpers shared by the model-reading strategies (private)."""

from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import HasMethods, StrOptions

from ..models import SklearnAdapter, get_adapter
from ..utils._arrays import take_rows
from ..utils._seeding import draw_seed
from ..utils._sparse import is_sparse, sparse_embedding


def labeled_set(learner):
    """``(X_labeled_, y_labeled_)`` of an ActiveLearner, else ``(None, None)``."""
    if getattr(learner, "_is_skal_learner", False) and hasattr(learner, "y_labeled_"):
        y = np.asarray(learner.y_labeled_)
        if y.shape[0]:
            return learner.X_labeled_, y
    return None, None


def has_model(learner):
    """Whether the model behind ``learner`` can be read."""
    if learner is None:
        return False
    if getattr(learner, "_is_skal_learner", False):
        return bool(getattr(learner, "model_fitted_", False))
    return True


def raw_features(X, candidates=None, *, owner=None):
    """Rows of ``X`` flattened to a float32 (n, d) tensor (no model).

    Sparse rows are projected (a TruncatedSVD fitted once per ``owner``,
    :mod:`skal.utils._sparse`), never densified.
    """
    import torch

    Xc = X if candidates is None else take_rows(X, candidates)
    if is_sparse(Xc):
        Xc = sparse_embedding(Xc, owner=X if owner is None else owner)
    if isinstance(Xc, torch.Tensor):
        t = Xc.detach().to(torch.float32)
    else:
        t = torch.as_tensor(np.asarray(Xc, dtype=np.float32))
    return t.reshape(t.shape[0], -1).contiguous()


def lazy_kwargs(adapter, lazy=True):
    """``{"lazy": True}`` for an adapter that can keep an out-of-core pool on
    disk (the scikit-learn one, when the embedding is ``X``), else ``{}``."""
    return {"lazy": True} if lazy and isinstance(adapter, SklearnAdapter) else {}


#: ``embedding=`` of the embedding-based strategies: where selection measures.
EMBEDDING_CONSTRAINT = {
    "embedding": [
        StrOptions({"model", "input"}),
        HasMethods(["transform"]),
        callable,
    ]
}
#: ``normalize=`` of the distance and coverage strategies.
NORMALIZE_CONSTRAINT = {"normalize": ["boolean"]}


class _NormalizedRows:
    """An out-of-core lazy view whose row blocks come out L2-normalised (what
    the streaming kernels read in place of the pool; never loaded whole)."""

    device = "cpu"

    def __init__(self, inner):
        self.inner = inner
        self.shape = tuple(inner.shape)
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        blk = np.asarray(self.inner[key], dtype=np.float32)
        blk = blk.reshape(blk.shape[0], -1)
        return _l2_rows(blk)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[:], dtype=dtype)


def _l2_rows(a):
    """Rows scaled to unit Euclidean norm; all-zero rows stay zero."""
    import torch

    if isinstance(a, torch.Tensor):
        a = a.to(torch.float32)
        n = torch.linalg.vector_norm(a, dim=1, keepdim=True)
        return a / torch.where(n > 0, n, torch.ones_like(n))
    a = np.asarray(a, dtype=np.float32)
    n = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(n > 0, n, 1.0).astype(np.float32)


def l2_normalize(emb):
    """L2-normalised rows of an embedding (tensor, array or lazy view)."""
    if emb is None:
        return None
    from ..models._adapters import _is_lazy

    if _is_lazy(emb):  # a lazy view of an out-of-core pool
        return _NormalizedRows(emb)
    return _l2_rows(emb)


def _not_fitted_error(strategy, embedding):
    name = type(strategy).__name__
    return ValueError(
        f"The 'embedding' transformer of {name} ({type(embedding).__name__}) is "
        "not fitted. Fit it first (e.g. on the pool); clone() and GridSearchCV "
        "refit nothing and return an unfitted copy, so wrap a fitted "
        "transformer in sklearn.frozen.FrozenEstimator, or pass its "
        "'transform' method as a callable."
    )


def _flat_tensor(a):
    import torch

    if isinstance(a, torch.Tensor):
        t = a.detach().to(torch.float32)
    else:
        if is_sparse(a):
            raise TypeError("sparse")  # handled by the caller
        t = torch.as_tensor(np.ascontiguousarray(np.asarray(a, dtype=np.float32)))
    return t.reshape(t.shape[0], -1).contiguous()


def external_embedding(strategy, embedding, X, rows=None):
    """Rows ``rows`` of ``X`` through a user's transformer or callable, as a
    float32 ``(n, d)`` tensor (sparse output projected, never densified)."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    Xc = X if rows is None else take_rows(X, rows)
    if hasattr(embedding, "transform"):
        if isinstance(embedding, BaseEstimator):
            try:
                check_is_fitted(embedding)
            except NotFittedError as exc:
                raise _not_fitted_error(strategy, embedding) from exc
        out = embedding.transform(Xc)
    else:
        out = embedding(Xc)
    if is_sparse(out):
        out = sparse_embedding(out, owner=embedding)
    n = Xc.shape[0] if hasattr(Xc, "shape") else len(Xc)
    t = _flat_tensor(out)
    if t.shape[0] != n:
        raise ValueError(
            f"The 'embedding' of {type(strategy).__name__} must return one row "
            f"per input row; it returned {t.shape[0]} rows for {n}."
        )
    return t


def embed_rows(
    strategy,
    learner,
    X,
    rows=None,
    *,
    embedding="model",
    layer=None,
    normalize=False,
    adapter=None,
    owner=None,
    lazy=False,
):
    """Embeddings of rows ``rows`` of ``X`` (all when None) in the space
    ``embedding`` selects (see :class:`~skal.strategies.CoreSet`), L2-normalised when
    ``normalize``. ``owner``: whose sparse projection ``"input"`` uses (the
    pool, so that labeled rows land in its space). Returns a float32 tensor,
    or a lazy view for an out-of-core pool with ``lazy``."""
    if isinstance(embedding, str) and embedding == "input":
        if lazy and rows is not None and not is_sparse(X):
            from .._kernels._blocks import _is_out_of_core
            from ..models._adapters import _sk_rows

            if _is_out_of_core(X):
                emb = _sk_rows(X, rows)
                return l2_normalize(emb) if normalize else emb
        emb = raw_features(X, rows, owner=owner)
    elif isinstance(embedding, str):  # "model"
        if adapter is None:
            adapter = get_adapter(learner, strategy=strategy)
        kw = lazy_kwargs(adapter, lazy)
        emb = adapter.embed(X, rows, layer=layer, as_tensor=True, **kw)
    else:
        emb = external_embedding(strategy, embedding, X, rows)
    return l2_normalize(emb) if normalize else emb


def _chain(steps, X):
    for step in steps:
        X = step.transform(X)
    return X


def stateless_prefix(learner):
    """The transformers in front of the learner's pipeline as a callable when
    none of them needs fitting (their ``requires_fit`` tag is False, as for
    :class:`~skal.representations.SentenceEncoder`), else None: the input
    space of a cold start on raw data such as text."""
    from functools import partial

    from sklearn.pipeline import Pipeline

    est = getattr(learner, "estimator", None)
    if not isinstance(est, Pipeline) or len(est.steps) < 2:
        return None
    steps = [s for _, s in est.steps[:-1] if s is not None and s != "passthrough"]
    if not steps:
        return None
    for step in steps:
        tags = getattr(step, "__sklearn_tags__", None)
        if tags is None or tags().requires_fit:
            return None
    return partial(_chain, steps)


def pool_and_labeled_embeddings(
    strategy,
    learner,
    X,
    candidates,
    *,
    layer=None,
    raw_without_model=False,
    lazy=False,
    embedding="model",
    normalize=False,
):
    """Embeddings of the candidates and of the labeled set, on one device.

    Returns ``(emb, emb_labeled)`` as float32 tensors (``emb_labeled`` is None
    without a labeled set). ``embedding`` chooses the space (``"model"``,
    ``"input"``, a fitted transformer or a callable);
    ``normalize`` scales every row to unit L2 norm (the distance and coverage
    strategies' default: an embedding's norm can follow its class and draw
    farthest-first selection to one class). With ``raw_without_model`` and no
    fitted model, ``"model"`` falls back to the flattened rows of ``X`` (cold
    start). With ``lazy`` (for the streaming kernels) ``emb`` may be a lazy
    view of an out-of-core pool (see :meth:`skal.models.SklearnAdapter.embed`).
    """
    X_lab, _ = labeled_set(learner)
    if (
        isinstance(embedding, str)
        and embedding == "model"
        and raw_without_model
        and not has_model(learner)
    ):
        embedding = stateless_prefix(learner) or "input"
    kw = dict(embedding=embedding, layer=layer, normalize=normalize)
    adapter = None
    if isinstance(embedding, str) and embedding == "model":
        adapter = get_adapter(learner, strategy=strategy)
    emb = embed_rows(
        strategy, learner, X, candidates, adapter=adapter, lazy=lazy, owner=X, **kw
    )
    lab = None
    if X_lab is not None:
        lab = embed_rows(strategy, learner, X_lab, adapter=adapter, owner=X, **kw)
        lab = lab.to(emb.device)
    return emb, lab


def strategy_embeddings(strategy, learner, X, candidates, **kwargs):
    """:func:`pool_and_labeled_embeddings` in ``strategy``'s own space: its
    ``layer`` (None when it has none), ``embedding`` and ``normalize``
    parameters; ``kwargs`` are the other options (``raw_without_model``,
    ``lazy``)."""
    return pool_and_labeled_embeddings(
        strategy,
        learner,
        X,
        candidates,
        layer=getattr(strategy, "layer", None),
        embedding=strategy.embedding,
        normalize=strategy.normalize,
        **kwargs,
    )


def strategy_rows(strategy, learner, X, rows, **kwargs):
    """:func:`embed_rows` in ``strategy``'s own space (as
    :func:`strategy_embeddings`); ``kwargs`` may override ``normalize`` and
    pass ``adapter`` / ``owner``."""
    kwargs.setdefault("normalize", getattr(strategy, "normalize", False))
    return embed_rows(
        strategy,
        learner,
        X,
        rows,
        embedding=strategy.embedding,
        layer=getattr(strategy, "layer", None),
        **kwargs,
    )


def uniforms(random_state, n):
    """``n`` uniform draws from ``random_state`` (device independent)."""
    return random_state.random_sample(n)


def mc_seed(random_state):
    """Seed for torch draws (dropout masks) from ``random_state``.

    ``None`` (e.g. ``ScoreStrategy.score`` called by a wrapper such as
    ``ClassBalanced``, which passes no ``random_state``) gives the fixed seed
    0, so that a call stays reproducible whatever the global generators.
    """
    if random_state is None:
        return 0
    from sklearn.utils import check_random_state

    return draw_seed(check_random_state(random_state))
