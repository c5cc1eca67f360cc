"""The one simulation loop: fit(budget), resume and evaluate share it."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from skal import ActiveLearner
from skal.evaluation import evaluate
from skal.strategies import MarginSampling, RandomSampling


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    centers = np.array([[0, 0], [3, 0], [0, 3]])
    y = np.arange(150) % 3
    X = centers[y] + rng.normal(size=(150, 2))
    return X[:120], y[:120], X[120:], y[120:]


def test_fit_budget_is_query_and_teach_by_hand(blobs):
    """fit(budget) runs the public query/teach loop: the same picks by hand."""
    X, y, _, _ = blobs
    sim = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=6,
        budget=30,
        random_state=7,
    ).fit(X, y)
    # by hand: fit on an all-unlabeled pool, then query() / teach(indices)
    hand = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=6,
        random_state=7,
    ).fit(X, np.full_like(y, -1))
    picks = []
    while hand.y_labeled_.shape[0] < 30:
        idx = hand.query()
        # the simulation draws its fit seed between query and teach
        seed = hand._state.draw_seed()
        hand._state.sim_pending = {
            "round": len(picks),
            "indices": idx,
            "query_seconds": 0.0,
            "fit_seed": seed,
            "n_before": hand.y_labeled_.shape[0],
        }
        hand.teach(y=y[idx], indices=idx)
        hand._state.sim_pending = None
        picks.append(idx)
    assert [r["indices"].tolist() for r in sim.history_] == [p.tolist() for p in picks]
    assert np.array_equal(sim.predict_proba(X), hand.predict_proba(X))


def test_evaluate_equals_the_learner_it_builds(blobs):
    """evaluate's records are those of an ActiveLearner driven round by round."""
    X, y, Xt, yt = blobs
    res = evaluate(
        LogisticRegression(),
        {"margin": MarginSampling()},
        X,
        y,
        Xt,
        yt,
        budgets=[6, 12, 24],
        seeds=[3],
        ood_label=None,
        verbose=False,
    )
    # the same by hand: initial set from the seed alone, then subset queries
    init = RandomSampling()(
        None,
        X,
        n_instances=6,
        random_state=np.random.RandomState(3).randint(np.iinfo(np.int32).max),
    )
    seen = np.zeros(len(y), dtype=bool)
    seen[init] = True
    learner = ActiveLearner(
        LogisticRegression(), strategy=MarginSampling(), n_instances=6, random_state=3
    ).fit(X[init], y[init])
    acc = [np.mean(learner.predict(Xt) == yt)]
    for b in (12, 24):
        cand = np.flatnonzero(~seen)
        rows = cand[learner.query(X[cand], n_instances=b - seen.sum())]
        seen[rows] = True
        learner.teach(X[rows], y[rows])
        acc.append(np.mean(learner.predict(Xt) == yt))
    assert [r["accuracy"] for r in res] == acc
    assert [r["n_labels"] for r in res] == [6, 12, 24]


class _CountingNB(GaussianNB):
    calls = []  # class-level: clones share it

    def fit(self, X, y, **kw):
        _CountingNB.calls.append("fit")
        return super().fit(X, y, **kw)

    def partial_fit(self, X, y, classes=None, **kw):
        _CountingNB.calls.append("partial_fit")
        return super().partial_fit(X, y, classes=classes, **kw)


@pytest.mark.parametrize("how", ["params", "template"])
def test_evaluate_passes_learner_params_to_every_simulation(blobs, how):
    X, y, Xt, yt = blobs
    kw = dict(budgets=[6, 12, 18], seeds=[0], ood_label=None, verbose=False)
    _CountingNB.calls.clear()
    evaluate(_CountingNB(), {"m": MarginSampling()}, X, y, Xt, yt, **kw)
    assert _CountingNB.calls == ["fit"] * 3  # a full refit every round
    _CountingNB.calls.clear()
    if how == "params":
        est, extra = _CountingNB(), {"learner_params": {"warm_start": True}}
    else:
        est, extra = ActiveLearner(_CountingNB(), warm_start=True), {}
    evaluate(est, {"m": MarginSampling()}, X, y, Xt, yt, **kw, **extra)
    assert _CountingNB.calls == ["fit", "partial_fit", "partial_fit"]


@pytest.mark.parametrize(
    "params, match",
    [
        ({"strategy": MarginSampling()}, "cannot set"),
        ({"random_state": 0}, "cannot set"),
        ({"warmstart": True}, "not parameters of ActiveLearner"),
    ],
    ids=["strategy", "random_state", "typo"],
)
def test_evaluate_refuses_learner_params_it_sets(blobs, params, match):
    X, y, Xt, yt = blobs
    with pytest.raises(ValueError, match=match):
        evaluate(
            GaussianNB(),
            {"m": MarginSampling()},
            X,
            y,
            Xt,
            yt,
            budgets=[6, 12],
            seeds=[0],
            learner_params=params,
            verbose=False,
        )


def test_evaluate_refuses_a_template_with_a_budget(blobs):
    X, y, Xt, yt = blobs
    with pytest.raises(ValueError, match="budget=None"):
        evaluate(
            ActiveLearner(GaussianNB(), budget=10),
            {"m": MarginSampling()},
            X,
            y,
            Xt,
            yt,
            budgets=[6, 12],
            seeds=[0],
            verbose=False,
        )
