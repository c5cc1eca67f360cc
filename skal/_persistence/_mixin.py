"""The session methods of :class:`~skal.ActiveLearner`: save, load, journal.

A mixin, as scikit-learn's ``ClassifierMixin``: the learner's persistence
lives here, beside the session file (:mod:`._session`) and the journal
(:mod:`._journal`), which read and write the learner's
:class:`~skal._state.LabelState`.
"""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from ..utils._arrays import take_rows
from . import _journal
from ._session import load_learner, save_learner

__all__ = ["SessionMixin"]


class SessionMixin:
    """``save`` / ``load`` and the label journal of an ActiveLearner."""

    @staticmethod
    def read_journal(path):
        """Read and check a label journal (see the ``journal`` parameter).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        records : list of dict
            ``"session"`` records (one per ``fit``), ``"label"`` records
            (one per taught label: ``label``, ``index`` into ``fit``'s ``X``
            or ``row`` for rows given to ``teach(X, y)``, ``seq``, ``time``,
            and its provenance ``round``, ``strategy``, ``score``),
            ``"relabel"`` records (``index``, the new ``label``) and
            ``"unlabel"`` records (``index``).

        Raises
        ------
        skal.JournalError
            A line other than the last is damaged. A truncated last line (a
            write a crash interrupted) is skipped with a warning.
        """
        return _journal.read_journal(path)

    def replay_journal(self, path=None):
        """Re-apply the labels of a journal to this (freshly fitted) learner.

        The recovery after a crash: fit a new learner on the same ``X`` and
        ``y`` as the crashed one, then replay its journal. Every record of
        other sessions is applied in order: labels (pool rows already labeled
        are skipped, so replaying twice adds no pool row twice) with their
        provenance, corrections (``relabel``, ``unlabel``); the model is
        refit once at the end. Records are not re-journaled into the file
        they come from; when this learner journals to another file, they are.

        Parameters
        ----------
        path : str or path-like, default=None
            The journal; None reads this learner's own ``journal``.

        Returns
        -------
        self : ActiveLearner

        Raises
        ------
        skal.JournalError
            The journal is damaged, or a session in it names pool rows of a
            different ``X`` than the one this learner was fitted on.
        """
        check_is_fitted(self)
        path = self.journal if path is None else path
        if path is None:
            raise ValueError(
                "replay_journal needs a path: pass one, or set the 'journal' parameter."
            )
        state = self._state
        batches, applied = _journal.plan_replay(
            state,
            path,
            sample_shape=self.sample_shape_,
            match_labels=self._match_labels,
        )
        own = self.journal is not None and not _journal.same_file(self.journal, path)
        for kind, y, idx, X, prov in batches:
            if kind != "label":  # relabel / unlabel
                if own:
                    _journal.write_correction(state, self.journal, kind, idx, y)
                if kind == "relabel":
                    state.relabel(idx, y)
                else:
                    state.unlabel(idx)
                continue
            X = take_rows(state.X, idx) if idx is not None else X
            if own:
                rows = None if idx is not None else X
                self._journal_labels(y, indices=idx, X=rows, source="replay", prov=prov)
            state.add(X, y, pool_rows=idx, prov=prov)
        state.journal_replayed = applied
        if batches:
            self._refit_if_able()
        return self

    def save(self, path, *, include_X=True):
        """Save the session to a zip file that loads without running code.

        Labels, pool, history, random state, the state of a running
        simulation and the model are saved as JSON, npz, ``torch.save``
        state dicts (weights only) or skops; see :meth:`load`.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced atomically).
        include_X : bool, default=True
            Store ``fit``'s ``X`` (the pool). With False only its SHA-256 is
            stored and :meth:`load` needs ``X=``.
        """
        check_is_fitted(self)
        save_learner(self, path, include_X=include_X)

    @classmethod
    def load(cls, path, estimator=None, *, X=None, params=None):
        """Load a session saved by :meth:`save`; executes no code from the file.

        A session file is untrusted input: only classes on an explicit
        allow-list are rebuilt (never a namespace, never a function), member
        sizes are checked before anything is read, and ``journal`` and
        ``executor`` (a path, a remote service) are never taken from the
        file: pass them in ``params`` to keep them.

        Parameters
        ----------
        path : str or path-like
        estimator : estimator, default=None
            What the file cannot describe without code: needed for a skorch
            net unless its classes are all on the allow-list and its
            parameters are plain values (the saved weights are loaded into a
            clone of it), and for a scikit-learn model holding types skops
            reports as untrusted and skal does not allow. A scikit-learn
            estimator given here is refit on the saved labels (with a
            warning) unless it equals the saved one (same class and
            parameters), whose saved model is then used.
        X : array-like, default=None
            ``fit``'s ``X``; needed when saved with ``include_X=False``
            (checked against the saved SHA-256).
        params : dict, default=None
            Parameters replacing saved ones: needed for those that could not
            be saved (a ``FunctionStrategy``, say), and the only way to set
            ``journal`` and ``executor`` on a loaded learner.

        Returns
        -------
        learner : ActiveLearner
            Continues where the saved one stopped: ``query``/``teach``, or
            :meth:`resume` for a simulation.

        Raises
        ------
        skal.SessionFileError
            The file is truncated, tampered with (checksums in its manifest),
            malformed (the message names the member), over the size cap, or
            names classes or types that could run code.
        """
        return load_learner(cls, path, estimator, X=X, params=params)
