"""Persistence of a session: the session file and the label journal.

Layer: above :mod:`skal._state` (they read and write a
:class:`~skal._state.LabelState`, never the learner's attributes), below
:mod:`skal._learner`.

* :mod:`._session`: ``learner.save(path)`` / ``ActiveLearner.load(path)``,
  a zip file that loads without running code (untrusted input);
* :mod:`._journal`: the JSON-lines label journal, appended before every
  refit, replayable after a crash.
"""

from ._journal import JournalError
from ._mixin import SessionMixin
from ._session import SessionFileError, load_learner, save_learner

__all__ = [
    "JournalError",
    "SessionFileError",
    "SessionMixin",
    "load_learner",
    "save_learner",
]
