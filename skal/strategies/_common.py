"""Helpers shared by the model-reading strategies (private)."""

from __future__ import annotations

import numpy as np

from ..models import SklearnAdapter, get_adapter
from ..utils._arrays import take_rows
from ..utils._sparse import is_sparse, sparse_embedding

_SEED_MAX = np.iinfo(np.int32).max


def draw_seed(random_state):
    """An int seed drawn from a ``RandomState`` (for torch generators)."""
    return int(random_state.randint(_SEED_MAX))


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


def pool_and_labeled_embeddings(
    strategy,
    learner,
    X,
    candidates,
    *,
    layer=None,
    raw_without_model=False,
    lazy=False,
):
    """Embeddings of the candidates and of the labeled set, on one device.

    Returns ``(emb, emb_labeled)`` as float32 tensors (``emb_labeled`` is None
    without a labeled set). With ``raw_without_model`` and no fitted model the
    flattened rows of ``X`` are the embeddings (cold start). With ``lazy``
    (for the streaming kernels) ``emb`` may be a lazy view of an out-of-core
    pool (see :meth:`skal.models.SklearnAdapter.embed`).
    """
    X_lab, _ = labeled_set(learner)
    if raw_without_model and not has_model(learner):
        emb = raw_features(X, candidates)
        lab = raw_features(X_lab, owner=X) if X_lab is not None else None
        return emb, lab
    adapter = get_adapter(learner, strategy=strategy)
    kw = lazy_kwargs(adapter, lazy)
    emb = adapter.embed(X, candidates, layer=layer, as_tensor=True, **kw)
    lab = None
    if X_lab is not None:
        lab = adapter.embed(X_lab, layer=layer, as_tensor=True).to(emb.device)
    return emb, lab


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
