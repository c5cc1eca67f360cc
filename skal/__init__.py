"""skal: scikit-learn's active learning for deep nets."""

from ._learner import ActiveLearner

__version__ = "0.1.0"

__all__ = ["ActiveLearner", "__version__"]
