"""AutoSelect (issue 28): the choice, its record, statelessness, bad input.

The strategy contract itself is checked by ``tests/test_common.py`` (the
suite discovers every public strategy).
"""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skal import ActiveLearner
from skal.strategies import AutoSelect, MarginSampling, RandomSampling
from skal.strategies._auto import DEFAULT_CANDIDATES

_SETTINGS = dict(deadline=None, max_examples=25)


@pytest.fixture(scope="module")
def pool():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    return X, y


def _learner(X, y, strategy=None, n_initial=10, seed=0, **kw):
    y_seed = np.full_like(y, -1)
    first = np.random.RandomState(seed).choice(len(y), n_initial, replace=False)
    y_seed[first] = y[first]
    return ActiveLearner(
        LogisticRegression(max_iter=300),
        strategy=AutoSelect(**kw) if strategy is None else strategy,
        n_instances=10,
        random_state=seed,
    ).fit(X, y_seed)


def _rounds(learner, y, n):
    for _ in range(n):
        idx = learner.query()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learner.teach(y=y[idx], indices=idx)
    return learner


def _chosen(learner):
    return [h["query_info"].get("chosen") for h in learner.history_[1:]]


# ----------------------------------------------------------------- choice
def test_select_reports_the_choice_and_call_matches(pool):
    X, y = pool
    learner = _learner(X, y)
    a = AutoSelect()
    idx, info = a.select(
        learner, X, n_instances=7, candidates=learner.pool_indices_, random_state=3
    )
    assert info["strategy"] == info["chosen"]
    assert info["chosen"] in DEFAULT_CANDIDATES
    assert set(info["posterior"]) == set(DEFAULT_CANDIDATES)
    assert all(0 < v < 1 for v in info["posterior"].values())
    assert info["regime"] == "low"  # 10 labels over <= 10 classes
    again = a(
        learner, X, n_instances=7, candidates=learner.pool_indices_, random_state=3
    )
    np.testing.assert_array_equal(idx, again)
    assert np.isin(idx, learner.pool_indices_).all() and len(set(idx)) == 7


def test_history_and_provenance_record_the_chosen_candidate(pool):
    X, y = pool
    learner = _rounds(_learner(X, y), y, 4)
    chosen = _chosen(learner)
    assert len(chosen) == 4 and all(c in DEFAULT_CANDIDATES for c in chosen)
    for h in learner.history_[1:]:
        assert set(h["query_info"]["posterior"]) == set(DEFAULT_CANDIDATES)
    # every row a candidate picked names it, in its round
    prov = learner.label_provenance_
    for h, name in zip(learner.history_[1:], chosen):
        rows = {p["strategy"] for p in prov if p["round"] == h["round"]}
        assert rows == {name}
    # the bandit has its evidence: one reward per round, in [0, 1]
    ev = AutoSelect().rounds(learner)
    assert [name for _, name, _ in ev] == chosen
    assert all(0 <= r <= 1 for _, _, r in ev)


def test_the_strategy_string_auto(pool):
    X, y = pool
    learner = _rounds(_learner(X, y, strategy="auto"), y, 1)
    assert _chosen(learner)[0] in DEFAULT_CANDIDATES


def test_prior_dict_decides_without_reward(pool):
    X, y = pool
    learner = _learner(X, y)
    a = AutoSelect(reward="none", prior={"margin": 0.99, "random": 0.01})
    for seed in range(5):
        _, info = a.select(learner, X, n_instances=3, random_state=seed)
        assert info["chosen"] == "margin"


def test_budget_regime_switches_with_labels_per_class(pool):
    X, y = pool
    learner = _learner(X, y, n_initial=60)  # ~6 per class
    assert AutoSelect(low_budget_per_class=3).regime(learner) == "high"
    assert AutoSelect(low_budget_per_class=30).regime(learner) == "low"
    assert AutoSelect().regime(LogisticRegression().fit(X, y)) == "high"


@settings(**_SETTINGS)
@given(
    names=st.lists(
        st.sampled_from(["margin", "entropy", "typiclust", "coreset", "badge"]),
        min_size=1,
        max_size=4,
        unique=True,
    )
)
def test_random_is_always_a_candidate(names):
    arms = AutoSelect(candidates=names)._arms()
    assert "random" in arms and set(names) <= set(arms)
    assert len(arms) == len(names) + 1


@settings(**_SETTINGS)
@given(
    labels=st.lists(st.integers(0, 4), min_size=12, max_size=60),
    sizes=st.lists(st.integers(1, 8), min_size=1, max_size=6),
    reward=st.sampled_from(["balance", "none"]),
    seed=st.integers(0, 2**16),
)
def test_posterior_is_a_function_of_the_session(labels, sizes, reward, seed):
    """Any session (labels, rounds): a valid choice, the same for a copy of
    the session and for a fresh clone of the strategy; rewards in [0, 1]."""
    y = np.asarray(labels)
    bounds = np.minimum(np.cumsum([len(y) - sum(sizes)] + sizes), len(y))
    if bounds[0] < 1:
        return
    session = _Session(y, bounds, seed)
    a = AutoSelect(reward=reward)
    _, post, regime, name = a._state(session)
    assert name in post and regime in ("low", "high")
    assert all(al > 0 and be > 0 for al, be in post.values())
    assert clone(a)._state(pickle.loads(pickle.dumps(session)))[3] == name
    assert all(0 <= r <= 1 for _, _, r in a.rounds(session))


