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
from .nets import reset_module_instance
from .semi_supervised import is_semi_supervised
from .utils._interrupts import sigint_watch

__all__ = ["FittedModel", "RefitJob", "RefitMixin"]


class FittedModel:
    """What :class:`RefitJob` returns: a model and the labels it was fit on.

    Hand it to :meth:`~skal.ActiveLearner.install_model`.
    """

    def __init__(self, estimator, label_classes, version, state):
        self.estimator = estimator
        self.label_classes = label_classes
        self.version = version
        self._state = state

    def __repr__(self):
        return (
            f"FittedModel({type(self.estimator).__name__}, "
            f"labels version {self.version})"
        )


class RefitJob:
    """A refit prepared from a snapshot of the labels (:meth:`prepare_refit`).

    Calling it fits the model and touches no state of the learner, so it can
    run in a thread while the learner is taught and queried; it returns a
    :class:`FittedModel` for :meth:`~skal.ActiveLearner.install_model`.
    """

    def __init__(
        self, estimator, method, X, y, fit_params, seed, executor, codec, version, state
    ):
        self.estimator, self.method = estimator, method
        self.X, self.y, self.fit_params = X, y, fit_params
        self.seed, self.executor = seed, executor
        self.codec, self.version, self._state = codec, version, state

    def __call__(self):
        est = self.executor.fit(
            self.estimator,
            self.X,
            self.y,
            self.fit_params,
            seed=self.seed,
            method=self.method,
        )
        return FittedModel(est, self.codec, self.version, self._state)

    def __repr__(self):
        return (
            f"RefitJob({type(self.estimator).__name__}, {len(self.y)} rows, "
            f"labels version {self.version})"
        )


class RefitMixin:
    """Refitting an ActiveLearner's model, and observing ``stopping`` after."""

    def _prepare(self, seed=None):
        state = self._state
        is_net = self._is_net()
        classes = self._declared()
        y = labels_for_fit(state.y_labeled, is_net, classes)
        warm = bool(self.warm_start) and self.model_fitted_
        if warm:  # a class the model has not seen needs a full refit
            encoded = encoded_classes(state.y_labeled, is_net, classes)
            if encoded is not None:
                warm = np.array_equal(encoded, state.label_classes)
            else:
                known = getattr(self.estimator_, "classes_", None)
                warm = known is not None and bool(np.isin(y, known).all())
        seed = self._draw_seed() if seed is None else seed
        if warm and hasattr(self.estimator_, "partial_fit"):
            est, method = copy.deepcopy(self.estimator_), "partial_fit"
        else:
            est, method = clone(self.estimator), "fit"
            # a module *instance* starts from weights drawn from this seed
            reset_module_instance(est, seed)
        X_fit, y_fit = (  # the pool marked -1 for a semi-supervised estimator
            state.with_pool(y, seed, self.max_unlabeled)
            if is_semi_supervised(self.estimator)
            else (state.X_labeled, y)
        )
        codec = encoded_classes(state.y_labeled, is_net, classes)
        return RefitJob(
            est,
            method,
            X_fit,
            y_fit,
            state.fit_params,
            seed,
            self._executor_,
            codec,
            state.version,
            state,
        )

    def prepare_refit(self):
        """A refit of the current labels to run elsewhere (a thread): fast.

        Takes a snapshot of the labels (and the pool, for a semi-supervised
        estimator) and draws the refit's seed; call it under the lock that
        guards the learner. Then ``fitted = job()`` (slow; it touches no
        state of the learner, which can keep being taught and queried
        meanwhile), then :meth:`install_model` under the lock.

        Returns
        -------
        job : callable
            ``job()`` returns the fitted model for :meth:`install_model`.

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
        >>> learner = learner.teach(y=[1], indices=[51], refit=False)
        >>> learner.model_stale_
        True
        >>> job = learner.prepare_refit()
        >>> fitted = job()                  # e.g. in a thread
        >>> learner.install_model(fitted).model_stale_
        False
        """
        check_is_fitted(self)
        if np.unique(self.y_labeled_).size < 2:
            raise ValueError(
                "prepare_refit needs labeled rows of two classes at least; the "
                f"labeled rows hold {np.unique(self.y_labeled_).size}."
            )
        return self._prepare()

    def install_model(self, fitted):
        """Swap in a model fitted by a :meth:`prepare_refit` job: fast.

        ``model_stale_`` stays True when labels changed after the job's
        snapshot (the next refit catches up); ``stopping`` observes the
        model otherwise.

        Parameters
        ----------
        fitted : object
            What the job returned.

        Returns
        -------
        self : ActiveLearner
        """
        check_is_fitted(self)
        if not isinstance(fitted, FittedModel) or fitted._state is not self._state:
            raise ValueError(
                "The 'fitted' parameter of install_model must be what a job of "
                "this learner's prepare_refit() returned (since its last fit); "
                f"got {fitted!r}."
            )
        self._install(fitted)
        if not self.model_stale_:
            self._observe_stopping()
        return self

    def _install(self, fitted):
        state = self._state
        self.estimator_ = fitted.estimator
        state.label_classes = fitted.label_classes
        self.model_fitted_ = True
        self.model_stale_ = fitted.version != state.version

    def _fit_model(self, seed=None):
        """Fit a fresh model on the labeled set; swap it in only on success."""
        self._install(self._prepare(seed)())

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
