"""The ActiveLearner meta-estimator."""

from __future__ import annotations

import numbers
import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, InvalidParameterError
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from . import _inputs, _simulation
from ._inputs import frame_like, match_dtype
from ._labels import (
    check_label_kind,
    check_no_lookalike,
    concrete_labels,
    refuse_mixed_labels,
    taught_labels,
    unlabeled_mask,
    validate_labels,
)
from ._persistence import SessionMixin, _journal
from ._refit import RefitMixin
from ._simulation import SimulationMixin
from ._state import LabelState
from .backends import resolve_executor
from .backends._base import EXECUTOR_CONSTRAINTS, in_executor_session
from .base import check_n_instances
from .callbacks import check_callbacks
from .models import is_skorch_net
from .strategies import RandomSampling, default_strategy
from .utils._arrays import take_rows
from .utils._seeding import SEED_MAX, seeded_torch
from .utils._validation import Count, Described, StrategyInstance

__all__ = ["ActiveLearner"]


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class ActiveLearner(
    RefitMixin,
    SessionMixin,
    SimulationMixin,
    MetaEstimatorMixin,
    ClassifierMixin,
    BaseEstimator,
):
    """Pool-based active learning around any probabilistic classifier.

    Wraps a skorch ``NeuralNetClassifier`` (on any device), a scikit-learn
    classifier or a ``Pipeline`` ending in one. Two ways to use it:

    * **A human answers the queries**: ``fit`` on the labeled seed set (rows
      of ``y`` equal to ``-1`` are kept as the unlabeled pool), then
      ``query`` → ``teach`` as often as labels arrive.
    * **Simulation** (``budget`` set): ``y`` is the oracle, and ``fit`` runs
      the whole loop until ``budget`` labels are used. The final
      ``estimator_`` is trained on what was selected, so ``score``,
      ``cross_val_score`` and ``GridSearchCV`` compare strategies at equal
      budget.

    Parameters
    ----------
    estimator : classifier
        Has ``fit`` and ``predict_proba``. Cloned into ``estimator_``; the
        object passed is never fitted.
    strategy : strategy, default=None
        Picks the rows to label once a model exists; None uses
        :func:`skal.strategies.default_strategy`. Its parameters are grid
        searchable as ``strategy__<param>``.
    n_instances : int, default=1
        Rows per query (per round in a simulation).
    budget : int, default=None
        Turns ``fit`` into a simulation that stops at this many labels.
    stopping : stopping criterion, default=None
        When to stop labeling (:mod:`skal.stopping`): observed after every
        refit. A simulation ends as soon as it fires (``history_`` records
        ``stop_reason``); interactively :meth:`should_stop` tells. Its
        parameters are grid searchable as ``stopping__<param>``.
    n_initial : int, default=None
        Size of the initial labeled set of a simulation, chosen by
        ``initial_strategy``; None uses ``n_instances``.
    initial_strategy : strategy, default=None
        Picks rows while there is no model (no labels yet); None uses
        :class:`~skal.strategies.RandomSampling`. Must not need a model.
    warm_start : bool, default=False
        Refit by continuing training (``partial_fit``) where the estimator
        supports it, instead of a full refit from scratch. For nets it does
        not pay: measured on MNIST-1D it is 0.015 accuracy worse at 640
        labels and no faster (see the training page).
    executor : executor, default=None
        Where fits and pool scoring run: :class:`~skal.backends.LocalExecutor`
        or :class:`~skal.backends.ModalExecutor` (Modal GPUs). None uses the
        executor entered with ``with executor:``, else a ``LocalExecutor``.
    random_state : int, RandomState instance or None, default=None
        Seeds every query and, for skorch nets, every fit (inside
        ``torch.random.fork_rng``): a simulation with an int seed is
        bit-identical across runs.
    verbose : int, default=0
        Progress of a simulation (the default callbacks,
        :mod:`skal.callbacks`): 0 draws a tqdm bar (labels, rounds, time
        left) only when stderr is a terminal; >= 1 always draws it and prints
        one line per round, as the round ends.
    journal : str or path-like, default=None
        A JSON-lines file that every taught label is appended to (row
        identity, label, time), flushed and ``fsync``\\ ed *before* the refit,
        so a crash loses no label. ``fit`` appends a session line
        (fingerprints of ``X`` and ``y``); the labels ``fit`` gets in ``y``
        are not journaled (you hold them). If the file cannot be written,
        ``teach`` raises before recording anything. Recover with
        :meth:`replay_journal`; read with :meth:`read_journal`. Use one
        journal per learner.
    max_unlabeled : int or None, default=10000
        When the estimator is semi-supervised (:func:`skal.semi_supervised.\
is_semi_supervised`: skal's FixMatch and pseudo-label nets, scikit-learn's
        ``SelfTrainingClassifier``, ``LabelSpreading``, ``LabelPropagation``,
        or an estimator tagged so), every refit gets the labeled rows plus the
        stored pool labeled ``-1``; a pool larger than ``max_unlabeled`` is
        subsampled (seeded by the refit's seed). None passes the whole pool.
        Other estimators never see the pool.
    missing_label : int, float, str or None, default=-1
        The value of ``y`` that marks an unlabeled row (scikit-learn's ``-1``;
        ``np.nan`` for float labels, ``None`` for object labels, or a string
        such as ``"?"``). A label that only looks like it (the string
        ``'-1'`` when the marker is the number ``-1``, NaN when it is not
        NaN) is refused rather than turned into a class.
    callbacks : list of callbacks, default=None
        Objects with ``on_round_begin(learner, **info)`` /
        ``on_round_end(learner, **info)`` (and ``on_simulation_begin`` /
        ``on_simulation_end``), skorch's style: see :mod:`skal.callbacks`.
        They run after the defaults (:class:`~skal.callbacks.History`, which
        fills ``history_``, and in simulations a
        :class:`~skal.callbacks.ProgressBar`), in their order.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    model_fitted_ : bool
        False until the first labels have been fitted. A session fits no
        model while its labeled rows hold a single class (queries use
        ``initial_strategy`` meanwhile).
    model_stale_ : bool
        True when the last refit failed or was interrupted: the labels are
        all recorded, ``estimator_`` is the previous model, and the next
        ``teach`` or :meth:`refit` (:meth:`resume` in a simulation) catches up.
    X_labeled_, y_labeled_ : array-like
        Every labeled row and its label, in the order they were taught.
    pool_indices_ : ndarray of int
        Rows of ``fit``'s ``X`` still unlabeled.
    labeled_indices_ : ndarray of int
        Rows of ``fit``'s ``X`` that are labeled (taught ones included).
    history_ : list of dict
        One record per round: ``round``, ``indices`` (into ``fit``'s ``X``),
        ``n_labels``, ``query_seconds``, ``fit_seconds``, when ``fit``
        got ``eval_set``, ``score`` and, when ``stopping`` is set,
        ``stop_reason`` (None, or why the simulation stopped there).
    stop_reason_ : str or None
        Why ``stopping`` says to stop after the last refit; None to go on
        (or without ``stopping``).
    stop_observations_ : list of dict
        What ``stopping`` observed after each refit, oldest first (its
        ``observe`` output: kappas, uncertainties... are computed from these);
        empty without ``stopping``.
    n_features_in_ : int
        Number of features of 2-D ``X``.
    classes_ : ndarray
        Class labels known to the fitted model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal import ActiveLearner
    >>> from skal.strategies import MarginSampling
    >>> X, y = load_iris(return_X_y=True)
    >>> y_seed = np.full_like(y, -1)
    >>> y_seed[[0, 50, 100]] = y[[0, 50, 100]]
    >>> learner = ActiveLearner(LogisticRegression(), strategy=MarginSampling(),
    ...                         n_instances=5, random_state=0).fit(X, y_seed)
    >>> idx = learner.query()
    >>> learner = learner.teach(y=y[idx], indices=idx)
    >>> len(learner.y_labeled_), len(learner.pool_indices_)
    (8, 142)
    """

    _is_skal_learner = True

    # Checked at the start of fit (``_check_params``), as scikit-learn does:
    # the one place the parameters' types and ranges are stated.
    _parameter_constraints = {
        "estimator": [Described(HasMethods(["fit"]), "a classifier (with fit)")],
        "strategy": [StrategyInstance(), None],
        "n_instances": [Count(1)],
        "budget": [Count(1), None],
        "stopping": [
            Described(
                HasMethods(["observe", "decide"]),
                "a skal stopping criterion (skal.stopping)",
            ),
            None,
        ],
        "n_initial": [Count(1), None],
        "initial_strategy": [StrategyInstance(), None],
        "warm_start": ["boolean"],
        "executor": EXECUTOR_CONSTRAINTS,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "journal": [str, os.PathLike, None],
        "missing_label": [
            Described(numbers.Real, "a number (-1 or NaN)", refuse_bool=True),
            str,
            None,
        ],
        "max_unlabeled": [Count(1), None],
        "callbacks": [Described(list, "a list of callbacks (skal.callbacks)"), None],
    }

    def __init__(
        self,
        estimator,
        *,
        strategy=None,
        n_instances=1,
        budget=None,
        stopping=None,
        n_initial=None,
        initial_strategy=None,
        warm_start=False,
        executor=None,
        random_state=None,
        verbose=0,
        journal=None,
        missing_label=-1,
        max_unlabeled=10000,
        callbacks=None,
    ):
        self.estimator = estimator
        self.strategy = strategy
        self.n_instances = n_instances
        self.budget = budget
        self.stopping = stopping
        self.n_initial = n_initial
        self.initial_strategy = initial_strategy
        self.warm_start = warm_start
        self.executor = executor
        self.random_state = random_state
        self.verbose = verbose
        self.journal = journal
        self.missing_label = missing_label
        self.max_unlabeled = max_unlabeled
        self.callbacks = callbacks

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.three_d_array = True
        return tags

    def set_params(self, **params):
        """Set parameters; ``strategy__<param>`` needs a strategy object.

        With ``strategy=None`` the default (:class:`~skal.strategies.ColdStartHybrid`)
        is built at query time, so it has no parameters to set: pass
        ``strategy=ColdStartHybrid()`` to tune it.
        """
        _inputs.check_nested_params(self, params)
        return super().set_params(**params)

    # ------------------------------------------------------------ validation
    def _check_params(self):
        for name in ("strategy", "initial_strategy"):
            s = getattr(self, name)
            if isinstance(s, type):  # the generic message would not say "()"
                raise InvalidParameterError(
                    f"The '{name}' parameter of ActiveLearner must be a strategy "
                    f"instance or None. Got the class {s.__name__} instead: pass "
                    f"{s.__name__}()."
                )
        self._validate_params()
        check_callbacks(self.callbacks)

    def _validate_X(self, X, *, reset):
        """Check ``X`` without copying it (:func:`skal._inputs.validate_rows`)."""
        return _inputs.validate_rows(
            self, X, reset=reset, is_net=self._is_net(), allow_nan=self._allow_nan()
        )

    def _allow_nan(self):
        return get_tags(self.estimator).input_tags.allow_nan

    # ---------------------------------------------------------------- helpers
    def _draw_seed(self):
        return self._state.draw_seed()

    def _is_net(self):
        return is_skorch_net(self.estimator)

    def _active_strategy(self):
        if self.model_fitted_:
            return self.strategy if self.strategy is not None else default_strategy()
        s = self.initial_strategy
        s = RandomSampling() if s is None else s
        if getattr(s, "_needs_model", True):
            raise NotFittedError(
                "There is no model yet (no labeled rows, or a single class), and "
                f"the 'initial_strategy' {s!r} needs one. Pass labeled rows to "
                "fit, or use an initial_strategy that needs no model, such as "
                "RandomSampling()."
            )
        return s

    @property
    def _executor_(self):
        """The executor in use: ``executor``, else the entered one, else local."""
        return resolve_executor(self.executor)

    def _journal_labels(self, y, **kw):
        """Append labels to the journal (locked, fsynced, whole or not at all)."""
        _journal.write_labels(self._state, self.journal, y, **kw)

    # the labels, as the state holds them (one owner: skal._state.LabelState)
    X_labeled_ = property(lambda self: self._state.X_labeled)
    y_labeled_ = property(lambda self: self._state.y_labeled)
    labeled_indices_ = property(lambda self: self._state.labeled_indices)
    pool_indices_ = property(lambda self: self._state.pool_indices)
    _X_fit = property(lambda self: self._state.X)  # fit's X (the check suite)

    # -------------------------------------------------------------------- fit
    @in_executor_session
    def fit(self, X, y, *, eval_set=None, **fit_params):
        """Fit on the labeled rows, or run the simulation when ``budget`` is set.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Anything the estimator accepts: tables, images (N×C×H×W),
            sequences (N×C×L). Not copied.
        y : array-like of shape (n_samples,)
            Labels; ``-1`` marks an unlabeled row (kept as the pool). In a
            simulation every row must be labeled: ``y`` is the oracle.
        eval_set : tuple (X_val, y_val), default=None
            Held-out rows: each round of ``history_`` (and the ``info`` of
            ``on_round_end``, :mod:`skal.callbacks`) gets their ``score``.
        **fit_params : dict
            Passed to the estimator's ``fit`` on every refit.

        Returns
        -------
        self : ActiveLearner
        """
        return self._fit(X, y, eval_set, fit_params)

    def _fit(self, X, y, eval_set, fit_params, script=None):
        self._check_params()
        index = X.index if _inputs.is_pandas(X) else None
        X = self._validate_X(X, reset=True)
        n = _num_samples(X)
        y = validate_labels(y, n)
        rng = np.random.RandomState(
            check_random_state(self.random_state).randint(SEED_MAX)
        )
        self.estimator_ = clone(self.estimator)
        self.model_fitted_ = False
        self.model_stale_ = False
        self.history_ = []
        self.stop_reason_, self.stop_observations_ = None, []
        missing = self.missing_label  # its type: _parameter_constraints
        unlabeled = unlabeled_mask(y, missing)
        check_no_lookalike(y, unlabeled, missing)
        refuse_mixed_labels(y[~unlabeled])
        if self.budget is not None:  # a simulation: every row starts in the pool
            labeled, y_labeled, pool = [], y[:0], np.arange(n)
        else:
            labeled = np.flatnonzero(~unlabeled)
            y_labeled = concrete_labels(y[labeled])
            pool = np.flatnonzero(unlabeled)
        self._state = LabelState(
            X, labeled, y_labeled, pool, rng=rng, fit_params=fit_params, index=index
        )
        self._state.sim_script = script  # resume(X, y): rounds from the journal
        if self.journal is not None:
            n_labeled = int((~unlabeled).sum())
            _journal.open_session(self._state, self.journal, X, y, n_labeled)
        if self.budget is not None:
            return _simulation.start(self, y, unlabeled, eval_set)
        if labeled.size:  # round 0: the labels fit was given
            _simulation.first_round(self, labeled, unlabeled.any(), eval_set)
        return self

    # ------------------------------------------------------------ query/teach
    def _run_strategy(self, X, n_instances, candidates=None):
        strategy = self._active_strategy()
        seed = self._draw_seed()
        # torch draws (MC dropout, DataLoader seeds) come from this seed too,
        # inside fork_rng, so the user's global generators are left alone.
        with seeded_torch(seed, active=self._is_net()):
            return strategy(
                self,
                X,
                n_instances=n_instances,
                candidates=candidates,
                random_state=seed,
            )

    def _query_stored(self, n_instances):
        state = self._state
        if state.sim_script is not None:
            return _simulation.scripted_round(self, n_instances)  # resume(X, y)
        return self._run_strategy(state.X, n_instances, state.pool_indices)

    @in_executor_session
    def query(self, X=None, n_instances=None, *, return_index=False):
        """Pick rows to label next.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), default=None
            A pool to choose from. None uses the stored pool (the unlabeled
            rows of ``fit``'s ``X`` not taught yet) and returns indices into
            ``fit``'s ``X``, never one already labeled.
        n_instances : int, default=None
            How many; None uses ``self.n_instances``.
        return_index : bool, default=False
            Return the pandas index labels of the picked rows
            (``X.index[positions]``, for ``df.loc[...]``) instead of their
            positions; needs a DataFrame or Series (``fit``'s when ``X`` is
            None). Teach them back with ``teach(df.loc[labels], answers)``
            or with ``indices=df.index.get_indexer(labels)``.

        Returns
        -------
        indices : ndarray of int, or pandas Index
            ``min(n_instances, number of candidates)`` distinct positions
            (index labels with ``return_index=True``).
        """
        check_is_fitted(self)
        n = check_n_instances(
            self.n_instances if n_instances is None else n_instances,
            owner="ActiveLearner",
        )
        index = X.index if _inputs.is_pandas(X) else None
        if X is None:
            idx = self._query_stored(n)
            index = self._state.index
        else:
            idx = self._run_strategy(self._validate_X(X, reset=False), n)
        return _inputs.index_labels(index, idx, X is None) if return_index else idx

    @in_executor_session
    def teach(self, X=None, y=None, *, indices=None):
        """Add labeled rows and refit.

        The labels are recorded before the refit: if the refit fails (or is
        interrupted), they stay in ``X_labeled_`` / ``y_labeled_``, the
        previous model keeps predicting, and the next ``teach`` or
        :meth:`refit` recovers.

        Parameters
        ----------
        X : array-like of shape (n_new, ...), default=None
            New rows; leave None when giving ``indices``. Rows equal (exactly,
            same dtype) to rows of the stored pool, as ``X_pool[idx]`` is,
            are those pool rows: they leave ``pool_indices_``. When only some
            rows of ``X`` are in the pool, a warning says so and all are
            taught as new rows; pass ``indices=`` to be explicit.
        y : array-like of shape (n_new,)
            Their labels (``-1`` is not a label).
        indices : array-like of int, default=None
            Rows of ``fit``'s ``X`` from the stored pool that ``y`` labels
            (as returned by ``query()``).

        Returns
        -------
        self : ActiveLearner
        """
        check_is_fitted(self)
        if y is None:
            raise ValueError("The 'y' parameter of teach is required; got None.")
        pool_rows = None
        if indices is not None:
            if X is not None:
                raise ValueError(
                    "Pass either X or indices to teach, not both: indices name "
                    "rows of the stored pool, whose X is already known."
                )
            pool_rows = self._state.check_pool_indices(indices)
            X = take_rows(self._state.X, pool_rows)
        elif X is None:
            raise ValueError("teach needs X (new rows) or indices (stored pool rows).")
        else:
            X = self._validate_X(frame_like(X, self.X_labeled_), reset=False)
        y = taught_labels(y, _num_samples(X), self.missing_label)
        if y.shape[0] == 0:
            return self
        y = self._match_labels(y)
        if pool_rows is None:  # teach(X_pool[idx], y), modAL's way
            pool_rows = _inputs.pool_rows_of(X, self._state.X, self.pool_indices_)
            pool_X = None if pool_rows is None else take_rows(self._state.X, pool_rows)
            X = match_dtype(X, self.X_labeled_) if pool_X is None else pool_X
        # journal (fsynced), then record, then refit: a crash or a failed
        # refit at any point loses no label
        p = _simulation.pending_round(self._state, pool_rows)  # a simulation's
        self._journal_labels(
            y,
            indices=pool_rows,
            X=X if pool_rows is None else None,
            source="teach" if p is None else "simulation",
            round_=None if p is None else p["round"],
        )
        self._state.add(X, y, pool_rows=pool_rows)
        self._refit_if_able(None if p is None else p["fit_seed"])  # 1 class: none
        return self

    def _match_labels(self, y):
        """Labels of this session's kind (numbers or strings) and dtype."""
        check_label_kind(y, self.y_labeled_)
        return self._state.match_labels(y)

    @in_executor_session
    def refit(self):
        """Refit the model on every labeled row (recovers a failed ``teach``).

        Returns
        -------
        self : ActiveLearner
        """
        check_is_fitted(self)
        if self.y_labeled_.shape[0] == 0:
            raise NotFittedError("refit needs labeled rows; teach some first.")
        self._refit_keep_labels()
        return self

    # ------------------------------------------------------------- delegation
    def _check_model(self, X):
        check_is_fitted(self)
        if not self.model_fitted_:
            raise NotFittedError(
                "This ActiveLearner has no model yet: its labeled rows hold "
                "fewer than two classes. Teach some labels first."
            )
        return self._validate_X(X, reset=False)

    @property
    def classes_(self):
        """Class labels known to the fitted model."""
        encoded = self._state.label_classes
        if encoded is not None:
            return encoded
        return self.estimator_.classes_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict class labels with the fitted model."""
        X = self._check_model(X)
        classes = self._state.label_classes
        if classes is not None:
            proba = self._state.decode_proba(self.estimator_.predict_proba(X))
            return classes[np.argmax(proba, axis=1)]
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the fitted model."""
        X = self._check_model(X)
        if self._state.label_classes is not None:
            return self._state.decode_proba(self.estimator_.predict_proba(X))
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the fitted model."""
        X = self._check_model(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the fitted model."""
        X = self._check_model(X)
        return self.estimator_.decision_function(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "history_")
