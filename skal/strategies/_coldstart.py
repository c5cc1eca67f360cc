"""Cold-start strategies for small budgets: TypiClust and ProbCover.

Both select *typical* rows that cover the data, which beats uncertainty when
few labels exist. They read embeddings only, so they also run before any
model exists (``initial_strategy``): the flattened rows of ``X`` are then the
embeddings — pass self-supervised features as ``X`` for the best results, as
the papers do.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._kernels import knn, radius_graph, typiclust
from ..base import BaseStrategy
from ..utils._validation import Count
from ._common import (
    EMBEDDING_CONSTRAINT,
    NORMALIZE_CONSTRAINT,
    draw_seed,
    labeled_set,
    strategy_embeddings,
)
from ._purity import purity_radius

__all__ = ["TypiClust", "ProbCover"]

_MAX_CLUSTERS = 500  # as in the TypiClust reference code


class TypiClust(BaseStrategy):
    """The most typical row of each cluster not yet covered by labels.

    The candidates' embeddings are clustered into ``len(labeled) +
    n_instances`` clusters (k-means, at most 500); the clusters holding the
    fewest labeled rows (largest first) each give their most typical member,
    typicality being the inverse mean distance to the ``n_neighbors``
    nearest neighbours within the cluster. Hacohen, Dekel & Weinshall,
    "Active Learning on a Budget: Opposite Strategies Suit High and Low
    Budgets", ICML 2022. Runs with :func:`skal._kernels.typiclust`.

    Needs no model (the rows of ``X`` are the embeddings until one is fitted),
    so it can be the ``initial_strategy``. Not deterministic: k-means seeding
    comes from ``random_state``.

    Parameters
    ----------
    n_neighbors : int, default=20
        Neighbours of the typicality (clipped to the cluster size - 1).
    n_clusters : int, default=None
        Number of clusters; None uses ``min(len(labeled) + n_instances, 500)``
        as the reference implementation (beyond 500 clusters, clusters are
        visited round-robin).
    layer : str, default=None
        Where embeddings are taken once a model exists (see
        :class:`~skal.strategies.CoreSet`).
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of the clustering (see :class:`~skal.strategies.CoreSet`);
        ``"model"`` falls back to ``"input"`` while no model is fitted. The
        paper uses self-supervised features: pass a fitted encoder.
    normalize : bool, default=True
        Work on L2-normalised embeddings (as the paper's self-supervised
        features are; see :class:`~skal.strategies.CoreSet`).

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import TypiClust
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> sorted(TypiClust(n_neighbors=2, normalize=False)(
    ...     None, X, n_instances=2, random_state=0).tolist())
    [1, 4]
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.requires_model = False
        return tags

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_clusters": [Interval(Integral, 1, None, closed="left"), None],
        "layer": [str, None],
        **EMBEDDING_CONSTRAINT,
        **NORMALIZE_CONSTRAINT,
    }

    def __init__(
        self,
        n_neighbors=20,
        n_clusters=None,
        layer=None,
        embedding="model",
        normalize=True,
    ):
        self.n_neighbors = n_neighbors
        self.n_clusters = n_clusters
        self.layer = layer
        self.embedding = embedding
        self.normalize = normalize

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        emb, lab = strategy_embeddings(
            self, learner, X, candidates, raw_without_model=True
        )
        n_clusters = self.n_clusters
        if n_clusters is None:
            n_labeled = 0 if lab is None else lab.shape[0]
            n_clusters = min(n_labeled + n_instances, _MAX_CLUSTERS)
        pos = typiclust(
            emb,
            n_instances,
            init=lab,
            k=self.n_neighbors,
            n_clusters=n_clusters,
            random_state=draw_seed(random_state),
        )
        return candidates[pos.numpy()]


def _auto_radius(emb, n_neighbors, random_state, max_queries=2000):
    """Median distance to the ``n_neighbors``-th neighbour (on a subsample)."""
    N = emb.shape[0]
    k = min(n_neighbors, N - 1)
    if k < 1:
        return 1.0
    if N > max_queries:
        rows = torch.as_tensor(
            random_state.choice(N, max_queries, replace=False), device=emb.device
        )
        d, _ = knn(emb.index_select(0, rows), k + 1, Y=emb)  # includes itself
        kth = d[:, k]
    else:
        d, _ = knn(emb, k)
        kth = d[:, k - 1]
    r = float(kth.median())
    if r <= 0:  # mostly duplicated rows: the scale of the distinct ones
        positive = kth[kth > 0]
        r = float(positive.median()) if positive.numel() else 1.0
    return r


