"""Bayesian disagreement strategies on MC-dropout samples: BALD, BatchBALD,
variation ratios.

The model's predictive distribution is approximated by ``n_mc_samples``
stochastic forward passes with dropout active (Gal & Ghahramani, ICML 2016),
read through :meth:`~skal.models.SkorchAdapter.mc_proba`. A scikit-learn model
has no dropout: its samples all agree and every score here is zero (ties are
then broken at random).

Sample arrays have shape ``(n_rows, n_mc_samples, n_classes)``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import _num_samples

from .._kernels import default_chunk_size
from .._kernels._batchbald import _check_samples, _entropy, batchbald_select
from ..base import BaseStrategy, ScoreStrategy, check_candidates, top_k
from ..models import get_adapter
from ..utils._seeding import draw_seed
from ..utils._validation import Count
from ._common import mc_seed

__all__ = [
    "BALD",
    "BatchBALD",
    "VariationRatios",
    "bald_score",
    "batchbald_select",
    "variation_ratios_score",
]


def bald_score(proba_samples):
    """Mutual information between the label and the model parameters.

    ``H[mean_k p_k] - mean_k H[p_k]`` (Houlsby et al., 2011), the expected
    information gain about the weights from the label of a row.

    Parameters
    ----------
    proba_samples : array-like of shape (n_rows, n_mc_samples, n_classes)
        Class probabilities under ``n_mc_samples`` draws of the model.

    Returns
    -------
    scores : ndarray of shape (n_rows,)
        Non-negative (nats); 0 when all draws agree.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import bald_score
    >>> agree = [[0.5, 0.5], [0.5, 0.5]]       # unsure, but draws agree
    >>> disagree = [[1.0, 0.0], [0.0, 1.0]]    # each draw sure, opposite
    >>> bald_score(np.array([agree, disagree])).round(4)
    array([0.    , 0.6931])
    """
    P = _check_samples(proba_samples)
    out = torch.empty(P.shape[0], dtype=torch.float64)
    rows = default_chunk_size(P.shape[0], 2 * P.shape[1] * P.shape[2], P.device)
    for s in range(0, P.shape[0], rows):
        blk = P[s : s + rows].to(torch.float64)
        mi = _entropy(blk.mean(1)) - _entropy(blk).mean(1)
        out[s : s + rows] = mi.clamp_min(0.0).cpu()
    return out.numpy() + 0.0  # no negative zeros


def variation_ratios_score(proba_samples):
    """One minus the frequency of the modal predicted class across draws.

    Freeman, "Elementary Applied Statistics", 1965; used for deep active
    learning by Gal, Islam & Ghahramani, ICML 2017.

    Parameters
    ----------
    proba_samples : array-like of shape (n_rows, n_mc_samples, n_classes)

    Returns
    -------
    scores : ndarray of shape (n_rows,)
        In ``[0, 1 - 1/n_classes]``; 0 when every draw predicts the same class.

    Examples
    --------
    >>> from skal.strategies import variation_ratios_score
    >>> variation_ratios_score([[[0.9, 0.1], [0.8, 0.2]],
    ...                         [[0.9, 0.1], [0.2, 0.8]]])
    array([0. , 0.5])
    """
    P = _check_samples(proba_samples)
    N, K, C = P.shape
    votes = torch.zeros(N, C, device=P.device)
    votes.scatter_add_(1, P.argmax(2), torch.ones(N, K, device=P.device))
    return (1.0 - votes.max(1).values.double() / K).cpu().numpy()


class _MCScoreStrategy(ScoreStrategy):
    """Scores computed from MC-dropout samples (seeded by ``random_state``)."""

    _parameter_constraints = {"n_mc_samples": [Count(1)]}
    _score_func = None

    def __init__(self, n_mc_samples=20):
        self.n_mc_samples = n_mc_samples

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.deterministic = False
        return tags

    def score(self, learner, X, candidates=None, random_state=None):
        """Scores of the candidate rows (higher: more informative).

        Parameters
        ----------
        learner : ActiveLearner or fitted estimator
        X : array-like of shape (n_samples, ...)
        candidates : array-like of int, default=None
        random_state : int, RandomState instance or None
            Seeds the dropout masks; None uses the fixed seed 0, so the
            scores are reproducible.

        Returns
        -------
        scores : ndarray of shape (len(candidates),)
        """
        self._check_params()
        candidates = check_candidates(candidates, _num_samples(X))
        return self._score(learner, X, candidates, random_state)

    def _score(self, learner, X, candidates, random_state=None):
        P = get_adapter(learner, strategy=self).mc_proba(
            X,
            candidates,
            n_draws=self.n_mc_samples,
            random_state=mc_seed(random_state),
            as_tensor=True,
        )
        return type(self)._score_func(P)

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        scores = self._score(learner, X, candidates, random_state)
        return candidates[top_k(scores, n_instances, random_state)]


class BALD(_MCScoreStrategy):
    """Bayesian Active Learning by Disagreement.

    Selects the rows whose label is most informative about the model
    parameters: the mutual information :func:`bald_score` estimated from
    MC-dropout samples. Houlsby, Huszár, Ghahramani & Lengyel, "Bayesian
    Active Learning for Classification and Preference Learning", 2011; Gal,
    Islam & Ghahramani, "Deep Bayesian Active Learning with Image Data", ICML
    2017.

    Not deterministic: the dropout masks come from ``random_state``. With a
    scikit-learn model (no dropout) every score is 0 and the pick is random.

    Large batches: the top-``n`` rows by BALD carry much the same information
    (near-duplicates score alike). Draw the batch instead, ``PowerSampling(
    BALD())`` (PowerBALD: rows with probability proportional to ``score **
    beta``; Kirsch, Farquhar, Atighehchian, Jesson, Branchaud-Charron & Gal,
    "Stochastic Batch Acquisition", TMLR 2023), or select it jointly with
    :class:`BatchBALD`. On learning curves over a near-duplicated pool
    top-k BALD and BatchBALD fell below random sampling and PowerBALD did
    not: ``benchmarks/results/strategies/bald_batch.md`` (the intervals).

    Parameters
    ----------
    n_mc_samples : int, default=20
        Stochastic forward passes per row.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import BALD
    >>> clf = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> BALD(n_mc_samples=5)(clf, [[0.0], [0.5], [1.0]], n_instances=2,
    ...                      random_state=0).shape
    (2,)
    """

    _score_func = staticmethod(bald_score)


class VariationRatios(_MCScoreStrategy):
    """Select the rows whose MC-dropout predictions disagree most.

    Scores with :func:`variation_ratios_score`: one minus the frequency of the
    modal predicted class over ``n_mc_samples`` stochastic forward passes
    (Gal, Islam & Ghahramani, ICML 2017). Not deterministic (dropout masks
    come from ``random_state``); zero for scikit-learn models.

    Parameters
    ----------
    n_mc_samples : int, default=20
        Stochastic forward passes per row.

    Examples
    --------
    >>> from skal.strategies import VariationRatios
    >>> VariationRatios(n_mc_samples=10)
    VariationRatios(n_mc_samples=10)
    """

    _score_func = staticmethod(variation_ratios_score)


class BatchBALD(BaseStrategy):
    """BatchBALD: greedy maximisation of the batch's joint mutual information.

    Unlike the top-``n`` BALD rows, which often carry the same information,
    each pick maximises ``I(y_1, ..., y_b; w)`` given the rows already in the
    batch; see :func:`batchbald_select`. Kirsch, van Amersfoort & Gal,
    "BatchBALD: Efficient and Diverse Batch Acquisition for Deep Bayesian
    Active Learning", NeurIPS 2019.

    Not deterministic: dropout masks and sampled configurations come from
    ``random_state``. On a large pool, narrow the candidates first, e.g.
    ``TopK(BALD(), k=2000) | BatchBALD()``.

    The samples come from *consistent* MC dropout: in pass ``k`` every row
    goes through the same thinned network (``consistent=True`` of
    :meth:`~skal.models.SkorchAdapter.mc_proba`). With ``nn.Dropout``'s own
    per-row masks the rows' samples are independent and the joint entropy
    sees no shared parameters: as the number of samples grows, the batch's
    joint information becomes the sum of its rows' BALD scores, i.e. top-k
    BALD.

    A batch larger than ``block_size`` is acquired in blocks of at most
    ``block_size`` rows, each a BatchBALD selection among the rows not yet
    picked, under fresh dropout masks. The joint mutual information of one
    block cannot exceed ``log(n_mc_samples)`` (the entropy of the
    ``n_mc_samples`` equally likely draws that stand for the posterior); once
    the batch's estimate reaches it, every further row adds nothing
    measurable and the greedy picks follow estimation noise
    (``benchmarks/results/claims/batchbald.md`` measures where the estimate
    saturates). The paper acquires 5-40 rows per round. With both fixes, on
    learning curves over a near-duplicated pool, it stayed below random
    sampling and below top-k BALD, in large batches and in batches of 10: on
    a net with one dropout layer the joint selection does not avoid
    near-duplicates, ``PowerSampling(BALD())`` did
    (``benchmarks/results/strategies/bald_batch.md`` and
    ``bald_small.md``).

    Parameters
    ----------
    n_mc_samples : int, default=20
        Stochastic forward passes per row.
    n_joint_samples : int, default=1000
        Label configurations of the batch kept to estimate the joint entropy:
        exact while ``n_classes ** b`` fits, sampled beyond. Time per pick is
        proportional to it.
    block_size : int or None, default=10
        Largest number of rows selected jointly (see above); None selects the
        whole batch jointly, as the paper's algorithm (not advised beyond a
        few dozen rows with 20 draws).

    Examples
    --------
    >>> from skal.strategies import BatchBALD
    >>> BatchBALD(n_joint_samples=5000)
    BatchBALD(n_joint_samples=5000)
    """

    _parameter_constraints = {
        "n_mc_samples": [Count(1)],
        "n_joint_samples": [Count(1)],
        "block_size": [Count(1), None],
    }

    def __init__(self, n_mc_samples=20, n_joint_samples=1000, block_size=10):
        self.n_mc_samples = n_mc_samples
        self.n_joint_samples = n_joint_samples
        self.block_size = block_size

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        adapter = get_adapter(learner, strategy=self)
        block = self.block_size or n_instances
        picks, rest = [], candidates
        while len(picks) < n_instances:
            b = min(block, n_instances - len(picks))
            P = adapter.mc_proba(
                X,
                rest,
                n_draws=self.n_mc_samples,
                random_state=draw_seed(random_state),
                as_tensor=True,
                consistent=True,  # sample k: one network for every row
            )
            pos = batchbald_select(
                P,
                b,
                n_joint_samples=self.n_joint_samples,
                random_state=random_state,
            )
            picks.extend(rest[pos].tolist())
            rest = np.delete(rest, pos)
        return np.asarray(picks, dtype=np.intp)
