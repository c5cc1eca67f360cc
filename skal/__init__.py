"""skal: scikit-learn's active learning for deep nets."""

from ._journal import JournalError
from ._learner import ActiveLearner
from ._session import SessionFileError

__version__ = "0.1.0"

__all__ = ["ActiveLearner", "JournalError", "SessionFileError", "__version__"]
