"""Base classes of the query-strategy protocol.

Every strategy is a small :class:`~sklearn.base.BaseEstimator` whose public
``__call__`` validates its input and guarantees the contract, while the
subclass implements only ``_query`` (public method validates, private hook
computes). :class:`StrategyPipeline` (public as
:class:`skal.strategies.StrategyPipeline`) is here too, since ``a | b`` builds
one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.pipeline import _name_estimators
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import _num_samples

from .utils._seeding import draw_seed
from .utils._validation import StrategyInstance, check_int

__all__ = [
    "BaseStrategy",
    "ScoreStrategy",
    "StrategyContractError",
    "StrategyTags",
    "get_strategy_tags",
    "top_k",
]


@dataclass
class StrategyTags:
    """What a strategy declares about itself (scikit-learn's ``Tags`` idea).

    Returned by ``strategy.__skal_tags__()``; a subclass overrides that
    method, calls ``super().__skal_tags__()`` and changes the fields it
    needs. Read them with :func:`get_strategy_tags`.

    Attributes
    ----------
    deterministic : bool, default=False
        The selection does not depend on ``random_state`` (up to ties), so a
        ``score`` ignores its ``random_state``. The check suite then tests
        equivariance to a permutation of the pool.
    class_balanced : bool, default=False
        Per-class counts of a selection differ by at most one where the pool
        allows (the check suite tests it).
    requires_model : bool, default=True
        The strategy reads the model; False lets it run before the first
        labels (as an ``initial_strategy``).

    Examples
    --------
    >>> from skal.base import ScoreStrategy
    >>> class Smallest(ScoreStrategy):
    ...     def __skal_tags__(self):
    ...         tags = super().__skal_tags__()
    ...         tags.requires_model = False
    ...         return tags
    ...     def _score(self, learner, X, candidates):
    ...         return -X[candidates, 0]
    >>> Smallest().__skal_tags__()
    StrategyTags(deterministic=True, class_balanced=False, requires_model=False)
    """

    deterministic: bool = False
    class_balanced: bool = False
    requires_model: bool = True


#: Class attributes that declared the traits before tags (private flags), and
#: the tag each maps to.
_LEGACY_FLAGS = {
    "_deterministic": "deterministic",
    "_class_balanced": "class_balanced",
    "_needs_model": "requires_model",
}


def get_strategy_tags(strategy) -> StrategyTags:
    """The tags of a strategy (defaults for an object without tags).

    Like scikit-learn's :func:`~sklearn.utils.get_tags`. The private flags of
    older strategies (``_deterministic``, ``_class_balanced``,
    ``_needs_model``, deprecated) still count, and win over the tags of the
    classes they are set under.

    Parameters
    ----------
    strategy : strategy
        Any strategy, a :class:`BaseStrategy` or a duck-typed callable.

    Returns
    -------
    tags : StrategyTags

    Examples
    --------
    >>> from skal.base import get_strategy_tags
    >>> from skal.strategies import MarginSampling, RandomSampling
    >>> get_strategy_tags(MarginSampling()).deterministic
    True
    >>> get_strategy_tags(RandomSampling()).requires_model
    False
    """
    method = getattr(strategy, "__skal_tags__", None)
    tags = method() if callable(method) else StrategyTags()
    if not isinstance(tags, StrategyTags):  # an estimator's dict of tags
        tags = StrategyTags()
    # legacy flags, set by a class (above BaseStrategy) or on a duck type
    seen = set()
    for klass in type(strategy).__mro__:
        if klass is BaseStrategy:
            break
        for flag, field in _LEGACY_FLAGS.items():
            if flag in klass.__dict__ and field not in seen:
                seen.add(field)
                setattr(tags, field, bool(getattr(strategy, flag)))
    return tags


class StrategyContractError(RuntimeError):
    """Raised when a strategy's ``_query`` breaks the selection contract.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.base import BaseStrategy, StrategyContractError
    >>> class Twice(BaseStrategy):
    ...     def _query(self, learner, X, *, n_instances, candidates, random_state):
    ...         return candidates[:1].repeat(n_instances)
    >>> try:
    ...     Twice()(None, np.zeros((4, 1)), n_instances=2)
    ... except StrategyContractError as exc:
    ...     print(exc)
    Twice._query returned duplicate indices.
    """


def check_n_instances(n_instances, *, name="n_instances", owner="BaseStrategy"):
    """Validate a number of instances: an int >= 1 (bools refused).

    scikit-learn's constraint machinery (:func:`skal.utils._validation.check_int`)
    raises ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``).
    """
    return check_int(n_instances, name, owner)


def check_candidates(candidates, n_samples):
    """Validate candidate indices into a pool of ``n_samples`` rows."""
    if candidates is None:
        return np.arange(n_samples, dtype=np.intp)
    cand = np.asarray(candidates)
    if cand.ndim != 1:
        raise ValueError(
            "The 'candidates' parameter must be a 1-D array of int indices. "
            f"Got an array of shape {cand.shape} instead."
        )
    if cand.size == 0:
        return np.empty(0, dtype=np.intp)
    if not np.issubdtype(cand.dtype, np.integer):
        raise TypeError(
            "The 'candidates' parameter must hold int indices. "
            f"Got dtype {cand.dtype} instead."
        )
    if cand.min() < 0 or cand.max() >= n_samples:
        raise IndexError(
            "The 'candidates' parameter must hold indices in [0, "
            f"{n_samples}). Got values in [{cand.min()}, {cand.max()}] instead."
        )
    if np.unique(cand).size != cand.size:
        raise ValueError("The 'candidates' parameter must not contain duplicates.")
    return cand.astype(np.intp, copy=False)


def top_k(scores, k, random_state):
    """Positions of the ``k`` highest scores, ties broken at random.

    Ties are broken by ``random_state``, never by position, so that the
    selection is equivariant to a permutation of the pool when no two scores
    tie.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Higher is better. NaN scores rank last.
    k : int
        Number of positions to return (``k <= n``).
    random_state : int, RandomState instance or None
        Source of the tie-breaking keys.

    Returns
    -------
    positions : ndarray of shape (k,)
        Positions into ``scores``, best first.

    Examples
    --------
    >>> from skal.base import top_k
    >>> top_k([0.1, 0.9, 0.5], 2, random_state=0)
    array([1, 2])
    """
    scores = np.asarray(scores, dtype=np.float64)
    rng = check_random_state(random_state)
    keys = rng.random_sample(scores.shape[0])
    primary = np.where(np.isnan(scores), -np.inf, scores)
    if k < scores.shape[0]:
        # Pre-select with argpartition, then order the survivors and the
        # boundary ties exactly.
        kth = np.partition(-primary, k - 1)[k - 1]
        pool = np.flatnonzero(-primary <= kth)
    else:
        pool = np.arange(scores.shape[0])
    order = np.lexsort((keys[pool], -primary[pool]))
    return pool[order[:k]].astype(np.intp)


def score_random_state(strategy, random_state):
    """What to pass as ``random_state`` to ``strategy.score``.

    A seed drawn from ``random_state`` for a random score; None, and nothing
    drawn, for a deterministic one (tag ``deterministic``), so that wrapping a
    deterministic scorer spends no draw of the caller's generator.
    """
    if get_strategy_tags(strategy).deterministic:
        return None
    return draw_seed(random_state)


class BaseStrategy(BaseEstimator):
    """Base class for query strategies.

    Subclasses store their parameters in ``__init__``, declare their
    constraints in ``_parameter_constraints`` (scikit-learn's machinery) and
    implement ``_query(learner, X, *, n_instances, candidates, random_state)``
    which returns ``n_instances`` distinct positions from ``candidates``. The
    public :meth:`__call__` validates the parameters (once per call, as
    ``@_fit_context`` does for ``fit``) and the arguments, handles the trivial
    cases and checks the result, so every strategy keeps the contract:

    1. exactly ``min(n_instances, len(candidates))`` indices;
    2. no duplicates, all inside ``candidates``;
    3. the same ``random_state`` gives the same result.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.base import BaseStrategy
    >>> class FirstRows(BaseStrategy):
    ...     def _query(self, learner, X, *, n_instances, candidates, random_state):
    ...         return np.sort(candidates)[:n_instances]
    >>> FirstRows()(None, np.zeros((5, 2)), n_instances=2, candidates=[4, 1, 3])
    array([1, 3])
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        legacy = sorted(flag for flag in _LEGACY_FLAGS if flag in cls.__dict__)
        if legacy:
            fields = ", ".join(f"{_LEGACY_FLAGS[f]}" for f in legacy)
            warnings.warn(
                f"{cls.__name__} sets {', '.join(legacy)}: these private flags "
                "are deprecated; override __skal_tags__() instead and set the "
                f"tags ({fields}) on super().__skal_tags__() "
                "(see skal.base.StrategyTags).",
                DeprecationWarning,
                stacklevel=2,
            )

    def __skal_tags__(self) -> StrategyTags:
        """What the strategy declares about itself (see :class:`StrategyTags`).

        Override it, starting from ``super().__skal_tags__()``.
        """
        return StrategyTags()

    # The former private flags, read-only views of the tags (kept for code
    # that reads them).
    @property
    def _deterministic(self):
        return get_strategy_tags(self).deterministic

    @property
    def _class_balanced(self):
        return get_strategy_tags(self).class_balanced

    @property
    def _needs_model(self):
        return get_strategy_tags(self).requires_model

    #: scikit-learn's constraints on the ``__init__`` parameters
    #: (``{name: [constraint, ...]}``), checked by :meth:`__call__` before any
    #: work; a bad value raises ``InvalidParameterError`` naming the parameter.
    _parameter_constraints: dict = {}

    def _check_params(self):
        """Validate the parameters against ``_parameter_constraints``.

        Skipped under ``sklearn.config_context(skip_parameter_validation=True)``
        and for a strategy that declares no constraints.
        """
        if (
            self._parameter_constraints
            and not get_config()["skip_parameter_validation"]
        ):
            self._validate_params()

    def __call__(
        self,
        learner,
        X,
        *,
        n_instances: int,
        candidates=None,
        random_state=None,
    ) -> np.ndarray:
        """Select rows of ``X`` to label.

        Parameters
        ----------
        learner : ActiveLearner or fitted estimator
            The model is read through :mod:`skal.models` adapters only.
        X : array-like of shape (n_samples, ...)
            The pool.
        n_instances : int
            Number of rows wanted (``>= 1``).
        candidates : array-like of int, default=None
            Rows of ``X`` that may be selected; all rows when None.
        random_state : int, RandomState instance or None
            Source of all randomness of the call.

        Returns
        -------
        indices : ndarray of int of shape (min(n_instances, len(candidates)),)
            Distinct indices into ``X``.
        """
        self._check_params()
        n_instances = check_n_instances(n_instances, owner=type(self).__name__)
        n_samples = _num_samples(X)
        candidates = check_candidates(candidates, n_samples)
        k = min(n_instances, candidates.shape[0])
        if k == 0:
            return np.empty(0, dtype=np.intp)
        rng = check_random_state(random_state)
        if isinstance(random_state, np.random.RandomState):
            # Never advance a generator the caller shares with others in an
            # order that depends on this strategy's internals.
            rng = np.random.RandomState(draw_seed(random_state))
        selected = self._query(
            learner, X, n_instances=k, candidates=candidates, random_state=rng
        )
        return self._check_selection(selected, candidates, k)

    def select(
        self,
        learner,
        X,
        *,
        n_instances,
        candidates=None,
        random_state=None,
    ):
        """Select rows of ``X`` and say how: what the learner queries through.

        Takes the arguments of :meth:`__call__` and returns its indices, with
        a dict the learner records (``history_``'s ``query_info`` and the
        provenance of the rows taught next, ``label_provenance_``).
        Override it to report more (:class:`~skal.strategies.AutoSelect`
        reports its choice); ``__call__`` stays the indices alone.

        Returns
        -------
        indices : ndarray of int
            As :meth:`__call__` returns them.
        info : dict
            ``"strategy"``: the name recorded as the rows' provenance
            (``type(self).__name__`` by default); ``"scores"``: a float array
            aligned with ``indices``, or None; and optional JSON-able extras.

        Examples
        --------
        >>> import numpy as np
        >>> from skal.strategies import RandomSampling
        >>> idx, info = RandomSampling().select(
        ...     None, np.zeros((5, 2)), n_instances=2, random_state=0)
        >>> len(idx), info["strategy"], info["scores"]
        (2, 'RandomSampling', None)
        """
        indices = self(
            learner,
            X,
            n_instances=n_instances,
            candidates=candidates,
            random_state=random_state,
        )
        return indices, {"strategy": type(self).__name__, "scores": None}

    def _check_selection(self, selected, candidates, k):
        selected = np.asarray(selected)
        name = type(self).__name__
        if selected.shape != (k,):
            raise StrategyContractError(
                f"{name}._query must return {k} indices; got shape {selected.shape}."
            )
        if k and not np.issubdtype(selected.dtype, np.integer):
            raise StrategyContractError(
                f"{name}._query must return int indices; got dtype {selected.dtype}."
            )
        selected = selected.astype(np.intp, copy=False)
        if np.unique(selected).size != k:
            raise StrategyContractError(f"{name}._query returned duplicate indices.")
        if not np.isin(selected, candidates).all():
            raise StrategyContractError(
                f"{name}._query returned indices outside the candidates."
            )
        return selected

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        raise NotImplementedError

    def __or__(self, other):
        return StrategyPipeline.from_strategies(self, other)

    def __ror__(self, other):
        return StrategyPipeline.from_strategies(other, self)


class ScoreStrategy(BaseStrategy):
    """A strategy that ranks candidates by a per-row informativeness score.

    Subclasses implement ``_score(learner, X, candidates)`` returning one
    score per candidate, higher meaning more worth a label. The ``n_instances``
    best are selected, ties broken by ``random_state``.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.base import ScoreStrategy
    >>> class LargestFirstFeature(ScoreStrategy):
    ...     def _score(self, learner, X, candidates):
    ...         return np.asarray(X)[candidates, 0]
    >>> X = np.array([[0.2], [0.9], [0.5]])
    >>> LargestFirstFeature()(None, X, n_instances=2)
    array([1, 2])
    """

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        tags.deterministic = True
        return tags

    def score(self, learner, X, candidates=None, random_state=None):
        """Informativeness of each candidate row (higher: more informative).

        Parameters
        ----------
        learner : ActiveLearner or fitted estimator
        X : array-like of shape (n_samples, ...)
        candidates : array-like of int, default=None
        random_state : int, RandomState instance or None
            Source of the randomness of a random score (e.g. the dropout
            masks of :class:`~skal.strategies.BALD`); a deterministic score
            (the default, tag ``deterministic``) ignores it.

        Returns
        -------
        scores : ndarray of shape (len(candidates),)
        """
        self._check_params()
        candidates = check_candidates(candidates, _num_samples(X))
        return np.asarray(self._score(learner, X, candidates), dtype=np.float64)

    def _score(self, learner, X, candidates):
        raise NotImplementedError

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        scores = np.asarray(self._score(learner, X, candidates), dtype=np.float64)
        return candidates[top_k(scores, n_instances, random_state)]

    def select(self, learner, X, *, n_instances, candidates=None, random_state=None):
        """:meth:`BaseStrategy.select`, with the picked rows' scores.

        The same indices as ``__call__`` (the same draws), and ``info["scores"]``
        the score of each, computed once.

        Examples
        --------
        >>> import numpy as np
        >>> from skal.base import ScoreStrategy
        >>> class FirstFeature(ScoreStrategy):
        ...     def _score(self, learner, X, candidates):
        ...         return np.asarray(X)[candidates, 0]
        >>> idx, info = FirstFeature().select(None, np.array([[0.2], [0.9]]),
        ...                                   n_instances=1)
        >>> idx.tolist(), info["scores"].tolist()
        ([1], [0.9])
        """
        if type(self)._query is not ScoreStrategy._query:  # picks its own way
            return super().select(
                learner,
                X,
                n_instances=n_instances,
                candidates=candidates,
                random_state=random_state,
            )
        self._check_params()
        n_instances = check_n_instances(n_instances, owner=type(self).__name__)
        candidates = check_candidates(candidates, _num_samples(X))
        k = min(n_instances, candidates.shape[0])
        info = {"strategy": type(self).__name__, "scores": None}
        if k == 0:
            info["scores"] = np.empty(0)
            return np.empty(0, dtype=np.intp), info
        rng = check_random_state(random_state)
        if isinstance(random_state, np.random.RandomState):
            rng = np.random.RandomState(draw_seed(random_state))
        scores = np.asarray(self._score(learner, X, candidates), dtype=np.float64)
        pos = top_k(scores, k, rng)
        selected = self._check_selection(candidates[pos], candidates, k)
        info["scores"] = scores[pos]
        return selected, info


def _check_strategy(strategy, name, owner):
    validate_parameter_constraints(
        {name: [StrategyInstance()]}, {name: strategy}, owner
    )
    return strategy


def _narrow_size(step, n_final, n_candidates):
    """How many candidates an intermediate pipeline step keeps."""
    if hasattr(step, "_narrow_size"):
        return step._narrow_size(n_final, n_candidates)
    return min(n_candidates, 10 * n_final)


class StrategyPipeline(_BaseComposition, BaseStrategy):
    """Chain strategies, each narrowing the candidates of the next.

    Built with ``|``: ``TopK(MarginSampling(), k=2000) | CoreSet()`` keeps the
    2000 most uncertain candidates and lets CoreSet pick ``n_instances`` among
    them. An intermediate step keeps the size it declares (``TopK``'s ``k``);
    a plain strategy used as an intermediate step keeps ``10 * n_instances``.
    The last step selects the final ``n_instances``.

    Parameters
    ----------
    steps : list of (str, strategy) tuples
        Named steps; their parameters are reachable as ``<name>__<param>``,
        so inside an :class:`~skal.ActiveLearner` as
        ``strategy__<name>__<param>``.

    Examples
    --------
    >>> from skal.strategies import MarginSampling, RandomSampling, TopK
    >>> pipe = TopK(MarginSampling(), k=100) | RandomSampling()
    >>> [name for name, _ in pipe.steps]
    ['topk', 'randomsampling']
    >>> pipe.get_params()["topk__k"]
    100
    """

    def __init__(self, steps):
        self.steps = steps

    @classmethod
    def from_strategies(cls, *strategies):
        """Flatten pipelines and name the steps like ``make_pipeline``."""
        flat = []
        for i, s in enumerate(strategies):
            if isinstance(s, StrategyPipeline):
                flat.extend(step for _, step in s.steps)
            else:
                flat.append(_check_strategy(s, f"step {i}", "StrategyPipeline"))
        return cls(_name_estimators(flat))

    def get_params(self, deep=True):
        return self._get_params("steps", deep=deep)

    def set_params(self, **params):
        self._set_params("steps", **params)
        return self

    def _validate_steps(self):
        if not isinstance(self.steps, list | tuple) or not self.steps:
            raise ValueError(
                "The 'steps' parameter of StrategyPipeline must be a non-empty "
                f"list of (name, strategy) tuples. Got {self.steps!r} instead."
            )
        names, strategies = zip(*self.steps)
        self._validate_names(names)
        for name, s in self.steps:
            _check_strategy(s, f"steps[{name!r}]", "StrategyPipeline")
            # an intermediate step's size (``_narrow_size``) is read before
            # the step is called: its parameters are checked up front
            if hasattr(s, "_check_params"):
                s._check_params()
        return strategies

    @property
    def named_steps(self):
        return dict(self.steps)

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        steps = [get_strategy_tags(s) for _, s in self.steps]
        tags.deterministic = all(t.deterministic for t in steps)
        # Balance of the last step holds over the narrowed candidates only;
        # wrap the whole pipeline in ClassBalanced for balance over the pool.
        tags.class_balanced = False
        tags.requires_model = any(t.requires_model for t in steps)
        return tags

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        strategies = self._validate_steps()
        for step in strategies[:-1]:
            if callable(getattr(step, "_narrow", None)):
                # a step that decides how many candidates pass (OODFilter's
                # contamination="auto"): at least n_instances, in the pool
                candidates = step._narrow(
                    learner,
                    X,
                    n_final=n_instances,
                    candidates=candidates,
                    random_state=draw_seed(random_state),
                )
                continue
            keep = _narrow_size(step, n_instances, candidates.shape[0])
            candidates = step(
                learner,
                X,
                n_instances=keep,
                candidates=candidates,
                random_state=draw_seed(random_state),
            )
        return strategies[-1](
            learner,
            X,
            n_instances=n_instances,
            candidates=candidates,
            random_state=draw_seed(random_state),
        )


# Saved sessions and pickles name a class by its module: keep the one the
# pipeline had before it moved here (it is public as skal.strategies).
StrategyPipeline.__module__ = "skal.strategies._compose"