class ProbCover(BaseStrategy):
    """Greedy maximum coverage of the data by balls of radius ``radius``.

    Each pick is the candidate whose ``radius``-ball covers the most rows not
    yet covered by the labeled rows and earlier picks (the greedy
    (1 - 1/e)-approximation of max coverage on the radius graph). Yehuda,
    Dekel, Hacohen & Weinshall, "Active Learning Through a Covering Lens",
    NeurIPS 2022. The graph comes from :func:`skal._kernels.radius_graph`
    (``O(N^2 D)`` time, memory proportional to the edges): use it on pools
    of up to ~10^5 rows, or narrow the candidates first.

    Needs no model (the rows of ``X`` are the embeddings until one is
    fitted). Not deterministic: integer coverage ties are broken by
    ``random_state``; once nothing is left to cover, picks are random.
    Duplicated rows are within any radius of each other: ``m`` copies of a
    row add ``m^2`` edges.

    Parameters
    ----------
    radius : float, "purity" or None, default=None
        Ball radius in embedding space. ``"purity"`` is the paper's rule: the
        largest radius at which a fraction ``purity`` of the balls are pure
        (all their rows share the ball centre's k-means pseudo-label, with
        ``n_classes`` clusters). None uses the median distance of a row to
        its ``n_neighbors``-th nearest neighbour, a proxy that gives every
        ball about that many rows; it stays the default because it needs no
        number of classes, so it also runs before any label exists, and on
        SimCLR features at 1-2 labels per class it did at least as well as
        the purity radius (``benchmarks/results/cold_start/``).
    n_neighbors : int, default=10
        Sets the default radius (see ``radius``).
    layer : str, default=None
        Where embeddings are taken once a model exists (see
        :class:`~skal.strategies.CoreSet`).
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of the balls (see :class:`~skal.strategies.CoreSet`);
        ``"model"`` falls back to ``"input"`` while no model is fitted. The
        paper uses self-supervised features: pass a fitted encoder.
    normalize : bool, default=True
        Work on L2-normalised embeddings (as the paper's self-supervised
        features are; see :class:`~skal.strategies.CoreSet`); a given
        ``radius`` is then a distance on the unit sphere (at most 2).
    purity : float in (0, 1], default=0.95
        The fraction of pure balls of ``radius="purity"`` (the paper's alpha).
    n_classes : int, default=None
        Clusters of the pseudo-labels of ``radius="purity"`` (the paper: the
        number of classes). None: the number of classes among the learner's
        labeled rows; an error when fewer than two are known (cold start
        from no labels: pass it).

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import ProbCover
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [9.0]])
    >>> sorted(ProbCover(radius=0.15, normalize=False)(
    ...     None, X, n_instances=2, random_state=0).tolist())
    [1, 4]
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.requires_model = False
        return tags

    _parameter_constraints = {
        "radius": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"purity"}),
            None,
        ],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "layer": [str, None],
        **EMBEDDING_CONSTRAINT,
        **NORMALIZE_CONSTRAINT,
        "purity": [Interval(Real, 0, 1, closed="right")],
        "n_classes": [Count(2), None],
    }

    def __init__(
        self,
        radius=None,
        n_neighbors=10,
        layer=None,
        embedding="model",
        normalize=True,
        purity=0.95,
        n_classes=None,
    ):
        self.radius = radius
        self.n_neighbors = n_neighbors
        self.layer = layer
        self.embedding = embedding
        self.normalize = normalize
        self.purity = purity
        self.n_classes = n_classes

    def _n_classes(self, learner):
        if self.n_classes is not None:
            return self.n_classes
        _, y = labeled_set(learner)
        known = 0 if y is None else len(np.unique(y))
        if known < 2:
            raise ValueError(
                "ProbCover(radius='purity') needs the number of classes for its "
                f"k-means pseudo-labels; the learner knows {known}. Pass "
                "n_classes=... (the paper uses the number of classes)."
            )
        return known

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        emb, lab = strategy_embeddings(
            self, learner, X, candidates, raw_without_model=True
        )
        N = emb.shape[0]
        device = emb.device
        r = self.radius
        if r is None:
            r = _auto_radius(emb, self.n_neighbors, random_state)
        elif r == "purity":
            r = purity_radius(
                emb,
                self._n_classes(learner),
                purity=self.purity,
                random_state=random_state,
            )
        uncovered = torch.ones(N, dtype=torch.bool, device=device)
        if lab is not None:
            d, _ = knn(emb, 1, Y=lab)
            uncovered &= d[:, 0] >= r
        row, col = radius_graph(emb, r)
        keep = uncovered[col]
        row, col = row[keep], col[keep]
        # random tie-breaking keys in [0, 0.5): coverage counts are integers
        keys = torch.as_tensor(random_state.random_sample(N) * 0.5, device=device)
        taken = torch.zeros(N, dtype=torch.bool, device=device)
        picks = torch.empty(n_instances, dtype=torch.long, device=device)
        for i in range(n_instances):
            gain = torch.bincount(row, minlength=N).to(keys.dtype)
            gain += uncovered.to(keys.dtype) + keys
            gain.masked_fill_(taken, -1.0)
            j = torch.argmax(gain)
            picks[i] = j
            taken[j] = True
            newly = col[row == j]
            uncovered[newly] = False
            uncovered[j] = False
            keep = uncovered[col]
            row, col = row[keep], col[keep]
        return candidates[picks.cpu().numpy()]
