"""Out-of-distribution-aware filtering before an uncertainty step (POAL's idea).

Uncertainty sampling loves out-of-distribution rows (they are uncertain and
useless to label). :class:`OODFilter` drops the candidates that look most
out-of-distribution, so the next pipeline step only sees plausible rows:
``OODFilter(contamination=0.2) | MarginSampling()``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._kernels import default_chunk_size, knn
from ..base import BaseStrategy, top_k
from ..models import get_adapter
from ..utils._validation import Count
from ._common import EMBEDDING_CONSTRAINT, embed_rows, labeled_set

__all__ = ["OODFilter", "energy_score", "mahalanobis_score"]


def energy_score(logits, *, temperature=1.0):
    """Free energy ``-T logsumexp(z / T)``; higher means more likely OOD.

    Liu, Wang, Owens & Li, "Energy-based Out-of-distribution Detection",
    NeurIPS 2020.

    Parameters
    ----------
    logits : array-like or tensor of shape (n_samples, n_classes)
    temperature : float, default=1.0

    Returns
    -------
    scores : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from skal.strategies import energy_score
    >>> energy_score([[10.0, 0.0], [0.1, 0.0]]).round(3)
    array([-10.   ,  -0.744])
    """
    z = torch.as_tensor(logits, dtype=torch.float64)
    if z.ndim != 2:
        raise ValueError(
            "The 'logits' parameter must be a 2-D array of shape (n_samples, "
            f"n_classes). Got shape {tuple(z.shape)} instead."
        )
    T = float(temperature)
    return (-T * torch.logsumexp(z / T, dim=1)).cpu().numpy()


def auto_threshold(scores, z=2.5, max_iter=50):
    """Largest in-distribution score of the iterated median/MAD outlier rule.

    ``median + z * 1.4826 * MAD`` (a robust mean plus ``z`` standard
    deviations; Leys, Ley, Klein, Bernard & Licata, "Detecting outliers: Do
    not use standard deviation around the mean, use absolute deviation around
    the median", J. Exp. Soc. Psychol. 2013, who recommend ``z = 2.5``),
    recomputed on the scores below the threshold until it stops moving: a
    large share of outliers inflates the first median and MAD, the iteration
    removes their pull. With a zero MAD (mostly tied scores), the median.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies._ood import auto_threshold
    >>> s = np.r_[np.linspace(1.0, 2.0, 60), np.full(40, 50.0)]
    >>> bool(2.0 <= auto_threshold(s) < 50.0)
    True
    """
    s = np.asarray(scores, dtype=np.float64)
    keep = np.ones(s.shape[0], dtype=bool)
    thr = np.inf
    for _ in range(max_iter):
        med = float(np.median(s[keep]))
        thr = med + z * 1.4826 * float(np.median(np.abs(s[keep] - med)))
        new = s <= thr
        if not new.any() or (new == keep).all():
            break
        keep = new
    return thr


def _precision_factor(resid):
    """``W`` with ``W W^T`` the inverse of a shrunk covariance of ``resid``."""
    from sklearn.covariance import ledoit_wolf

    R = resid.detach().cpu().to(torch.float64).numpy()
    D = R.shape[1]
    if R.shape[0] > 1 and np.any(R):
        cov, _ = ledoit_wolf(R, assume_centered=True)
    else:
        cov = np.zeros((D, D))
    scale = np.trace(cov) / D if D else 0.0
    cov = cov + max(1e-6 * scale, 1e-12) * np.eye(D)
    if scale == 0:
        cov = np.eye(D)
    L = np.linalg.cholesky(cov)
    # (x-mu)^T cov^-1 (x-mu) = ||L^-1 (x-mu)||^2: rows times W = L^-T
    W = np.linalg.solve(L, np.eye(D)).T
    return torch.as_tensor(W, dtype=torch.float32)


def mahalanobis_score(emb, emb_labeled, y_labeled):
    """Smallest Mahalanobis distance to a class mean of the labeled rows.

    Class-conditional Gaussians with a shared covariance (Ledoit-Wolf
    shrinkage, so a handful of labeled rows suffice) fitted on the labeled
    embeddings; the score is ``min_c (x - mu_c)^T S^-1 (x - mu_c)``, higher
    meaning more likely OOD. Lee, Lee, Lee & Shin, "A Simple Unified
    Framework for Detecting Out-of-Distribution Samples and Adversarial
    Attacks", NeurIPS 2018; the ID score of POAL.

    Parameters
    ----------
    emb : array-like or tensor of shape (n_samples, n_features)
    emb_labeled : array-like or tensor of shape (n_labeled, n_features)
    y_labeled : array-like of shape (n_labeled,)

    Returns
    -------
    scores : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import mahalanobis_score
    >>> lab = np.array([[0.0, 0.0], [0.2, 0.0], [5.0, 5.0], [5.2, 5.0]])
    >>> s = mahalanobis_score([[0.1, 0.0], [20.0, -20.0]], lab, [0, 0, 1, 1])
    >>> bool(s[1] > s[0])
    True
    """
    E = torch.as_tensor(emb).to(torch.float32)
    L = torch.as_tensor(emb_labeled).to(device=E.device, dtype=torch.float32)
    _, inv = np.unique(np.asarray(y_labeled), return_inverse=True)
    inv = torch.as_tensor(inv.reshape(-1), device=E.device)
    n_cls = int(inv.max()) + 1
    sums = torch.zeros(n_cls, L.shape[1], dtype=torch.float64, device=E.device)
    sums.index_add_(0, inv, L.to(torch.float64))
    counts = torch.bincount(inv, minlength=n_cls).to(torch.float64)
    means = (sums / counts[:, None]).to(torch.float32)
    W = _precision_factor(L - means.index_select(0, inv)).to(E.device)
    Mw = means @ W
    mn = (Mw * Mw).sum(1)
    N = E.shape[0]
    out = torch.empty(N, device=E.device)
    rows = default_chunk_size(N, max(E.shape[1], n_cls), E.device)
    for s in range(0, N, rows):
        Z = E[s : s + rows] @ W
        d2 = torch.addmm(mn[None, :], Z, Mw.T, beta=1.0, alpha=-2.0)
        d2.add_((Z * Z).sum(1, keepdim=True))
        out[s : s + rows] = d2.amin(1).clamp_min_(0.0)
    return out.cpu().numpy().astype(np.float64)


class OODFilter(BaseStrategy):
    """Drop the candidates most likely out-of-distribution.

    A pipeline step: ``OODFilter() | MarginSampling()`` scores every
    candidate for being out-of-distribution and passes on those whose score
    is not an outlier among the candidates' scores (``contamination="auto"``)
    or all but the ``contamination`` fraction that scores highest (always at
    least ``n_instances``), so the uncertainty step never spends labels on
    OOD rows. This is the idea of POAL (Zhan, Wang, Li & Chan, "Pareto
    Optimization for Active Learning under Out-of-Distribution Data
    Scenarios", TMLR 2023), which weighs an ID score against uncertainty; the
    filter makes it composable with any strategy. On its own it returns the
    ``n_instances`` most in-distribution candidates.

    Deterministic (ties broken by ``random_state``).

    Parameters
    ----------
    method : {"mahalanobis", "knn", "energy"}, default="mahalanobis"
        OOD score, higher meaning more likely OOD:

        * ``"mahalanobis"``: :func:`mahalanobis_score` of the embeddings to
          the labeled rows' classes (POAL's choice; needs a labeled set);
        * ``"knn"``: distance to the ``n_neighbors``-th nearest labeled
          embedding, embeddings scaled to unit norm (Sun, Ming, Zhu & Li,
          "Out-of-Distribution Detection with Deep Nearest Neighbors",
          ICML 2022; needs a labeled set);
        * ``"energy"``: :func:`energy_score` of a net's logits (constant for
          scikit-learn models, which expose no logits).
    contamination : "auto" or float in [0, 1), default="auto"
        Which candidates are dropped. ``"auto"``: those whose score lies more
        than ``2.5`` robust standard deviations above the candidates' median
        (``1.4826 * MAD``, iterated on the rows kept; :func:`auto_threshold`),
        the score being the Mahalanobis *distance* (the
        square root of :func:`mahalanobis_score`), the k-NN distance or the
        energy. It adapts to the share of OOD rows, which grows round after
        round as in-distribution rows get labeled; it assumes OOD rows are a
        minority of the candidates. A float: that fraction of the
        candidates, whatever their scores (the OOD rows beyond it reach the
        next step, which, if it is an uncertainty step, prefers them;
        ``benchmarks/results/claims/oodfilter.md`` measures it).
    n_neighbors : int, default=1
        Neighbour used by ``method="knn"``.
    layer : str, default=None
        Where embeddings are taken (see :class:`~skal.strategies.CoreSet`).
    embedding : {"model", "input"}, transformer or callable, default="model"
        The space of ``"mahalanobis"`` and ``"knn"`` (see
        :class:`~skal.strategies.CoreSet`).

    Examples
    --------
    >>> from skal.strategies import MarginSampling, OODFilter
    >>> pipe = OODFilter() | MarginSampling()
    >>> [name for name, _ in pipe.steps]
    ['oodfilter', 'marginsampling']
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.deterministic = True
        return tags

    _parameter_constraints = {
        "method": [StrOptions({"mahalanobis", "knn", "energy"})],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 1, closed="left"),
        ],
        "n_neighbors": [Count(1)],
        "layer": [str, None],
        **EMBEDDING_CONSTRAINT,
    }

    def __init__(
        self,
        method="mahalanobis",
        contamination="auto",
        n_neighbors=1,
        layer=None,
        embedding="model",
    ):
        self.method = method
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.layer = layer
        self.embedding = embedding

    def _narrow_size(self, n_final, n_candidates):
        dropped = int(np.floor(self.contamination * n_candidates))
        return min(n_candidates, max(n_final, n_candidates - dropped))

    def _narrow(self, learner, X, *, n_final, candidates, random_state):
        """The candidates passed on as a pipeline step (at least ``n_final``)."""
        self._check_params()
        rng = check_random_state(random_state)
        N = candidates.shape[0]
        if N <= n_final:
            return candidates
        scores = self._ood_scores(learner, X, candidates)
        order = top_k(-scores, N, rng)  # most in-distribution first
        if self.contamination == "auto":
            spread = self._spread(scores)
            keep = int((spread <= auto_threshold(spread)).sum())
        else:
            keep = N - int(np.floor(self.contamination * N))
        return candidates[order[: min(N, max(n_final, keep))]]

    def _spread(self, scores):
        """Scores on the scale of the outlier rule (distances, not squares)."""
        if self.method == "mahalanobis":
            return np.sqrt(np.maximum(scores, 0.0))
        return scores

    def ood_scores(self, learner, X, candidates):
        """OOD score of each candidate (higher: more likely OOD)."""
        self._check_params()
        return self._ood_scores(learner, X, candidates)

    def _ood_scores(self, learner, X, candidates):
        adapter = get_adapter(learner, strategy=self)
        if self.method == "energy":
            return energy_score(adapter.logits(X, candidates, as_tensor=True))
        X_lab, y_lab = labeled_set(learner)
        if X_lab is None:
            raise ValueError(
                f"OODFilter(method={self.method!r}) compares candidates with the "
                "labeled rows, but the learner has none (pass an ActiveLearner "
                "with labels), or use method='energy'."
            )
        kw = {"embedding": self.embedding, "layer": self.layer, "adapter": adapter}
        emb = embed_rows(self, learner, X, candidates, owner=X, **kw)
        lab = embed_rows(self, learner, X_lab, owner=X, **kw).to(emb.device)
        if self.method == "mahalanobis":
            return mahalanobis_score(emb, lab, y_lab)
        emb = emb / emb.norm(dim=1, keepdim=True).clamp_min(1e-12)
        lab = lab / lab.norm(dim=1, keepdim=True).clamp_min(1e-12)
        k = min(self.n_neighbors, lab.shape[0])
        d, _ = knn(emb, k, Y=lab)
        return d[:, k - 1].cpu().numpy().astype(np.float64)

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        scores = self._ood_scores(learner, X, candidates)
        return candidates[top_k(-scores, n_instances, random_state)]
