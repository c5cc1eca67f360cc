"""BatchBALD: greedy maximisation of the joint mutual information of a batch
(Kirsch, van Amersfoort & Gal, NeurIPS 2019), on MC-dropout samples of shape
``(n_rows, n_mc_samples, n_classes)``; with the sample checks and entropies
that the Bayesian scores share."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..utils._seeding import draw_seed
from ._blocks import default_chunk_size

__all__ = ["batchbald_select"]


def _check_samples(proba_samples):
    """A 3-D floating tensor, without a copy where possible (chunks are
    converted to float64 where needed, never the whole array)."""
    if not isinstance(proba_samples, torch.Tensor):
        a = np.asarray(proba_samples)
        if not a.flags.writeable or a.dtype.kind != "f":
            a = np.array(a, dtype=np.float64)  # writable copy
        proba_samples = a
    P = torch.as_tensor(proba_samples)
    if P.ndim != 3 or P.shape[2] < 1 or P.shape[1] < 1:
        raise ValueError(
            "The 'proba_samples' parameter must be a 3-D array of shape "
            "(n_rows, n_mc_samples, n_classes). Got shape "
            f"{tuple(P.shape)} instead."
        )
    return P if P.is_floating_point() else P.to(torch.float64)


def _entropy(P, dim=-1):
    return -torch.xlogy(P, P).sum(dim)


class _JointLabels:
    """The labels of the rows selected so far, for joint entropies.

    Holds ``Pj`` (M, K): the probability of M label configurations of the
    selected rows under each of the K draws, with weights ``w`` (M,) so that
    ``H(y_sel, y_i) = -sum_m w_m sum_c q_mc log q_mc`` where ``q_mc =
    mean_k Pj[m, k] p_i[k, c]``. The M configurations are all of them (``w =
    1``) while ``n_classes ** b <= max_configurations``, then
    ``max_configurations`` samples from the joint, stratified over the draws,
    with importance weights ``w_m = 1 / (M p(y_sel = m))`` (Kirsch et al.,
    2019, section 3.2). Sampled rows are rescaled against underflow;
    ``log_alpha`` keeps the log scales, whose mean shifts the entropy.
    """

    def __init__(self, K, C, max_configurations, generator, device):
        self.K, self.C, self.M_max = K, C, max(1, int(max_configurations))
        self.gen, self.device = generator, device
        f64 = dict(dtype=torch.float64, device=device)
        self.Pj = torch.ones(1, K, **f64)
        self.w = torch.ones(1, **f64)
        self.log_alpha = torch.zeros(1, **f64)
        self.origin = None  # the draw each sampled configuration comes from
        self.rows = []  # (K, C) probabilities of every selected row

    @property
    def sampled(self):
        return self.origin is not None

    def add(self, p):
        """Add a selected row with probabilities ``p`` (K, C)."""
        p = p.to(device=self.device, dtype=torch.float64)
        self.rows.append(p)
        K, C = self.K, self.C
        if not self.sampled and self.Pj.shape[0] * C <= self.M_max:
            self.Pj = (self.Pj[:, None, :] * p.T[None, :, :]).reshape(-1, K)
            self.w = torch.ones(
                self.Pj.shape[0], dtype=torch.float64, device=self.device
            )
            return
        if not self.sampled:  # switch: sample every selected row's label
            S = -(-self.M_max // K)
            self.origin = torch.arange(K, device=self.device).repeat_interleave(S)
            self.Pj = torch.ones(K * S, K, dtype=torch.float64, device=self.device)
            self.log_alpha = torch.zeros(K * S, dtype=torch.float64, device=self.device)
            new = self.rows
        else:  # extend each sampled configuration with a label of this row
            new = [p]
        M = self.origin.shape[0]
        for q in new:
            cdf = torch.cumsum(q[self.origin], 1)  # (M, C)
            u = torch.rand(M, 1, generator=self.gen, dtype=torch.float64)
            y = torch.searchsorted(cdf, u.to(self.device) * cdf[:, -1:], right=True)
            self.Pj = self.Pj * q[:, y.clamp_(max=C - 1).reshape(-1)].T  # (M, K)
        scale = self.Pj.amax(1).clamp_min(1e-300)
        self.Pj = self.Pj / scale[:, None]
        self.log_alpha = self.log_alpha + torch.log(scale)
        self.w = 1.0 / (M * self.Pj.mean(1))

    def joint_entropies(self, P, out=None):
        """``H(y_sel, y_i)`` for every row of ``P`` (N, K, C), chunked."""
        N, K, C = P.shape
        Pj, w = self.Pj / K, self.w
        M = Pj.shape[0]
        if out is None:
            out = torch.empty(N, dtype=torch.float64, device=self.device)
        rows = default_chunk_size(N, 4 * M * C, self.device)
        shift = float(self.log_alpha.mean())
        for s in range(0, N, rows):
            e = min(N, s + rows)
            blk = P[s:e].to(torch.float64).permute(1, 0, 2).reshape(K, -1)
            q = (Pj @ blk).reshape(M, e - s, C)  # p(y_sel = m, y_i = c)
            out[s:e] = -(w @ torch.xlogy(q, q).sum(2)) - shift
        return out


def batchbald_select(proba_samples, n, *, n_joint_samples=1000, random_state=None):
    """Greedy BatchBALD selection (Kirsch, van Amersfoort & Gal, NeurIPS 2019).

    Picks rows one at a time, each maximising the mutual information between
    the labels of the whole batch so far and the model parameters,
    ``H(y_1..y_b) - sum_i E_w H(y_i | w)``. The joint entropy is computed
    exactly, by enumerating the ``n_classes ** b`` label configurations, while
    they number at most ``n_joint_samples``; beyond that it is estimated from
    ``n_joint_samples`` configurations sampled from the joint (stratified over
    the draws) with importance weights, as in the paper.

    Parameters
    ----------
    proba_samples : array-like or tensor of shape (N, n_mc_samples, n_classes)
        MC-dropout class probabilities; a tensor stays on its device.
    n : int
        Rows to select (clipped to ``N``).
    n_joint_samples : int, default=1000
        Largest number of label configurations kept (exact or sampled);
        rounded up to a multiple of ``n_mc_samples`` once sampling.
    random_state : int, RandomState instance or None
        Tie-breaking and configuration sampling.

    Returns
    -------
    indices : ndarray of int of shape (min(n, N),)
        Row positions, in selection order. The first is BALD's argmax.

    Notes
    -----
    Each pick costs ``O(N * M * n_mc_samples * n_classes)`` with ``M <=
    n_joint_samples`` configurations; memory ``O(M * n_mc_samples + chunk * M
    * n_classes)`` on top of the samples, chunked over the pool. Rows on
    which all draws agree (BALD 0) cannot add information: the search runs
    over the other rows only, and they come last, in random order (so a
    scikit-learn model, without dropout, costs no search at all).

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import bald_score, batchbald_select
    >>> a, b = [1.0, 0.0], [0.0, 1.0]
    >>> c, d = [0.9, 0.1], [0.1, 0.9]
    >>> P = np.array([[a, a, b, b],    # 4 draws; this row splits them 2/2
    ...               [a, a, b, b],    # its twin
    ...               [a, a, a, a],    # all draws agree
    ...               [c, d, c, d]])   # splits the draws the other way
    >>> bald_score(P).round(3)  # top-2 BALD takes the twins
    array([0.693, 0.693, 0.   , 0.368])
    >>> batchbald_select(P, 2, random_state=0)[1]  # BatchBALD does not
    np.int64(3)
    """
    P = _check_samples(proba_samples)
    N, K, C = P.shape
    n = min(int(n), N)
    device = P.device
    rng = check_random_state(random_state)
    gen = torch.Generator().manual_seed(draw_seed(rng))
    keys = torch.rand(N, generator=gen, dtype=torch.float64).to(device)

    cond = torch.empty(N, dtype=torch.float64, device=device)
    bald = torch.empty(N, dtype=torch.float64, device=device)
    rows = default_chunk_size(N, 2 * K * C, device)
    for s in range(0, N, rows):
        blk = P[s : s + rows].to(torch.float64)
        cond[s : s + rows] = _entropy(blk).mean(1)
        bald[s : s + rows] = _entropy(blk.mean(1)) - cond[s : s + rows]
    # A row on which the draws agree (BALD 0) is independent of the
    # parameters and of the other labels: it never adds information. Only
    # the informative rows need the greedy search; the rest come last.
    informative = torch.nonzero(bald > 1e-12).reshape(-1)
    rest = torch.nonzero(bald <= 1e-12).reshape(-1)
    rest = rest[torch.argsort(keys[rest], descending=True)]
    n_inf = informative.numel()
    if n >= n_inf:  # every informative row is picked: no search needed
        order = torch.argsort(keys[informative], descending=True, stable=True)
        order = order[
            torch.argsort(bald[informative][order], descending=True, stable=True)
        ]
        picks = torch.cat([informative[order], rest])[:n]
        return picks.cpu().numpy().astype(np.intp)

    Pi, keys_i, cond_i = P[informative], keys[informative], cond[informative]
    joint = _JointLabels(K, C, n_joint_samples, gen, device)
    scores = torch.empty(n_inf, dtype=torch.float64, device=device)
    taken = torch.zeros(n_inf, dtype=torch.bool, device=device)
    picks = []
    cond_sel = 0.0
    for step in range(n):
        joint.joint_entropies(Pi, out=scores)
        scores.sub_(cond_i).sub_(cond_sel).masked_fill_(taken, -torch.inf)
        tie = torch.where(scores == scores.max(), keys_i, torch.full_like(keys_i, -1.0))
        i = int(torch.argmax(tie))
        picks.append(i)
        taken[i] = True
        cond_sel += float(cond_i[i])
        if step + 1 < n:
            joint.add(Pi[i])
    picks = informative[torch.as_tensor(picks, device=device)]
    return picks.cpu().numpy().astype(np.intp)
