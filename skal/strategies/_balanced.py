"""Balanced Selection (BASE): class quotas filled near the decision boundaries."""

from __future__ import annotations

import numpy as np

from ..base import BaseStrategy, top_k
from ..models import get_adapter
from ._compose import _balanced_quotas
from ._uncertainty import _check_proba

__all__ = ["BalancedSelection", "boundary_distance"]

_TINY = 1e-300


def boundary_distance(proba):
    """Logit margin of the predicted class: ``log p_(1) - log p_(2)``.

    For a softmax output this is ``z_(1) - z_(2)``, the gap between the two
    largest logits: how far (in logit space) a row is from the boundary of
    its predicted class. Lower means closer to the boundary.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    distances : ndarray of shape (n_samples,)
        Non-negative; ``inf`` when the runner-up class has probability 0, and
        0 with a single class.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import boundary_distance
    >>> boundary_distance([[0.5, 0.5], [0.8, 0.2]]).round(4)
    array([0.    , 1.3863])
    """
    proba = _check_proba(proba)
    if proba.shape[1] < 2:
        return np.zeros(proba.shape[0])
    top2 = -np.partition(-proba, 1, axis=1)[:, :2]
    with np.errstate(divide="ignore"):
        logs = np.log(np.maximum(top2, 0.0))
    d = logs[:, 0] - logs[:, 1]
    return np.where(np.isnan(d), 0.0, d)


class BalancedSelection(BaseStrategy):
    """Balanced Selection (BASE): equal class quotas near the class boundaries.

    Candidates are grouped by predicted class; every class gets an equal
    share of ``n_instances`` (counts differ by at most one wherever the pool
    allows; a class with too few candidates gives them all and its share goes
    to the others), and each share is filled with the class's rows closest to
    its decision boundary, measured by the logit margin
    :func:`boundary_distance`. Emam, Chu, Chiang, Czaja, Leapman, Goldblum &
    Goldstein, "Active Learning at the ImageNet Scale", 2021: plain
    uncertainty sampling picks mostly from a few classes on large, imbalanced
    pools, while balanced picks near the boundaries keep beating random
    sampling. BASE measures the distance to each class's boundary in the
    network's feature space; through the model adapters this is the logit
    margin (the same up to the norm of the weight differences).

    Class-balanced. Not deterministic: the classes that receive the
    ``n_instances % n_classes`` remaining picks, and exact ties, are drawn
    from ``random_state``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import BalancedSelection
    >>> X = np.array([[0.0], [0.4], [0.45], [0.55], [0.6], [1.0]])
    >>> clf = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> sorted(BalancedSelection()(clf, X, n_instances=2, random_state=0).tolist())
    [2, 3]
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.class_balanced = True
        return tags

    def __init__(self):
        pass

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        proba = get_adapter(learner, strategy=self).predict_proba(X, candidates)
        pred = proba.argmax(axis=1)
        dist = boundary_distance(proba)
        classes, available = np.unique(pred, return_counts=True)
        quotas = _balanced_quotas(available, n_instances, random_state)
        picks = []
        for c, q in zip(classes, quotas):
            if q:
                members = np.flatnonzero(pred == c)
                picks.append(members[top_k(-dist[members], int(q), random_state)])
        return candidates[np.concatenate(picks)]
