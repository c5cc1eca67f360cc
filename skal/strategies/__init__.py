"""Query strategies: stateless, clonable callables that pick rows to label.

Every strategy is called as
``strategy(learner, X, *, n_instances, candidates=None, random_state=None)``
and returns distinct int indices into ``X``.
"""

from ._auto import AutoSelect
from ._balanced import BalancedSelection, boundary_distance
from ._bayesian import (
    BALD,
    BatchBALD,
    VariationRatios,
    bald_score,
    batchbald_select,
    variation_ratios_score,
)
from ._coldstart import ProbCover, TypiClust
from ._compose import ClassBalanced, FunctionStrategy, StrategyPipeline, TopK
from ._default import ColdStartHybrid
from ._diversity import BADGE, ClusterMargin, CoreSet, KMeansSampling
from ._ood import OODFilter, energy_score, mahalanobis_score
from ._random import RandomSampling
from ._stochastic import PowerSampling, power_keys
from ._submodular import FacilityLocation, SubmodularMutualInformation
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
    "BALD",
    "BatchBALD",
    "VariationRatios",
    "bald_score",
    "batchbald_select",
    "variation_ratios_score",
    "CoreSet",
    "KMeansSampling",
    "BADGE",
    "ClusterMargin",
    "TypiClust",
    "ProbCover",
    "BalancedSelection",
    "boundary_distance",
    "PowerSampling",
    "power_keys",
    "FacilityLocation",
    "SubmodularMutualInformation",
    "OODFilter",
    "energy_score",
    "mahalanobis_score",
    "TopK",
    "ClassBalanced",
    "StrategyPipeline",
    "FunctionStrategy",
    "ColdStartHybrid",
    "AutoSelect",
    "default_strategy",
]


def default_strategy():
    """The strategy ``ActiveLearner(strategy=None)`` uses.

    :class:`ColdStartHybrid`: typicality while labels are scarce (fewer than
    3 per class), then BADGE. Chosen from the label-efficiency benchmark
    (``benchmarks/results/label_efficiency/``).

    Returns
    -------
    strategy : BaseStrategy
        A fresh instance.

    Examples
    --------
    >>> from skal.strategies import default_strategy
    >>> default_strategy()
    ColdStartHybrid()
    """
    return ColdStartHybrid()
