"""Query strategies: stateless, clonable callables that pick rows to label.

Every strategy is called as
``strategy(learner, X, *, n_instances, candidates=None, random_state=None)``
and returns distinct int indices into ``X``.
"""

from ._compose import ClassBalanced, FunctionStrategy, StrategyPipeline, TopK
from ._default import ColdStartHybrid
from ._random import RandomSampling
from ._uncertainty import (
    EntropySampling,
    LeastConfidence,
    MarginSampling,
    entropy_score,
    least_confidence_score,
    margin_score,
)

__all__ = [
    "RandomSampling",
    "LeastConfidence",
    "MarginSampling",
    "EntropySampling",
    "least_confidence_score",
    "margin_score",
    "entropy_score",
    "TopK",
    "ClassBalanced",
    "StrategyPipeline",
    "FunctionStrategy",
    "ColdStartHybrid",
    "default_strategy",
]


def default_strategy():
    """The strategy ``ActiveLearner(strategy=None)`` uses.

    :class:`ColdStartHybrid`: typicality while labels are scarce, then margin
    sampling narrowed by k-means for diversity. Chosen from the label-efficiency
    benchmark (``benchmarks/results/label_efficiency/``).

    Returns
    -------
    strategy : BaseStrategy
        A fresh instance.
    """
    return ColdStartHybrid()
