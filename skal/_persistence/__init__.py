"""Persistence of a session: the session file and the label journal.

Layer: above :mod:`skal._state` (they read and write a
:class:`~skal._state.LabelState`, never the learner's attributes), below
:mod:`skal._learner`.

Rooms of one idea each, imported downward in this order:

* :mod:`._format`: :class:`SessionFileError`, the format name and version,
  the small shared checks;
* :mod:`._container`: the zip file: known members, bounded reads, the
  atomic write;
* :mod:`._codec`: the allow-listed JSON codec (``_Writer`` / ``_Reader``);
* :mod:`._model_io`: the estimator or net in the file, and its size checks;
* :mod:`._checks`: cross-checks of a loaded session (``fit_params`` against
  the estimator, labeled rows against ``X``);
* :mod:`._journal_format`: journal records: JSON, CRC-32, checks;
* :mod:`._journal_replay`: reading a journal, replay plans, simulation
  scripts;
* :mod:`._journal`: the JSON-lines label journal, appended (locked,
  fsynced) before every refit, replayable after a crash;
* :mod:`._session`: ``learner.save(path)`` / ``ActiveLearner.load(path)``,
  a zip file that loads without running code (untrusted input);
* :mod:`._mixin`: the learner's ``save`` / ``load`` / journal methods.
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
