"""Diversity strategies on embeddings: CoreSet, KMeansSampling, BADGE and
ClusterMargin.

Embeddings come from the model adapters (a net's penultimate layer, a
pipeline's transformers, else ``X``) as float32 tensors on the model's
device, and the selection runs there with the torch kernels of
:mod:`skal._kernels` (chunked, no ``N x N`` or ``N x B`` matrix).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from .._kernels import badge_kmeans_pp, k_center_greedy, kmeans, nearest_to_centers
from ..base import BaseStrategy
from ..models import get_adapter
from ..utils._validation import Count
from ._common import (
    EMBEDDING_CONSTRAINT,
    NORMALIZE_CONSTRAINT,
    draw_seed,
    embed_rows,
    lazy_kwargs,
    strategy_embeddings,
    strategy_rows,
    uniforms,
)
from ._uncertainty import margin_score

__all__ = ["CoreSet", "KMeansSampling", "BADGE", "ClusterMargin"]

_LAYER = {"layer": [str, None], **EMBEDDING_CONSTRAINT}
_SPACE = {**_LAYER, **NORMALIZE_CONSTRAINT}


class CoreSet(BaseStrategy):
    """Greedy k-center selection from the labeled set (core-set approach).

    Each pick is the candidate farthest, in embedding space, from the labeled
    rows and the rows picked so far: the 2-approximation of the k-center
    problem, which bounds the core-set loss. Sener & Savarese, "Active
    Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR
    2018.

    Deterministic (up to exact distance ties) when the learner has labeled
    rows; without any, the first pick is drawn from ``random_state``.

    Parameters
    ----------
    layer : str, default=None
        Where embeddings are taken (see :meth:`~skal.models.SkorchAdapter.embed`):
        a submodule name of a net, a transformer step of a pipeline. None: the
        input of the net's last ``nn.Linear`` / a pipeline's transformers / ``X``.
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of the distances. ``"model"``: the model's embeddings (see
        ``layer``). ``"input"``: the rows of ``X`` flattened (sparse rows
        projected, never densified). A fitted transformer (has ``transform``:
        a PCA, a self-supervised encoder; wrap it in
        :class:`sklearn.frozen.FrozenEstimator` so that ``clone`` and
        ``GridSearchCV`` keep it fitted) or a callable ``f(X_rows) -> array``:
        its output, flattened to 2-D.
    normalize : bool, default=True
        Scale every embedding to unit L2 norm before measuring distances.
        A penultimate layer's norm can follow the class (post-ReLU features
        grow with the input's amplitude), and farthest-first selection then
        takes the high-norm tail of one or two classes; on the unit sphere
        distances compare directions. ``False``: the raw embedding (the
        selection before this option existed); the user guide's
        representations page shows the measured effect.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal import ActiveLearner
    >>> from skal.strategies import CoreSet
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [9.0]])
    >>> learner = ActiveLearner(LogisticRegression(),
    ...                         strategy=CoreSet(normalize=False),
    ...                         n_instances=2).fit(X, [0, 1, -1, -1, -1])
    >>> learner.query().tolist()  # the far rows first
    [4, 3]
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.deterministic = True
        return tags

    _parameter_constraints = dict(_SPACE)

    def __init__(self, layer=None, embedding="model", normalize=True):
        self.layer = layer
        self.embedding = embedding
        self.normalize = normalize

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        emb, lab = strategy_embeddings(self, learner, X, candidates, lazy=True)
        pos = k_center_greedy(
            emb, n_instances, init=lab, random_state=draw_seed(random_state)
        )
        return candidates[pos.numpy()]


class KMeansSampling(BaseStrategy):
    """Cluster the candidates' embeddings and take the row nearest each center.

    k-means with ``n_instances`` clusters (k-means++ seeds, Lloyd
    iterations, on the model's device); each cluster contributes its member
    nearest to the center. When clusters come out empty (duplicated rows),
    the remaining picks are completed by k-center greedy from the picks.
    A standard diversity baseline of deep active learning (e.g. Zhan et al.,
    "A Comparative Survey of Deep Active Learning", 2022).

    Not deterministic: the k-means seeding comes from ``random_state``.

    Parameters
    ----------
    n_iter : int, default=10
        Maximum Lloyd iterations.
    layer : str, default=None
        Where embeddings are taken (see :class:`CoreSet`).
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of the clustering (see :class:`CoreSet`).
    normalize : bool, default=True
        Cluster L2-normalised embeddings (see :class:`CoreSet`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import KMeansSampling
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [9.0]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1, 1])
    >>> km = KMeansSampling(normalize=False)
    >>> sorted(km(clf, X, n_instances=3, random_state=0).tolist())
    [1, 4, 6]
    """

    _parameter_constraints = {
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        **_SPACE,
    }

    def __init__(self, n_iter=10, layer=None, embedding="model", normalize=True):
        self.n_iter = n_iter
        self.layer = layer
        self.embedding = embedding
        self.normalize = normalize

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        emb = strategy_rows(self, learner, X, candidates)
        labels, centers = kmeans(
            emb, n_instances, n_iter=self.n_iter, random_state=draw_seed(random_state)
        )
        pos = nearest_to_centers(emb, labels, centers)
        if pos.numel() < n_instances:
            rest = torch.ones(emb.shape[0], dtype=torch.bool, device=emb.device)
            rest[pos] = False
            rest_idx = torch.nonzero(rest).reshape(-1)
            more = k_center_greedy(
                emb.index_select(0, rest_idx),
                n_instances - pos.numel(),
                init=emb.index_select(0, pos),
            )
            pos = torch.cat([pos, rest_idx[more.to(emb.device)]])
        return candidates[pos.cpu().numpy()]


