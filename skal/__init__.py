"""skal: scikit-learn's active learning for deep nets."""

from ._learner import ActiveLearner
from ._persistence import JournalError, SessionFileError
from ._version import __version__

__all__ = ["ActiveLearner", "JournalError", "SessionFileError", "__version__"]
