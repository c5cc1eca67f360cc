"""Refit with rollback: the model follows the labels, and a failure loses none.

A mixin of :class:`~skal.ActiveLearner` (as scikit-learn's
``ClassifierMixin``): every refit trains a fresh clone (or continues the
model with ``partial_fit`` under ``warm_start``) on the labels the
learner's :class:`~skal._state.LabelState` holds, swaps it in only on
success, marks the model stale on any failure (a Ctrl-C included), and then
shows the new model to the ``stopping`` criterion.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from . import _inputs
from ._state import encoded_classes, labels_for_fit
from .semi_supervised import is_semi_supervised
from .utils._interrupts import sigint_watch

__all__ = ["RefitMixin"]


class RefitMixin:
    """Refitting an ActiveLearner's model, and observing ``stopping`` after."""

    def _fit_model(self, seed=None):
        """Fit a fresh model on the labeled set; swap it in only on success."""
        state = self._state
        y = labels_for_fit(state.y_labeled, self._is_net())
        warm = bool(self.warm_start) and self.model_fitted_
        if warm:  # a class the model has not seen needs a full refit
            encoded = encoded_classes(state.y_labeled, self._is_net())
            if encoded is not None:
                warm = np.array_equal(encoded, state.label_classes)
            else:
                known = getattr(self.estimator_, "classes_", None)
                warm = known is not None and bool(np.isin(y, known).all())
        if warm and hasattr(self.estimator_, "partial_fit"):
            est = copy.deepcopy(self.estimator_)
            fit = est.partial_fit
        else:
            est = clone(self.estimator)
            fit = est.fit
        seed = self._draw_seed() if seed is None else seed
        X_fit, y_fit = (  # the pool marked -1 for a semi-supervised estimator
            state.with_pool(y, seed, self.max_unlabeled)
            if is_semi_supervised(self.estimator)
            else (state.X_labeled, y)
        )
        est = self._executor_.fit(
            est, X_fit, y_fit, state.fit_params, seed=seed, method=fit.__name__
        )
        self.estimator_ = est
        state.label_classes = encoded_classes(state.y_labeled, self._is_net())
        self.model_fitted_ = True
        self.model_stale_ = False

    def _refit_keep_labels(self, seed=None):
        """Refit; on any failure mark the model stale and re-raise.

        skorch swallows a ``KeyboardInterrupt`` during training (its early
        stopping raises one) and returns a half-trained net; a Ctrl-C (SIGINT)
        seen during the refit therefore restores the previous model and is
        re-raised, like any other interruption.
        """
        state = self._state
        previous = (self.estimator_, self.model_fitted_, state.label_classes)
        try:
            with sigint_watch() as seen:
                self._fit_model(seed)
            if seen:
                (self.estimator_, self.model_fitted_, state.label_classes) = previous
                raise KeyboardInterrupt
        except BaseException as exc:
            self.model_stale_ = True
            hint = (
                _inputs.refit_hint(exc, self.X_labeled_, self.y_labeled_)
                if self._is_net()
                else None
            )
            if hint is not None:
                raise hint from exc
            raise
        self._observe_stopping()

    def _observe_stopping(self):
        """Show the new model to ``stopping``; set ``stop_reason_``."""
        if self.stopping is None:
            return
        obs = self.stopping.observe(self, self._state.X, self.pool_indices_)
        # a loaded session starts a new window of observations
        self.stop_observations_ = getattr(self, "stop_observations_", [])
        self.stop_observations_.append(obs)
        self.stop_reason_ = self.stopping.decide(self.stop_observations_)

    def should_stop(self):
        """Whether ``stopping`` says the labeling can stop (after the last refit).

        The reason is in ``stop_reason_``. Teaching more labels stays
        possible; each refit asks the criterion again.

        Returns
        -------
        stop : bool
            False when ``stopping`` is None.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skal import ActiveLearner
        >>> from skal.stopping import BudgetExhausted
        >>> X, y = load_iris(return_X_y=True)
        >>> y_seed = np.full_like(y, -1)
        >>> y_seed[[0, 50, 100]] = y[[0, 50, 100]]
        >>> learner = ActiveLearner(LogisticRegression(), n_instances=5,
        ...                         stopping=BudgetExhausted(8)).fit(X, y_seed)
        >>> learner.should_stop()
        False
        >>> idx = learner.query()
        >>> learner.teach(y=y[idx], indices=idx).should_stop()
        True
        >>> learner.stop_reason_
        'BudgetExhausted: 8 labels >= budget 8'
        """
        check_is_fitted(self)
        return getattr(self, "stop_reason_", None) is not None

    def _refit_if_able(self, seed=None):
        """Refit, unless the labels hold a single class (no model from one)."""
        if np.unique(self.y_labeled_).size < 2:
            return False
        self._refit_keep_labels(seed)
        return True