class _Session:
    """A learner's session as AutoSelect reads it: labels and rounds only."""

    _is_skal_learner = True

    def __init__(self, y, bounds, seed):
        self.y_labeled_ = y
        self.X_labeled_ = np.zeros((len(y), 1))
        self.random_state = seed
        self.history_ = [
            {"round": r, "n_labels": int(b), "query_info": {}}
            for r, b in enumerate(bounds)
        ]

    def get_params(self, deep=False):
        return {"random_state": self.random_state}


# ------------------------------------------------------------- stateless
def test_replay_from_history_equals_the_live_choices(pool):
    """A session without the recorded choices (a simulation's rounds of new
    rows) is replayed: the same candidates as chosen live."""
    X, y = pool
    learner = _rounds(_learner(X, y, seed=2), y, 5)
    live = _chosen(learner)
    bare = _Session(learner.y_labeled_, [h["n_labels"] for h in learner.history_], 2)
    assert [name for _, name, _ in AutoSelect().rounds(bare)] == live


def test_resumed_session_chooses_as_the_uninterrupted_one(pool, tmp_path):
    X, y = pool
    full = _rounds(_learner(X, y, seed=1), y, 5)
    half = _rounds(_learner(X, y, seed=1), y, 2)
    path = tmp_path / "session.skal"
    half.save(path)
    resumed = ActiveLearner.load(path)
    _rounds(resumed, y, 3)
    assert _chosen(resumed) == _chosen(full)
    copied = _rounds(
        pickle.loads(pickle.dumps(_rounds(_learner(X, y, seed=1), y, 2))), y, 3
    )
    assert _chosen(copied) == _chosen(full)


def test_clone_and_grid_search(pool):
    X, y = pool
    a = AutoSelect(candidates=["margin", ("rnd", RandomSampling())], prior_strength=3)
    b = clone(a)
    assert b.get_params()["prior_strength"] == 3 and b is not a
    y_seed = np.full_like(y, -1)
    y_seed[:30] = y[:30]
    grid = GridSearchCV(
        ActiveLearner(LogisticRegression(max_iter=200), strategy=AutoSelect()),
        {"strategy__reward": ["balance", "none"]},
        cv=2,
    ).fit(X[:30], y[:30])
    assert grid.best_params_["strategy__reward"] in ("balance", "none")


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "candidates, match",
    [
        (["margin", "nonsense"], "unknown strategy 'nonsense'"),
        ([], "at least one strategy"),
        (["margin", "margin"], "twice"),
        ([MarginSampling], "strategy name, a strategy object"),
        ("margin", "parameter of AutoSelect must be"),
    ],
)
def test_bad_candidates_fail_at_the_first_call(pool, candidates, match):
    X, y = pool
    a = AutoSelect(candidates=candidates)  # __init__ only stores
    with pytest.raises((ValueError, TypeError), match=match):
        a(_learner(X, y), X, n_instances=2)


def test_reward_without_labels_fails_clearly(pool):
    X, y = pool
    bare = LogisticRegression(max_iter=200).fit(X, y)
    with pytest.raises(ValueError, match="reward='balance'.*no labeled set"):
        AutoSelect()(bare, X, n_instances=2)
    idx, info = AutoSelect(reward="none").select(bare, X, n_instances=2, random_state=0)
    assert len(idx) == 2 and info["chosen"] in DEFAULT_CANDIDATES


def test_bad_prior_fails_clearly(pool):
    X, y = pool
    with pytest.raises(ValueError, match="not candidates"):
        AutoSelect(prior={"bald": 0.9})(_learner(X, y), X, n_instances=2)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        AutoSelect(prior={"margin": 1.5})(_learner(X, y), X, n_instances=2)


def _sim(X, y, budget, **kw):
    return ActiveLearner(
        LogisticRegression(max_iter=300),
        strategy=AutoSelect(),
        n_instances=10,
        budget=budget,
        random_state=4,
        **kw,
    )


def _picked(learner):
    return [name for _, name, _ in AutoSelect().rounds(learner)]


def test_simulation_extended_or_resumed_from_journal_chooses_the_same(pool, tmp_path):
    X, y = pool
    full = _sim(X, y, 60).fit(X, y)
    assert len(_picked(full)) == 5
    extended = _sim(X, y, 30).fit(X, y).set_params(budget=60).resume()
    assert _picked(extended) == _picked(full)
    path = str(tmp_path / "journal.jsonl")
    _sim(X, y, 30, journal=path).fit(X, y)
    resumed = _sim(X, y, 60, journal=path).resume(X, y)
    assert _picked(resumed) == _picked(full)
    np.testing.assert_array_equal(resumed.y_labeled_, full.y_labeled_)


def test_error_reward_reads_the_predictions_of_the_round(pool):
    X, y = pool
    learner = _rounds(_learner(X, y, reward="error"), y, 3)
    ev = AutoSelect(reward="error").rounds(learner)
    assert [name for _, name, _ in ev] == _chosen(learner)
    for (_, _, reward), h in zip(ev, learner.history_[1:]):
        info = h["query_info"]
        wrong = np.mean(np.asarray(info["predicted"]) != y[info["picked"]])
        assert reward == pytest.approx(wrong)
    # rows taught as new X (evaluate's simulations) carry no predictions:
    # no evidence rather than a biased one; "balance" replays them
    for reward, n in (("error", 0), ("balance", 2)):
        new = ActiveLearner(
            LogisticRegression(max_iter=300), strategy=AutoSelect(reward=reward)
        ).fit(X[:20], y[:20])
        for start in (20, 30):
            rows = np.arange(start, 200)
            picked = rows[new.query(X[rows], n_instances=10)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                new.teach(X[picked], y[picked])
        assert len(AutoSelect(reward=reward).rounds(new)) == n
