"""Uncertainty sampling: least confidence, margin and entropy.

Each strategy ranks candidates by a score computed from the model's class
probabilities; the scores are public pure functions so the math is testable
without a model. All scores follow one convention: **higher means more
uncertain**, i.e. more worth a label.
"""

from __future__ import annotations

import numpy as np

from ..base import ScoreStrategy
from ..models import get_adapter

__all__ = [
    "LeastConfidence",
    "MarginSampling",
    "EntropySampling",
    "least_confidence_score",
    "margin_score",
    "entropy_score",
]


_ROWS = 1 << 16


def _check_proba(proba):
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] < 1:
        raise ValueError(
            "The 'proba' parameter must be a 2-D array of shape "
            f"(n_samples, n_classes). Got shape {proba.shape} instead."
        )
    return proba


def least_confidence_score(proba):
    """One minus the probability of the most likely class.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Higher is more uncertain.

    Examples
    --------
    >>> from skal.strategies import least_confidence_score
    >>> least_confidence_score([[0.9, 0.1], [0.6, 0.4]])
    array([0.1, 0.4])
    """
    proba = _check_proba(proba)
    return 1.0 - proba.max(axis=1)


def margin_score(proba):
    """One minus the gap between the two most likely classes.

    Scheffer et al., "Active hidden Markov models for information
    extraction", IDA 2001.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``1 - (p_(1) - p_(2))``; higher is more uncertain. With one class the
        gap is the top probability itself.

    Examples
    --------
    >>> from skal.strategies import margin_score
    >>> margin_score([[0.9, 0.1], [0.5, 0.5]])
    array([0.2, 1. ])
    """
    proba = _check_proba(proba)
    if proba.shape[1] == 1:
        return 1.0 - proba[:, 0]
    # row blocks: the temporaries stay O(block * n_classes) on a large pool
    top2 = np.empty((proba.shape[0], 2))
    for s in range(0, proba.shape[0], _ROWS):
        top2[s : s + _ROWS] = -np.partition(-proba[s : s + _ROWS], 1, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def entropy_score(proba):
    """Shannon entropy of the predicted class distribution (nats).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Higher is more uncertain; ``0 * log 0`` counts as 0.

    Examples
    --------
    >>> from skal.strategies import entropy_score
    >>> entropy_score([[1.0, 0.0], [0.5, 0.5]]).round(4)
    array([0.    , 0.6931])
    """
    proba = _check_proba(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return 0.0 - terms.sum(axis=1)  # 0 - 0 is +0, never -0


class _ProbaScoreStrategy(ScoreStrategy):
    _score_func = None

    def _score(self, learner, X, candidates):
        proba = get_adapter(learner, strategy=self).predict_proba(X, candidates)
        return type(self)._score_func(proba)


class LeastConfidence(_ProbaScoreStrategy):
    """Select the rows whose most likely class is least probable.

    Lewis & Gale, "A sequential algorithm for training text classifiers",
    SIGIR 1994. Scores with :func:`least_confidence_score`.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import LeastConfidence
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> sorted(LeastConfidence()(clf, X, n_instances=2, random_state=0).tolist())
    [1, 2]
    """

    _score_func = staticmethod(least_confidence_score)


class MarginSampling(_ProbaScoreStrategy):
    """Select the rows with the smallest gap between the two top classes.

    Scores with :func:`margin_score`.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import MarginSampling
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> sorted(MarginSampling()(clf, X, n_instances=2, random_state=0).tolist())
    [1, 2]
    """

    _score_func = staticmethod(margin_score)


class EntropySampling(_ProbaScoreStrategy):
    """Select the rows whose predicted class distribution has most entropy.

    Shannon-entropy uncertainty sampling (Settles, "Active Learning
    Literature Survey", 2009). Scores with :func:`entropy_score`.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.strategies import EntropySampling
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> sorted(EntropySampling()(clf, X, n_instances=2, random_state=0).tolist())
    [1, 2]
    """

    _score_func = staticmethod(entropy_score)
