"""Corrections of a session: ``relabel`` and ``unlabel``.

A mixin of :class:`~skal.ActiveLearner` (as scikit-learn's
``ClassifierMixin``): people make mistakes, so a label can be replaced and a
labeled row returned to the pool. Both are journaled before anything changes
(record kinds ``relabel`` and ``unlabel``), replayed like ``teach``, and
change the session's :class:`~skal._state.LabelState` all or nothing.
"""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from ._labels import taught_labels
from ._persistence import _journal
from .backends._base import in_executor_session

__all__ = ["CorrectionsMixin"]


class CorrectionsMixin:
    """``relabel`` and ``unlabel`` of an ActiveLearner."""

    @in_executor_session
    def relabel(self, y, *, indices=None, index=None, refit=True):
        """Correct the labels of labeled rows of ``fit``'s ``X``.

        Journaled (when ``journal`` is set) before anything changes, and
        honoured by :meth:`replay_journal`, :meth:`resume` and
        :meth:`save` / :meth:`load`. Not a round: ``history_`` is unchanged;
        the rows keep their ``label_provenance_``.

        Parameters
        ----------
        y : array-like of shape (n_rows,)
            The correct labels.
        indices : array-like of int, or pandas Index, default=None
            Labeled rows of ``fit``'s ``X`` (positions, or a ``pandas.Index``
            of index labels).
        index : array-like, default=None
            Labeled rows named by the index labels of ``fit``'s DataFrame.
        refit : bool, default=True
            Refit at once; False marks ``model_stale_`` until the next refit.

        Returns
        -------
        self : ActiveLearner

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skal import ActiveLearner
        >>> X, y = load_iris(return_X_y=True)
        >>> y_seed = np.full_like(y, -1)
        >>> y_seed[[0, 50, 100]] = y[[0, 50, 100]]
        >>> learner = ActiveLearner(LogisticRegression()).fit(X, y_seed)
        >>> learner = learner.teach(y=[2], indices=[51])   # a slip: row 51 is a 1
        >>> learner.relabel([1], indices=[51]).y_labeled_.tolist()
        [0, 1, 2, 1]
        """
        check_is_fitted(self)
        if indices is None and index is None:
            raise ValueError("relabel needs the rows: pass indices= or index=.")
        rows = self._rows(indices, index, "relabel", labeled=True)
        y = taught_labels(y, rows.shape[0], self.missing_label, "relabel")
        y = self._match_labels(y, "relabel")
        self._journal_correction("relabel", rows, y)
        self._state.relabel(rows, y)
        self._after_correction(refit)
        return self

    @in_executor_session
    def unlabel(self, *, indices=None, index=None, refit=True):
        """Return labeled rows of ``fit``'s ``X`` to the pool.

        Their labels and provenance are dropped and they can be queried
        again. Journaled and honoured as :meth:`relabel` is.

        Parameters
        ----------
        indices : array-like of int, or pandas Index, default=None
            Labeled rows of ``fit``'s ``X`` (positions, or a ``pandas.Index``
            of index labels).
        index : array-like, default=None
            Labeled rows named by the index labels of ``fit``'s DataFrame.
        refit : bool, default=True
            Refit at once (when two classes remain); otherwise
            ``model_stale_`` is set until the next refit.

        Returns
        -------
        self : ActiveLearner

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skal import ActiveLearner
        >>> X, y = load_iris(return_X_y=True)
        >>> y_seed = np.full_like(y, -1)
        >>> y_seed[[0, 50, 100]] = y[[0, 50, 100]]
        >>> learner = ActiveLearner(LogisticRegression()).fit(X, y_seed)
        >>> learner = learner.teach(y=[1], indices=[51]).unlabel(indices=[51])
        >>> 51 in learner.pool_indices_, len(learner.y_labeled_)
        (True, 3)
        """
        check_is_fitted(self)
        if indices is None and index is None:
            raise ValueError("unlabel needs the rows: pass indices= or index=.")
        rows = self._rows(indices, index, "unlabel", labeled=True)
        self._journal_correction("unlabel", rows, None)
        self._state.unlabel(rows)
        self._after_correction(refit)
        return self

    def _after_correction(self, refit):
        if refit and self._refit_if_able():
            return
        if self.model_fitted_:  # the model does not follow the labels now
            self.model_stale_ = True

    def _journal_correction(self, kind, rows, y):
        if self.journal is not None:
            _journal.write_correction(self._state, self.journal, kind, rows, y)