class BADGE(BaseStrategy):
    """Batch Active learning by Diverse Gradient Embeddings.

    k-means++ seeding on the last-layer gradient embeddings ``g_i = (p_i -
    onehot(argmax p_i)) (x) h_i``, which are large for uncertain rows and
    spread out for diverse ones. The ``N x (n_classes * D)`` gradient matrix
    is never built: the adapter returns ``p`` and ``h`` and the kernel gets
    squared distances from ``||p||``, ``||h||`` and ``(p_i.p_j)(h_i.h_j)``
    (:func:`skal._kernels.badge_kmeans_pp`). Ash, Zhang, Krishnamurthy,
    Langford & Agarwal, "Deep Batch Active Learning by Diverse, Uncertain
    Gradient Lower Bounds", ICLR 2020.

    Not deterministic: the D^2 draws come from ``random_state`` (drawn with
    numpy, so CPU and GPU runs pick the same rows). The first pick is the row
    with the largest gradient norm.

    Parameters
    ----------
    layer : str, default=None
        Where ``h`` is taken: the input of the net's last ``nn.Linear`` (the
        output layer, for which ``g`` is the exact gradient), a named
        submodule, or a pipeline's transformers.
    embedding : {"model", "input"}, transformer or callable, default="model"
        Where ``h`` is taken (see :class:`CoreSet`); ``g`` is the exact
        gradient only for ``"model"`` with the default ``layer``.

    Notes
    -----
    BADGE does not L2-normalise (it has no ``normalize``): the norm of the
    gradient embedding, ``||p - onehot|| * ||h||``, is its uncertainty
    signal, and the distance strategies' normalisation would erase it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import BADGE
    >>> X = np.array([[0.0], [0.4], [0.5], [0.6], [1.0]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1, 1])
    >>> BADGE()(clf, X, n_instances=2, random_state=0).shape
    (2,)
    """

    _parameter_constraints = dict(_LAYER)

    def __init__(self, layer=None, embedding="model"):
        self.layer = layer
        self.embedding = embedding

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        adapter = get_adapter(learner, strategy=self)
        if isinstance(self.embedding, str) and self.embedding == "model":
            proba, emb = adapter.grad_embedding_factors(
                X, candidates, layer=self.layer, as_tensor=True, **lazy_kwargs(adapter)
            )
        else:
            proba = adapter.predict_proba(X, candidates, as_tensor=True)
            emb = embed_rows(self, learner, X, candidates, embedding=self.embedding)
        pos = badge_kmeans_pp(
            proba, emb, n_instances, uniforms=uniforms(random_state, n_instances)
        )
        return candidates[pos.numpy()]


class ClusterMargin(BaseStrategy):
    """Margin-ranked candidates, picked round-robin over embedding clusters.

    Keeps the ``margin_factor * n_instances`` candidates with the smallest
    margin, clusters their embeddings (k-means, ``n_clusters`` clusters) and
    visits the clusters from smallest to largest, taking one random member of
    each per round, until ``n_instances`` are picked. Citovsky, DeSalvo,
    Gentile, Karydas, Rajagopalan, Rostamizadeh & Kumar, "Batch Active
    Learning at Scale", NeurIPS 2021. The paper clusters the whole pool once
    (agglomerative clustering); a stateless strategy clusters the margin
    candidates at each query instead, which is far cheaper.

    Not deterministic: clustering and the picks within a cluster come from
    ``random_state``.

    Parameters
    ----------
    margin_factor : float, default=10.0
        Candidates kept by margin, as a multiple of ``n_instances`` (>= 1).
    n_clusters : int, default=None
        Clusters of the margin candidates; None uses ``n_instances``.
    layer : str, default=None
        Where embeddings are taken (see :class:`CoreSet`).
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of the clustering (see :class:`CoreSet`).
    normalize : bool, default=True
        Cluster L2-normalised embeddings (see :class:`CoreSet`).

    Examples
    --------
    >>> from skal.strategies import ClusterMargin
    >>> ClusterMargin(margin_factor=5)
    ClusterMargin(margin_factor=5)
    """

    _parameter_constraints = {
        "margin_factor": [Interval(Real, 1, None, closed="left")],
        "n_clusters": [Count(1), None],
        **_SPACE,
    }

    def __init__(
        self,
        margin_factor=10.0,
        n_clusters=None,
        layer=None,
        embedding="model",
        normalize=True,
    ):
        self.margin_factor = margin_factor
        self.n_clusters = n_clusters
        self.layer = layer
        self.embedding = embedding
        self.normalize = normalize

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        from ..base import top_k

        adapter = get_adapter(learner, strategy=self)
        scores = margin_score(adapter.predict_proba(X, candidates))
        keep = min(
            candidates.shape[0],
            max(n_instances, int(np.ceil(self.margin_factor * n_instances))),
        )
        kept = top_k(scores, keep, random_state)
        emb = strategy_rows(
            self, learner, X, candidates[kept], adapter=adapter, owner=X
        )
        K = self.n_clusters or n_instances
        labels, _ = kmeans(emb, K, random_state=draw_seed(random_state))
        labels = labels.cpu().numpy()
        # round-robin over clusters, smallest first, a random member each time
        sizes = np.bincount(labels, minlength=K)
        order = np.lexsort((random_state.random_sample(K), sizes))
        order = order[sizes[order] > 0]
        members = [random_state.permutation(np.flatnonzero(labels == c)) for c in order]
        rank = np.empty(keep, dtype=np.int64)  # round of each member
        slot = np.empty(keep, dtype=np.int64)  # cluster's place in the order
        for place, m in enumerate(members):
            rank[m] = np.arange(m.size)
            slot[m] = place
        chosen = np.lexsort((slot, rank))[:n_instances]
        return candidates[kept[chosen]]
