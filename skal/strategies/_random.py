"""Uniform random sampling, the baseline every strategy must beat."""

from __future__ import annotations

from ..base import BaseStrategy

__all__ = ["RandomSampling"]


class RandomSampling(BaseStrategy):
    """Select candidates uniformly at random, without replacement.

    Needs no model, so it also serves as ``initial_strategy`` before the first
    labels exist.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import RandomSampling
    >>> X = np.zeros((10, 2))
    >>> RandomSampling()(None, X, n_instances=3, random_state=0)
    array([2, 8, 4])
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.requires_model = False
        return tags

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        return random_state.choice(candidates, size=n_instances, replace=False)
