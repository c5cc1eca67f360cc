"""AutoSelect: the strategy chosen while labeling, from the session itself.

No single strategy wins everywhere (typicality at small budgets, uncertainty
and diversity at larger ones; entropy or CoreSet below random on some pools),
and a person cannot run a benchmark before labeling. :class:`AutoSelect`
picks one candidate strategy per round with Thompson sampling over the
candidates (TAILOR, Zhang et al. 2023; ALBL, Hsu & Lin 2015), on top of a
budget-regime prior (SelectAL, Hacohen & Weinshall 2023: typicality while the
budget is low, uncertainty once it is high, decided from the labeled set).

Stateless: the posterior is recomputed at every call from the session (the
labeled rows, their labels, and which candidate picked each row in which
round: ``learner.label_provenance_``, or the rounds of ``learner.history_``),
so ``clone``, saving, resuming and grid search keep working, and a resumed
session chooses as the uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples

from ..base import BaseStrategy, check_candidates, check_n_instances, get_strategy_tags
from ..utils._seeding import draw_seed
from ._common import labeled_set

__all__ = ["AutoSelect"]

#: What the ``candidates`` strings name.
_NAMED = {
    "random": lambda: _lazy("RandomSampling"),
    "margin": lambda: _lazy("MarginSampling"),
    "entropy": lambda: _lazy("EntropySampling"),
    "typiclust": lambda: _lazy("TypiClust"),
    "badge": lambda: _lazy("BADGE"),
    "coreset": lambda: _lazy("CoreSet", normalize=True),
    "balanced": lambda: _lazy("BalancedSelection"),
    "probcover": lambda: _lazy("ProbCover"),
    "default": lambda: _lazy("ColdStartHybrid"),
}

#: The default candidates, in this order.
DEFAULT_CANDIDATES = ("random", "margin", "typiclust", "badge", "coreset", "balanced")

#: Prior mean reward of each named candidate in the low- and high-budget
#: regimes (SelectAL: typicality below the switch, uncertainty above);
#: a candidate not named here gets 0.5 in both.
_REGIME_PRIOR = {
    "low": {
        "typiclust": 0.8,
        "probcover": 0.7,
        "default": 0.6,
        "coreset": 0.45,
        "badge": 0.5,
        "balanced": 0.45,
        "random": 0.5,
        "margin": 0.3,
        "entropy": 0.25,
    },
    "high": {
        "badge": 0.75,
        "margin": 0.7,
        "default": 0.7,
        "balanced": 0.65,
        "entropy": 0.5,
        "coreset": 0.5,
        "random": 0.5,
        "typiclust": 0.4,
        "probcover": 0.35,
    },
}

_REWARDS = ("balance", "error", "none")


def _lazy(name, **kwargs):
    from .. import strategies

    return getattr(strategies, name)(**kwargs)


def _name_of(strategy):
    return type(strategy).__name__.lower()


class AutoSelect(BaseStrategy):
    """Choose the strategy while labeling: a bandit over candidate strategies.

    Every call picks one candidate and lets it select the whole batch. The
    choice is Thompson sampling: each candidate has a Beta posterior over
    its reward, the prior from the budget regime and the evidence from the
    rounds the candidate picked before; one draw per candidate, the largest
    wins. The chosen candidate is reported by :meth:`select` (``"chosen"``,
    ``"strategy"``), with the posterior means (``"posterior"``), so
    ``ActiveLearner.history_`` records it every round and
    ``label_provenance_`` names it for every row it picked.

    **Prior** (``prior="budget"``, after SelectAL [3]_): the labeled set
    decides the regime. Below ``low_budget_per_class`` labels per class the
    budget is *low* and typicality (TypiClust) is favoured; above it,
    uncertainty and uncertainty-with-diversity (BADGE, margin). The prior
    weighs ``prior_strength`` rounds of evidence. ``prior="uniform"`` gives
    every candidate mean 0.5; a dict ``{name: mean}`` sets the means.

    **Rewards** (one per round, in [0, 1], for the candidate that picked it):

    * ``"balance"`` (TAILOR [2]_): how rare the classes of the new labels
      were when they were picked: the mean of ``(n_min + 1) / (n_y + 1)``
      over the round's rows, ``n_y`` the labels of the row's class before
      the round and ``n_min`` those of the rarest class. A candidate whose
      labels fill the rare classes earns more. Relative to labels drawn
      like those held before: ``0.5 + mean - baseline``, clipped to [0, 1].
    * ``"error"`` (after ALBL [1]_): the share of the round's rows that the
      model of that round predicted wrongly, once their labels are known: a
      candidate that finds the rows the model gets wrong earns more. The
      predictions are those recorded when the rows were picked (``select``
      returns them in ``"predicted"``, with ``"picked"``); a round without
      them (rows taught as new ``X``, a journal's replayed rounds) gives no
      evidence, since the current model, trained on those rows, would say
      little. Thompson sampling conditions on the rounds each candidate
      played, so no importance weights are needed.
    * ``"none"``: no bandit, the prior's mean decides (ties at random).

    The rewards need the labels of the rows the candidates picked: with a
    bare estimator (no labeled set) only ``reward="none"`` works.

    Parameters
    ----------
    candidates : list of str, strategies or (name, strategy) pairs, default=None
        The arms. Strings name built-in strategies (``"random"``,
        ``"margin"``, ``"entropy"``, ``"typiclust"``, ``"badge"``,
        ``"coreset"`` (normalised), ``"balanced"`` (BASE), ``"probcover"``,
        ``"default"`` (:class:`ColdStartHybrid`)); a strategy object is named
        after its class in lower case. None: random, margin, typiclust,
        badge, coreset and balanced. Random sampling is always a candidate
        (added when missing).
    reward : {"balance", "error", "none"}, default="balance"
        See above.
    prior : {"budget", "uniform"} or dict of str to float, default="budget"
        Prior mean reward of each candidate.
    low_budget_per_class : float, default=30
        Labels per class below which the budget counts as low (the
        ``"budget"`` prior).
    prior_strength : float, default=20
        Weight of the prior, in rounds of evidence.

    Attributes
    ----------
    None: the strategy keeps no state between calls.

    References
    ----------
    .. [1] W.-N. Hsu and H.-T. Lin. Active Learning by Learning. AAAI 2015.
    .. [2] J. Zhang, S. Shao, S. Verma and R. Nowak. Algorithm Selection for
       Deep Active Learning with Imbalanced Datasets (TAILOR). NeurIPS 2023.
    .. [3] G. Hacohen and D. Weinshall. How to Select Which Active Learning
       Strategy is Best Suited for Your Specific Problem and Budget.
       NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal import ActiveLearner
    >>> from skal.strategies import AutoSelect
    >>> X, y = load_iris(return_X_y=True)
    >>> y_seed = np.full_like(y, -1)
    >>> y_seed[[0, 50, 100]] = y[[0, 50, 100]]
    >>> learner = ActiveLearner(LogisticRegression(), strategy=AutoSelect(),
    ...                         n_instances=5, random_state=0).fit(X, y_seed)
    >>> idx, info = AutoSelect().select(learner, X, n_instances=5,
    ...                                 candidates=learner.pool_indices_,
    ...                                 random_state=0)
    >>> info["regime"], sorted(info["posterior"])[:3]
    ('low', ['badge', 'balanced', 'coreset'])
    """

    _parameter_constraints = {
        "candidates": [list, tuple, None],
        "reward": [StrOptions(set(_REWARDS))],
        "prior": [StrOptions({"budget", "uniform"}), dict],
        "low_budget_per_class": [Interval(Real, 0, None, closed="left")],
        "prior_strength": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        candidates=None,
        reward="balance",
        prior="budget",
        low_budget_per_class=30,
        prior_strength=20,
    ):
        self.candidates = candidates
        self.reward = reward
        self.prior = prior
        self.low_budget_per_class = low_budget_per_class
        self.prior_strength = prior_strength

    def __skal_tags__(self):
        tags = super().__skal_tags__()
        try:
            arms = self._arms()
        except (TypeError, ValueError):
            return tags
        tags.requires_model = any(
            get_strategy_tags(s).requires_model for s in arms.values()
        )
        return tags

    # ------------------------------------------------------------ candidates
    def _arms(self):
        """``{name: strategy}`` of the candidates (fresh clones), random included."""
        cands = DEFAULT_CANDIDATES if self.candidates is None else self.candidates
        if isinstance(cands, str) or not isinstance(cands, list | tuple):
            raise TypeError(
                "The 'candidates' parameter of AutoSelect must be a list of "
                "strategy names, strategies or (name, strategy) pairs, or None. "
                f"Got {cands!r} instead."
            )
        if len(cands) == 0:
            raise ValueError(
                "The 'candidates' parameter of AutoSelect must hold at least one "
                "strategy (random sampling is always added); got an empty list. "
                "Pass None for the default candidates "
                f"{list(DEFAULT_CANDIDATES)}."
            )
        arms = {}
        for c in cands:
            if isinstance(c, str):
                if c not in _NAMED:
                    raise ValueError(
                        f"The 'candidates' parameter of AutoSelect names an unknown "
                        f"strategy {c!r}; known names are {sorted(_NAMED)}, or "
                        "pass a strategy object."
                    )
                name, strategy = c, _NAMED[c]()
            elif isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str):
                name, strategy = c
            else:
                name, strategy = None, c
            if isinstance(strategy, type) or not (
                callable(strategy) and hasattr(strategy, "get_params")
            ):
                raise TypeError(
                    "Each of AutoSelect's 'candidates' must be a strategy name, a "
                    "strategy object or a (name, strategy) pair; got "
                    f"{c!r}."
                )
            if isinstance(strategy, AutoSelect):
                raise ValueError("AutoSelect cannot be a candidate of AutoSelect.")
            strategy = clone(strategy)
            name = _name_of(strategy) if name is None else name
            if name in arms:
                raise ValueError(
                    f"The 'candidates' parameter of AutoSelect names {name!r} twice; "
                    "give distinct (name, strategy) pairs."
                )
            arms[name] = strategy
        if not any(_name_of(s) == "randomsampling" for s in arms.values()):
            arms["random"] = _NAMED["random"]()
        return arms

    def _prior_means(self, names, regime):
        if isinstance(self.prior, dict):
            unknown = sorted(set(self.prior) - set(names))
            if unknown:
                raise ValueError(
                    f"The 'prior' parameter of AutoSelect names {unknown}, which are "
                    f"not candidates; the candidates are {list(names)}."
                )
            means = {n: float(self.prior.get(n, 0.5)) for n in names}
            bad = {n: m for n, m in means.items() if not 0 < m < 1}
            if bad:
                raise ValueError(
                    "The 'prior' parameter of AutoSelect must map candidates to "
                    f"means strictly between 0 and 1; got {bad}."
                )
            return means
        if self.prior == "uniform":
            return dict.fromkeys(names, 0.5)
        table = _REGIME_PRIOR[regime]
        return {n: table.get(n, 0.5) for n in names}

    # ---------------------------------------------------------------- regime
    def _regime(self, y_before):
        """``"low"`` or ``"high"`` from the labels held before a round."""
        if y_before is None or len(y_before) == 0:
            return "low"
        n_classes = max(np.unique(np.asarray(y_before, dtype=object)).size, 1)
        per_class = len(y_before) / n_classes
        return "low" if per_class < self.low_budget_per_class else "high"

    def regime(self, learner):
        """``"low"`` or ``"high"``: the budget regime the labeled set is in.

        Low while the labeled set holds fewer than ``low_budget_per_class``
        labels per class (the classes labeled so far). A bare estimator
        counts as high.
        """
        _, y_lab = labeled_set(learner)
        if y_lab is None:
            return "high"
        return self._regime(y_lab)

    # -------------------------------------------------------------- evidence
    def _segments(self, learner, y_lab, arms):
        """``(round, positions into y_labeled_, name or None, predicted)`` for
        every round of the session, in order; None where it cannot be read.

        From ``label_provenance_`` (which candidate picked each row, in which
        round) where the learner keeps it; else from ``history_``: each round
        labeled the rows between the previous round's ``n_labels`` and its
        own (rows are appended to the labeled set in the order they come).
        """
        history = getattr(learner, "history_", None) or []
        by_round = {}
        for h in history:
            if isinstance(h, dict) and "round" in h:
                by_round[int(h["round"])] = h
        prov = getattr(learner, "label_provenance_", None)
        segments = []
        if prov is not None and len(prov) == y_lab.shape[0]:
            groups = {}
            for pos, p in enumerate(prov):
                r = p.get("round")
                r = -1 if r is None else int(r)
                groups.setdefault(r, []).append((pos, p.get("row"), p.get("strategy")))
            for r, members in sorted(groups.items()):
                pos = np.array([m[0] for m in members], dtype=np.intp)
                names = {m[2] for m in members}
                name = names.pop() if len(names) == 1 else None
                info = (by_round.get(r) or {}).get("query_info") or {}
                if r > 0 and name not in arms:
                    if name is None and all(m[1] is None for m in members):
                        # rows given as new X: the round's query names it
                        name = info.get("chosen")
                    if name not in arms and (
                        not info
                        or info.get("from_journal")
                        or name == type(self).__name__
                    ):
                        # no choice recorded (a simulation's rounds of new
                        # rows, a journal's replayed rounds): replay it
                        segments.append((r, pos, None, None, "replay"))
                        continue
                pred = self._recorded(by_round.get(r), [m[1] for m in members])
                segments.append((r, pos, name, pred))
            return segments
        if not by_round:
            return None
        start = 0
        for r, h in sorted(by_round.items()):
            end = int(h.get("n_labels", start))
            if end < start or end > y_lab.shape[0]:
                return None
            info = h.get("query_info") or {}
            name = info.get("chosen") if r > 0 else None
            pos = np.arange(start, end, dtype=np.intp)
            pred = self._recorded(h, h.get("indices"))
            segments.append((r, pos, name, pred, "replay"))
            start = end
        return segments

    @staticmethod
    def _recorded(h, rows):
        """The predictions ``select`` recorded for ``rows`` in round ``h``."""
        info = (h or {}).get("query_info") or {}
        rec = info.get("predicted")
        idx = info.get("picked", (h or {}).get("indices"))
        if rec is None or idx is None or rows is None or len(rec) != len(idx):
            return None
        lookup = {int(i): p for i, p in zip(np.asarray(idx), rec)}
        got = [lookup.get(-1 if r is None else int(r)) for r in rows]
        if any(g is None for g in got) or len(got) == 0:
            return None
        return np.asarray(got, dtype=object)

    def _reward(self, learner, labels, before, predicted, pos):
        """The reward of one round in [0, 1] (0.5: as good as the baseline),
        or None where the session cannot tell."""
        if self.reward == "balance":
            counts = {}
            for c in np.asarray(before, dtype=object).tolist():
                counts[c] = counts.get(c, 0) + 1
            n_min = min(counts.values()) if counts else 0

            def rarity(c):
                return (n_min + 1) / (counts.get(c, 0) + 1)

            got = np.mean([rarity(c) for c in np.asarray(labels, dtype=object)])
            # the baseline: labels drawn like the ones held before the round
            n = sum(counts.values())
            base = sum(k / n * rarity(c) for c, k in counts.items()) if n else 1.0
            return float(np.clip(0.5 + got - base, 0.0, 1.0))
        # "error": the share the model of the round got wrong, against the
        # share it got wrong on the rows held before (its training error is
        # no baseline: without the predictions of the round, no evidence)
        if predicted is None:
            return None
        wrong = np.mean(np.asarray(labels, dtype=object) != predicted)
        return float(np.clip(wrong, 0.0, 1.0))

    def _session_seed(self, learner, y_before):
        """The seed of a round's Thompson draw: the session's ``random_state``
        and the labels held before the round, so a replay draws the same."""
        rs = None
        get = getattr(learner, "get_params", None)
        if callable(get):
            try:
                rs = get(deep=False).get("random_state")
            except Exception:  # a duck-typed learner
                rs = None
        base = int(rs) if isinstance(rs, int | np.integer) else 0
        h = hashlib.blake2b(digest_size=8)
        h.update(str(base).encode())
        h.update(str(len(y_before)).encode())
        h.update(repr(np.asarray(y_before, dtype=object).tolist()).encode())
        return int.from_bytes(h.digest(), "little") % (2**32)

    def _decide(self, names, y_before, evidence, seed):
        """The candidate of a round: prior from the regime, evidence, one draw."""
        regime = self._regime(y_before)
        means = self._prior_means(names, regime)
        s = float(self.prior_strength)
        post = {n: [s * m, s * (1 - m)] for n, m in means.items()}
        for name, r in evidence:
            if name in post:
                post[name][0] += r
                post[name][1] += 1 - r
        rng = np.random.RandomState(seed)
        if self.reward == "none":
            draws = np.array([a / (a + b) for a, b in (post[n] for n in names)])
        else:
            draws = np.array([rng.beta(*post[n]) for n in names])
        keys = rng.random_sample(len(names))
        name = names[int(np.lexsort((keys, -draws))[0])]
        return name, {n: (a, b) for n, (a, b) in post.items()}, regime

    def rounds(self, learner):
        """The evidence: ``(round, candidate, reward)`` for every round a
        candidate picked, read from the session (see the class notes)."""
        return self._state(learner)[0]

    def _state(self, learner):
        """``(evidence rounds, posterior, regime, chosen)`` for the next round."""
        names = list(self._arms())
        _, y_lab = labeled_set(learner)
        if y_lab is None:
            if self.reward != "none":
                self._check_labels(learner)
            name, post, regime = self._decide(names, None, [], 0)
            return [], post, "high", name
        seed_now = self._session_seed(learner, y_lab)
        segments = (
            None if self.reward == "none" else self._segments(learner, y_lab, names)
        )
        evidence, out = [], []
        if segments:
            held = np.zeros(y_lab.shape[0], dtype=bool)
            for seg in segments:
                r, pos, name, pred = seg[:4]
                before = y_lab[held]
                if len(seg) == 5 and r > 0 and name is None:
                    # replay: the round's choice, as it was made then
                    seed = self._session_seed(learner, before)
                    name = self._decide(names, before, evidence, seed)[0]
                held[pos] = True
                if name in names and r > 0 and pos.size:
                    rew = self._reward(learner, y_lab[pos], before, pred, pos)
                    if rew is not None:
                        evidence.append((name, rew))
                        out.append((r, name, rew))
        name, post, _ = self._decide(names, y_lab, evidence, seed_now)
        return out, post, self._regime(y_lab), name

    def posterior(self, learner):
        """``{name: (alpha, beta)}``: the Beta posterior of every candidate for
        the next round, computed from the session alone."""
        return self._state(learner)[1]

    def _check_labels(self, learner):
        raise ValueError(
            f"AutoSelect(reward={self.reward!r}) needs the labels of the rows "
            "its candidates picked, and the learner it was given has no labeled "
            f"set ({type(learner).__name__}). Use it inside an ActiveLearner, "
            "or pass reward='none' to choose from the prior alone."
        )

    # ---------------------------------------------------------------- select
    def select(self, learner, X, *, n_instances, candidates=None, random_state=None):
        """Pick a candidate, let it select; return the rows and what was chosen.

        Parameters
        ----------
        learner : ActiveLearner or fitted estimator
        X : array-like of shape (n_samples, ...)
        n_instances : int
        candidates : array-like of int, default=None
        random_state : int, RandomState instance or None
            The chosen candidate's randomness. The choice itself is drawn
            from a seed of the session (its ``random_state`` and labels),
            so that a replay of the session draws the same.

        Returns
        -------
        indices : ndarray of int
            As :meth:`__call__` returns them (the same for the same seed).
        info : dict
            ``"strategy"`` and ``"chosen"``: the candidate's name;
            ``"scores"``: None; ``"posterior"``: ``{name: posterior mean}``;
            ``"regime"``; ``"predicted"``: the model's predictions of the
            picked rows (a list, read back by the ``"error"`` reward).
        """
        self._check_params()
        n_instances = check_n_instances(n_instances, owner=type(self).__name__)
        cand = check_candidates(candidates, _num_samples(X))
        k = min(n_instances, cand.shape[0])
        rng = check_random_state(random_state)
        if isinstance(random_state, np.random.RandomState):
            rng = np.random.RandomState(draw_seed(random_state))
        arms = self._arms()
        _, post, regime, name = self._state(learner)
        info = {
            "strategy": name,
            "chosen": name,
            "scores": None,
            "posterior": {n: round(a / (a + b), 6) for n, (a, b) in post.items()},
            "regime": regime,
        }
        if k == 0:
            info["predicted"] = []
            return np.empty(0, dtype=np.intp), info
        chosen = arms[name](
            learner, X, n_instances=k, candidates=cand, random_state=draw_seed(rng)
        )
        idx = self._check_selection(chosen, cand, k)
        info["predicted"] = self._predicted(learner, X, idx)
        if info["predicted"] is not None:
            info["picked"] = idx.tolist()  # the rows the predictions are of
        return idx, info

    def _predicted(self, learner, X, idx):
        """The model's predictions of the picked rows (a JSON-able list), or None."""
        if self.reward != "error":
            return None
        try:
            from ..utils._arrays import take_rows

            pred = learner.predict(take_rows(X, idx))
        except Exception:  # no model (initial rounds), a duck-typed learner
            return None
        return np.asarray(pred).tolist()

    def _query(self, learner, X, *, n_instances, candidates, random_state):
        # __call__ has validated; the same stream as select's
        arms = self._arms()
        name = self._state(learner)[3]
        return arms[name](
            learner,
            X,
            n_instances=n_instances,
            candidates=candidates,
            random_state=draw_seed(random_state),
        )
