"""Submodular selection on embeddings: facility location and submodular
mutual information with a query set (SIMILAR).

Similarities are computed block by block from the embeddings (never an
``N x N`` matrix): ``exp(-gamma * ||x - y||^2)`` with ``gamma`` the inverse
mean pairwise squared distance of the candidates (``metric="rbf"``), or
``(1 + cos(x, y)) / 2`` (``metric="cosine"``); both lie in ``[0, 1]``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._kernels import default_chunk_size
from .._kernels._submodular import (
    _greedy_coverage,
    _max_sim,
    _rows,
    _Similarity,
    _take,
)
from ..base import BaseStrategy, top_k
from ..models import get_adapter
from ..utils._validation import Count
from ._common import (
    EMBEDDING_CONSTRAINT,
    NORMALIZE_CONSTRAINT,
    embed_rows,
    labeled_set,
    strategy_embeddings,
)

__all__ = ["FacilityLocation", "SubmodularMutualInformation"]

_METRIC = {
    "metric": [StrOptions({"rbf", "cosine"})],
    "layer": [str, None],
    **EMBEDDING_CONSTRAINT,
    **NORMALIZE_CONSTRAINT,
}


class FacilityLocation(BaseStrategy):
    """Greedy facility location: the batch that best represents the pool.

    Maximises ``f(A) = sum_{r in V} max(c_r, max_{a in A} s(r, a))`` where
    ``V`` are representative rows of the candidates and ``c_r`` how well the
    labeled rows already represent ``r`` (so picks go to what the labels do
    not cover yet). Greedy selection reaches ``(1 - 1/e)`` of the optimum of
    this monotone submodular function. Wei, Iyer & Bilmes, "Submodularity in
    Data Subset Selection and Active Learning", ICML 2015; Kothawade et al.,
    "SIMILAR", NeurIPS 2021.

    Not deterministic: the representatives of a large pool are a random
    sample, and the gains of two candidates that only cover each other tie
    exactly (ties are broken by ``random_state``).

    Parameters
    ----------
    n_representatives : int, default=1000
        Size of ``V``: the candidates when there are no more, else a random
        sample of them. None: all candidates (time ``O(n N^2 D)``).
    metric : {"rbf", "cosine"}, default="rbf"
        Similarity (see the module docstring).
    layer : str, default=None
        Where embeddings are taken (see :class:`~skal.strategies.CoreSet`).
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of the similarities (see :class:`~skal.strategies.CoreSet`).
    normalize : bool, default=True
        Measure similarities between L2-normalised embeddings (see
        :class:`~skal.strategies.CoreSet`; ``metric="cosine"`` is
        normalised anyway).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import FacilityLocation
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1])
    >>> fl = FacilityLocation(normalize=False)
    >>> sel = fl(clf, X, n_instances=2, random_state=0)
    >>> (X[sel, 0] > 1).tolist()  # one row from each cluster
    [True, False]
    """

    _parameter_constraints = {
        "n_representatives": [Count(1), None],
        **_METRIC,
    }

    def __init__(
        self,
        n_representatives=1000,
        metric="rbf",
        layer=None,
        embedding="model",
        normalize=True,
    ):
        self.n_representatives = n_representatives
        self.metric = metric
        self.layer = layer
        self.embedding = embedding
        self.normalize = normalize

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        emb, lab = strategy_embeddings(self, learner, X, candidates)
        N = emb.shape[0]
        keys = torch.as_tensor(random_state.random_sample(N), device=emb.device)
        sim = _Similarity(emb, self.metric)
        cand = sim.prepare(emb)
        if self.n_representatives is not None and N > self.n_representatives:
            idx = random_state.choice(N, self.n_representatives, replace=False)
            reps = _take(cand, torch.as_tensor(idx, device=emb.device))
        else:
            reps = cand
        covered = _max_sim(sim, reps, sim.prepare(lab) if lab is not None else None)
        pos = _greedy_coverage(sim, cand, reps, covered, n_instances, keys)
        return candidates[pos]


class SubmodularMutualInformation(BaseStrategy):
    """Targeted selection: submodular mutual information with a query set.

    Picks rows similar to a *query set* ``Q`` (e.g. the few labeled examples
    of a rare class) while keeping the batch diverse, by greedy maximisation
    of a submodular mutual information ``I_f(A; Q)`` (SIMILAR: Kothawade,
    Beck, Killamsetty & Iyer, "SIMILAR: Submodular Information Measures
    Based Active Learning in Realistic Scenarios", NeurIPS 2021):

    * ``"flqmi"`` (facility-location QMI): ``sum_{q in Q} max_{a in A}
      s(q, a) + eta * sum_{a in A} max_{q in Q} s(a, q)``;
    * ``"gcmi"`` (graph-cut MI): ``sum_{a in A} sum_{q in Q} s(a, q)``,
      modular, so the top-``n`` rows by total similarity to ``Q``.

    The query set is ``query_set`` (rows in the format of ``X``), and/or the
    labeled rows whose label is in ``query_classes``; with neither, the
    labeled rows of the rarest labeled class(es), the rare-class setting of
    the paper. It is embedded with the model like the candidates.

    A targeted strategy, not a general-purpose one: it spends the batch near
    the query set. On a long-tailed pool its picks favour the rare classes
    (the paper's claim); on a balanced pool they crowd into a few classes,
    and over learning curves its accuracy stayed below random sampling's.
    The measurements: ``benchmarks/results/strategies/picks_smi.md`` (one
    round's picks) and ``benchmarks/results/strategies/smi.md`` (learning
    curves, paired intervals).

    Deterministic (ties broken by ``random_state``).

    Parameters
    ----------
    query_set : array-like of shape (n_query, ...), default=None
        Rows that describe the target.
    query_classes : array-like of labels, default=None
        Labeled rows of these classes join the query set.
    function : {"flqmi", "gcmi"}, default="flqmi"
        The mutual information maximised.
    eta : float, default=1.0
        Weight of the query-relevance term of ``"flqmi"``.
    metric : {"rbf", "cosine"}, default="rbf"
        Similarity (see the module docstring).
    layer : str, default=None
        Where embeddings are taken (see :class:`~skal.strategies.CoreSet`).
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of the similarities (see :class:`~skal.strategies.CoreSet`).
    normalize : bool, default=True
        Measure similarities between L2-normalised embeddings (see
        :class:`~skal.strategies.CoreSet`; ``metric="cosine"`` is
        normalised anyway).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import SubmodularMutualInformation
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1], [9.0], [9.1]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1, 2, 2])
    >>> smi = SubmodularMutualInformation(query_set=[[9.05]], normalize=False)
    >>> sorted(smi(clf, X, n_instances=2, random_state=0).tolist())
    [4, 5]
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.deterministic = True
        return tags

    _parameter_constraints = {
        "query_set": ["array-like", None],
        "query_classes": ["array-like", None],
        "function": [StrOptions({"flqmi", "gcmi"})],
        "eta": [Interval(Real, 0, None, closed="left")],
        **_METRIC,
    }

    def __init__(
        self,
        query_set=None,
        *,
        query_classes=None,
        function="flqmi",
        eta=1.0,
        metric="rbf",
        layer=None,
        embedding="model",
        normalize=True,
    ):
        self.query_set = query_set
        self.query_classes = query_classes
        self.function = function
        self.eta = eta
        self.metric = metric
        self.layer = layer
        self.embedding = embedding
        self.normalize = normalize

    def _query_rows(self, learner):
        X_lab, y_lab = labeled_set(learner)
        parts = []
        if self.query_set is not None:
            parts.append(("rows", self.query_set))
        if y_lab is not None and (
            self.query_classes is not None or self.query_set is None
        ):
            if self.query_classes is not None:
                mask = np.isin(y_lab, np.asarray(self.query_classes))
            else:
                classes, counts = np.unique(y_lab, return_counts=True)
                mask = np.isin(y_lab, classes[counts == counts.min()])
            if mask.any():
                parts.append(("labeled", np.flatnonzero(mask)))
        if not parts:
            raise ValueError(
                f"{type(self).__name__} has an empty query set: pass "
                "'query_set' (rows like X), or 'query_classes' with labels "
                "present in the learner's labeled set (got query_classes="
                f"{self.query_classes!r})."
            )
        return parts, X_lab

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        parts, X_lab = self._query_rows(learner)
        adapter = None
        if isinstance(self.embedding, str) and self.embedding == "model":
            adapter = get_adapter(learner, strategy=self)
        kw = dict(
            embedding=self.embedding,
            layer=self.layer,
            normalize=self.normalize,
            adapter=adapter,
            owner=X,
        )
        emb = embed_rows(self, learner, X, candidates, **kw)
        q = []
        for kind, rows in parts:
            if kind == "rows":
                q.append(embed_rows(self, learner, rows, **kw))
            else:
                q.append(embed_rows(self, learner, X_lab, rows, **kw))
        Q = torch.cat([t.to(emb.device) for t in q])
        if Q.shape[1] != emb.shape[1]:
            raise ValueError(
                f"The query set of {type(self).__name__} embeds to {Q.shape[1]} "
                f"features but the candidates to {emb.shape[1]}; 'query_set' "
                "must hold rows in the format of X."
            )
        N = emb.shape[0]
        keys = torch.as_tensor(random_state.random_sample(N), device=emb.device)
        sim = _Similarity(emb, self.metric)
        cand, qp = sim.prepare(emb), sim.prepare(Q)
        relevance = _max_sim(sim, cand, qp).to(torch.float64)
        if self.function == "gcmi":
            total = torch.zeros(N, dtype=torch.float64, device=emb.device)
            rows = default_chunk_size(N, Q.shape[0], emb.device)
            for s in range(0, N, rows):
                total[s : s + rows] = sim(_rows(cand, s, s + rows), qp).sum(
                    1, dtype=torch.float64
                )
            return candidates[top_k(total.cpu().numpy(), n_instances, random_state)]
        covered = torch.zeros(Q.shape[0], device=emb.device)
        pos = _greedy_coverage(
            sim,
            cand,
            qp,
            covered,
            n_instances,
            keys,
            modular=relevance,
            eta=float(self.eta),
        )
        return candidates[pos]
