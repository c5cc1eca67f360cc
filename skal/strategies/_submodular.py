"""Submodular selection on embeddings: facility location and submodular
mutual information with a query set (SIMILAR).

Similarities are computed block by block from the embeddings (never an
``N x N`` matrix): ``exp(-gamma * ||x - y||^2)`` with ``gamma`` the inverse
mean pairwise squared distance of the candidates (``metric="rbf"``), or
``(1 + cos(x, y)) / 2`` (``metric="cosine"``); both lie in ``[0, 1]``.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._kernels import default_chunk_size
from ..base import BaseStrategy, top_k
from ..models import get_adapter
from ._common import (
    EMBEDDING_CONSTRAINT,
    NORMALIZE_CONSTRAINT,
    embed_rows,
    labeled_set,
    pool_and_labeled_embeddings,
)

__all__ = ["FacilityLocation", "SubmodularMutualInformation"]

_METRIC = {
    "metric": [StrOptions({"rbf", "cosine"})],
    "layer": [str, None],
    **EMBEDDING_CONSTRAINT,
    **NORMALIZE_CONSTRAINT,
}


class _Similarity:
    """Block similarities ``s(A, B)`` in [0, 1] for one metric and scale."""

    def __init__(self, emb, metric):
        self.metric = metric
        if metric == "cosine":
            self.gamma = None
        else:
            # mean pairwise squared distance = 2 * mean squared distance to
            # the mean: O(N D), permutation invariant.
            e = emb.to(torch.float64)
            spread = 2.0 * float(((e - e.mean(0)) ** 2).sum(1).mean())
            self.gamma = 1.0 / spread if spread > 0 else 1.0

    def prepare(self, A):
        """Rows in the form ``__call__`` wants (normalised or with norms)."""
        A = A.to(torch.float32)
        if self.metric == "cosine":
            n = A.norm(dim=1, keepdim=True)
            return (A / torch.where(n > 0, n, torch.ones_like(n)),)
        return A, (A * A).sum(1)

    def __call__(self, a, b):
        if self.metric == "cosine":
            return (a[0] @ b[0].T).add_(1.0).mul_(0.5).clamp_(0.0, 1.0)
        d2 = torch.addmm(b[1][None, :], a[0], b[0].T, beta=1.0, alpha=-2.0)
        d2.add_(a[1][:, None]).clamp_min_(0.0)
        return d2.mul_(-self.gamma).exp_()


def _rows(p, s, e):
    return tuple(t[s:e] for t in p)


def _take(p, idx):
    return tuple(t.index_select(0, idx) for t in p)


def _max_sim(sim, targets, sources, out=None):
    """``max_j s(targets_i, sources_j)`` for every target (0 without sources)."""
    N = targets[0].shape[0]
    device = targets[0].device
    if out is None:
        out = torch.zeros(N, device=device)
    if sources is None or sources[0].shape[0] == 0:
        return out
    rows = default_chunk_size(N, sources[0].shape[0], device)
    for s in range(0, N, rows):
        e = min(N, s + rows)
        torch.maximum(
            out[s:e], sim(_rows(targets, s, e), sources).amax(1), out=out[s:e]
        )
    return out


def _greedy_coverage(sim, cand, reps, covered, n, keys, modular=None, eta=1.0):
    """Greedy maximisation of ``sum_r max(covered_r, max_{a in A} s(r, a))``
    plus ``eta * modular`` per pick, lazily (Minoux, 1978).

    Gains only shrink as the selection grows (submodularity), so a gain
    computed at an earlier step bounds the current one: each step evaluates
    the rows with the largest bounds, in blocks of doubling size, until no
    bound beats the best exact gain. The result is the plain greedy one (ties
    broken by ``keys``) at a fraction of its ``n N R D`` cost. Memory
    ``O(N + chunk * R)``.
    """
    N = cand[0].shape[0]
    device = cand[0].device
    R = reps[0].shape[0]
    block_max = default_chunk_size(N, R, device)
    f64 = torch.float64
    ub = torch.full((N,), torch.inf, dtype=f64, device=device)
    taken = torch.zeros(N, dtype=torch.bool, device=device)
    fresh = torch.zeros(N, dtype=torch.bool, device=device)
    no_key = torch.full_like(keys, -1.0)
    picks = []
    while len(picks) < n:
        fresh.zero_()
        best, b = -np.inf, min(64, block_max)
        while True:
            open_ = ~taken & ~fresh
            count = int(open_.sum())
            if count == 0:
                break
            top_ub, top = torch.topk(torch.where(open_, ub, -torch.inf), min(b, count))
            if float(top_ub[0]) < best:
                break
            if modular is None and best <= 0 and float(top_ub[0]) <= 0:
                break  # nothing left to gain
            g = sim(_take(cand, top), reps).sub_(covered[None, :]).clamp_min_(0.0)
            g = g.sum(1, dtype=f64)
            if modular is not None:
                g.add_(modular.index_select(0, top), alpha=eta)
            ub[top] = g
            fresh[top] = True
            best = max(best, float(g.max()))
            b = min(2 * b, block_max)
        if best <= 0 and modular is None:
            # every remaining gain is 0: the rest in tie-breaking order
            rest = torch.nonzero(~taken).reshape(-1)
            rest = rest[torch.argsort(keys[rest], descending=True)]
            picks.extend(rest[: n - len(picks)].tolist())
            break
        j = torch.argmax(torch.where(fresh & ~taken & (ub == best), keys, no_key))
        picks.append(int(j))
        taken[j] = True
        covered = torch.maximum(covered, sim(reps, _take(cand, j.reshape(1)))[:, 0])
    return np.asarray(picks, dtype=np.intp)


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
        "n_representatives": [Interval(Integral, 1, None, closed="left"), None],
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
        emb, lab = pool_and_labeled_embeddings(
            self,
            learner,
            X,
            candidates,
            layer=self.layer,
            embedding=self.embedding,
            normalize=self.normalize,
        )
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
