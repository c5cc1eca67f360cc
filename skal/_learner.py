"""The ActiveLearner meta-estimator."""

from __future__ import annotations

import numbers
import os
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from . import _inputs, _simulation
from ._corrections import CorrectionsMixin
from ._inputs import frame_like, match_dtype
from ._labels import (
    check_classes,
    check_label_kind,
    check_no_lookalike,
    concrete_labels,
    declared_labels,
    refuse_mixed_labels,
    taught_labels,
    unlabeled_mask,
    validate_labels,
)
from ._persistence import SessionMixin, _journal
from ._refit import RefitMixin
from ._simulation import SimulationMixin
from ._state import LabelState, _is_pandas_index, expand_proba
from .backends import resolve_executor
from .backends._base import EXECUTOR_CONSTRAINTS, in_executor_session
from .base import check_n_instances, get_strategy_tags
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


def _state_field(name):
    """A fitted attribute of the learner kept in its session state."""

    def get(self):
        return getattr(self._state, name)

    def set_(self, value):
        setattr(self._state, name, value)

    return property(get, set_, doc=f"The session's ``{name}`` (skal._state).")


class ActiveLearner(
    CorrectionsMixin,
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
    strategy : strategy or "auto", default=None
        Picks the rows to label once a model exists; None uses
        :func:`skal.strategies.default_strategy`; ``"auto"`` a
        :class:`~skal.strategies.AutoSelect` (chooses among strategies each
        round from the session's own labels). Its parameters are grid
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
    missing_label : "auto", int, float, str or None, default="auto"
        The value of ``y`` that marks an unlabeled row. ``"auto"``: ``-1``
        (scikit-learn's marker; a number, never the string ``'-1'``), NaN,
        None and pandas NA, none of which is ever a class. An explicit
        value (``-1``, ``np.nan``, ``None``, or a string such as ``"?"``)
        marks alone. A label that only looks like the marker (the string
        ``'-1'``, ``'nan'``) is refused rather than turned into a class.
    classes : array-like or None, default=None
        The classes, declared up front: ``classes_`` is this list from
        ``fit`` on (probability columns in its order, a class no label holds
        yet included, with probability 0), a cold start with no label works
        (queries use ``initial_strategy``), and a label outside it is a
        ValueError naming it. None takes the classes from the labels.
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
        True when the model does not follow the labels: the last refit
        failed or was interrupted, or labels arrived with ``refit=False``
        (or after a :meth:`prepare_refit` snapshot). The labels are all
        recorded, ``estimator_`` is the previous model, and the next
        ``teach`` or :meth:`refit` (:meth:`resume` in a simulation) catches up.
    X_labeled_, y_labeled_ : array-like
        Every labeled row and its label, in the order they were taught.
    pool_indices_ : ndarray of int
        Rows of ``fit``'s ``X`` still unlabeled.
    labeled_indices_ : ndarray of int
        Rows of ``fit``'s ``X`` that are labeled (taught ones included).
    history_ : list of dict
        One record per round (``fit``'s labels, every ``teach``, every
        simulated round): ``round``, ``indices`` (into ``fit``'s ``X``),
        ``n_labels``, ``query_seconds``, ``fit_seconds``, ``query_info`` (what
        the strategy's ``select`` said of the rows taught, arrays left out),
        when ``fit`` got ``eval_set``, ``score`` and, when ``stopping`` is
        set, ``stop_reason`` (None, or why the simulation stopped there).
    label_provenance_ : list of dict
        One per labeled row, aligned with ``y_labeled_``: ``row`` (of
        ``fit``'s ``X``; None for rows given as new ``X``), ``round`` (that
        labeled it), ``strategy`` (the name of the strategy that picked it;
        None for rows the person chose) and ``score`` (its score there, or
        None). Saved, and rebuilt by a journal's replay.
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
        The declared ``classes``, else the class labels known to the fitted
        model.

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
        "strategy": [StrategyInstance(), StrOptions({"auto"}), None],
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
        "classes": ["array-like", None],
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
        missing_label="auto",
        max_unlabeled=10000,
        callbacks=None,
        classes=None,
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
        self.classes = classes

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
            if isinstance(self.strategy, str):  # "auto"
                from . import strategies

                auto = getattr(strategies, "AutoSelect", None)
                if auto is None:
                    raise ValueError(
                        "strategy='auto' needs skal.strategies.AutoSelect, which "
                        "this version of skal lacks; pass a strategy."
                    )
                return auto()
            return self.strategy if self.strategy is not None else default_strategy()
        s = self.initial_strategy
        s = RandomSampling() if s is None else s
        if get_strategy_tags(s).requires_model:
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

    def _declared(self):
        """The declared classes of this session (``classes`` at ``fit``)."""
        state = self._state
        if state.classes is None and self.classes is not None:  # a loaded file
            state.classes = check_classes(self.classes, self.missing_label)
        return state.classes

    # the session, as the state holds it (one owner: skal._state.LabelState)
    X_labeled_ = property(lambda self: self._state.X_labeled)
    y_labeled_ = property(lambda self: self._state.y_labeled)
    labeled_indices_ = property(lambda self: self._state.labeled_indices)
    pool_indices_ = property(lambda self: self._state.pool_indices)
    label_provenance_ = property(lambda self: self._state.provenance)
    _X_fit = property(lambda self: self._state.X)  # fit's X (the check suite)
    history_ = _state_field("history")
    stop_observations_ = _state_field("stop_observations")
    stop_reason_ = _state_field("stop_reason")
    model_fitted_ = _state_field("model_fitted")
    model_stale_ = _state_field("model_stale")

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
            Labels; ``-1``, NaN, None and pandas NA mark an unlabeled row
            (kept as the pool; see ``missing_label``). In a simulation every
            row must be labeled: ``y`` is the oracle.
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
        missing = self.missing_label  # its type: _parameter_constraints
        classes = check_classes(self.classes, missing)
        unlabeled = unlabeled_mask(y, missing)
        check_no_lookalike(y, unlabeled, missing)
        refuse_mixed_labels(y[~unlabeled])
        if self.budget is not None:  # a simulation: every row starts in the pool
            labeled, pool = np.empty(0, dtype=np.intp), np.arange(n)
            if classes is not None and not unlabeled.any():
                y = declared_labels(concrete_labels(y), classes, "fit")
            y_labeled = y[:0] if classes is None else classes[:0]
        else:
            labeled = np.flatnonzero(~unlabeled)
            y_labeled = concrete_labels(y[labeled])
            if classes is not None:
                y_labeled = declared_labels(y_labeled, classes, "fit")
            pool = np.flatnonzero(unlabeled)
        # every check passed: from here on the learner is (re)fitted
        self.estimator_ = clone(self.estimator)
        self._state = LabelState(
            X, labeled, y_labeled, pool, rng=rng, fit_params=fit_params, index=index
        )
        self._state.classes = classes
        self._state.eval_set = eval_set
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
        """The active strategy's ``select``: (indices, info)."""
        strategy = self._active_strategy()
        seed = self._draw_seed()
        kw = {
            "n_instances": n_instances,
            "candidates": candidates,
            "random_state": seed,
        }
        # torch draws (MC dropout, DataLoader seeds) come from this seed too,
        # inside fork_rng, so the user's global generators are left alone.
        with seeded_torch(seed, active=self._is_net()):
            select = getattr(strategy, "select", None)
            if callable(select):
                idx, info = select(self, X, **kw)
            else:  # a duck-typed strategy: its indices alone
                idx, info = strategy(self, X, **kw), {}
        info = dict(info or {})
        info.setdefault("strategy", type(strategy).__name__)
        info.setdefault("scores", None)
        return np.asarray(idx, dtype=np.intp), info

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
            Return a ``pandas.Index`` of the picked rows' index labels
            (``X.index[positions]``, for ``df.loc[...]``) instead of their
            positions; needs a DataFrame or Series (``fit``'s when ``X`` is
            None). ``teach(y, indices=labels)`` (or ``index=labels``) takes
            them back: a ``pandas.Index`` given as ``indices`` is read as
            labels, never as positions.

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
        if (
            return_index
            and index is None
            and (X is not None or self._state.index is None)
        ):
            _inputs.index_labels(None, None, X is None)  # the error
        t0 = time.perf_counter()
        if X is None:
            state = self._state
            idx, info = self._run_strategy(state.X, n, state.pool_indices)
            state.note_query(idx, time.perf_counter() - t0, info)
            index = state.index
        else:
            idx, _ = self._run_strategy(self._validate_X(X, reset=False), n)
        return _inputs.index_labels(index, idx, X is None) if return_index else idx

    def _rows(self, indices, index, method, *, labeled):
        """The rows of fit's X that ``indices=`` / ``index=`` name, checked."""
        state = self._state
        param = "index" if index is not None or _is_pandas_index(indices) else "indices"
        rows = state.rows_of(indices, index, method)
        return state.check_rows(rows, method, param, labeled=labeled)

    @in_executor_session
    def teach(self, X=None, y=None, *, indices=None, index=None, refit=True):
        """Add labeled rows and refit: one round of the session.

        The labels are recorded (and journaled) before the refit: if the
        refit fails (or is interrupted), they stay in ``X_labeled_`` /
        ``y_labeled_``, the previous model keeps predicting, and the next
        ``teach`` or :meth:`refit` recovers. Each call is a round: it
        enters ``history_`` and runs the callbacks, as a simulated round
        does, and each row taught gets its ``label_provenance_``.

        Parameters
        ----------
        X : array-like of shape (n_new, ...), default=None
            New rows; leave None when giving ``indices`` or ``index``. Rows
            equal (exactly, same dtype) to rows of the stored pool, as
            ``X_pool[idx]`` is, are those pool rows: they leave
            ``pool_indices_``. When only some rows of ``X`` are in the pool,
            a warning says so and all are taught as new rows; pass
            ``indices=`` to be explicit.
        y : array-like of shape (n_new,)
            Their labels (an unlabeled marker is not a label).
        indices : array-like of int, or pandas Index, default=None
            Rows of ``fit``'s ``X`` from the stored pool that ``y`` labels:
            positions (as ``query()`` returns them), or a ``pandas.Index`` of
            index labels (as ``query(return_index=True)`` returns them).
        index : array-like, default=None
            Rows of the stored pool named by the index labels of ``fit``'s
            DataFrame (or Series).
        refit : bool, default=True
            Refit after recording. False records (and journals) the labels,
            sets ``model_stale_`` and leaves the model as it was: the next
            ``teach``, :meth:`refit` or :meth:`install_model` catches up.

        Returns
        -------
        self : ActiveLearner

        Raises
        ------
        ValueError
            An id that names no row of the stored pool (a labeled row: use
            :meth:`relabel`), a label outside the declared ``classes``, an
            unlabeled marker as a label. Nothing is recorded.
        """
        check_is_fitted(self)
        state = self._state
        if y is None:
            raise ValueError("The 'y' parameter of teach is required; got None.")
        pool_rows = None
        if indices is not None or index is not None:
            if X is not None:
                raise ValueError(
                    "Pass either X or indices/index to teach, not both: they "
                    "name rows of the stored pool, whose X is already known."
                )
            pool_rows = self._rows(indices, index, "teach", labeled=False)
            X = take_rows(state.X, pool_rows)
        elif X is None:
            raise ValueError(
                "teach needs X (new rows), or indices= / index= (stored pool rows)."
            )
        else:
            X = self._validate_X(frame_like(X, self.X_labeled_), reset=False)
        y = taught_labels(y, _num_samples(X), self.missing_label)
        if y.shape[0] == 0:
            return self
        y = self._match_labels(y)
        if pool_rows is None:  # teach(X_pool[idx], y), modAL's way
            pool_rows = _inputs.pool_rows_of(X, state.X, self.pool_indices_)
            pool_X = None if pool_rows is None else take_rows(state.X, pool_rows)
            X = match_dtype(X, self.X_labeled_) if pool_X is None else pool_X
            if pool_rows is None:  # teach(X[[i]], y) of a labeled row i
                _inputs.warn_labeled_rows(X, state.X, state.labeled_indices)
        # journal (fsynced), then record, then refit: a crash or a failed
        # refit at any point loses no label
        p = _simulation.pending_round(state, pool_rows)  # a simulation's
        round_ = _simulation.teach_round(self, p)
        prov = _simulation.provenance_of(state, pool_rows, y.shape[0], round_)
        self._journal_labels(
            y,
            indices=pool_rows,
            X=X if pool_rows is None else None,
            source="teach" if p is None else "simulation",
            round_=None if p is None else p["round"],
            prov=prov,
        )
        n_before = state.n_labels
        state.add(X, y, pool_rows=pool_rows, prov=prov)
        _simulation.begin_teach_round(self, p, round_, n_before, y.shape[0])
        t0 = time.perf_counter()
        if refit:
            self._refit_if_able(None if p is None else p["fit_seed"])  # 1 class: none
        else:
            self.model_stale_ = True
        _simulation.end_teach_round(self, round_, p, pool_rows, t0, refit)
        return self

    def _match_labels(self, y, method="teach"):
        """Labels of this session's kind (numbers or strings) and dtype."""
        classes = self._declared()
        if classes is not None:
            return declared_labels(y, classes, method)
        check_label_kind(y, self.y_labeled_, method)
        return self._state.match_labels(y, method)

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
        """The declared classes, else the class labels of the fitted model."""
        declared = self._declared() if hasattr(self, "_state") else None
        if declared is not None:
            return declared
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
        """Class probabilities from the fitted model, a column per ``classes_``."""
        X = self._check_model(X)
        return self._proba(X)

    def _proba(self, X):
        if self._state.label_classes is not None:
            return self._state.decode_proba(self.estimator_.predict_proba(X))
        proba = self.estimator_.predict_proba(X)
        declared = self._declared()
        if declared is not None:
            return expand_proba(proba, self.estimator_.classes_, declared)
        return proba

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities: ``log(predict_proba(X))``, same columns."""
        X = self._check_model(X)
        with np.errstate(divide="ignore"):
            return np.log(self._proba(X))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the fitted model."""
        X = self._check_model(X)
        return self.estimator_.decision_function(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "history_")
