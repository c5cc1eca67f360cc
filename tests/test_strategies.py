"""Score functions and composition of the foundation strategies."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner
from skal.strategies import (
    ClassBalanced,
    EntropySampling,
    FunctionStrategy,
    LeastConfidence,
    MarginSampling,
    RandomSampling,
    StrategyPipeline,
    TopK,
    entropy_score,
    least_confidence_score,
    margin_score,
)
from skal.utils.estimator_checks import ProbaFromX

probas = (
    st.integers(2, 8)
    .flatmap(
        lambda c: arrays(
            np.float64,
            st.tuples(st.integers(1, 30), st.just(c)),
            elements=st.floats(0.01, 1.0),
        )
    )
    .map(lambda a: a / a.sum(axis=1, keepdims=True))
)


@given(probas)
def test_scores_bounds(P):
    c = P.shape[1]
    lc, mg, en = least_confidence_score(P), margin_score(P), entropy_score(P)
    assert np.all((lc >= -1e-12) & (lc <= 1 - 1 / c + 1e-9))
    assert np.all((mg >= -1e-12) & (mg <= 1 + 1e-12))
    assert np.all((en >= -1e-12) & (en <= np.log(c) + 1e-9))


def test_scores_known_values():
    P = np.array([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(least_confidence_score(P), [0.3, 2 / 3, 0.0])
    np.testing.assert_allclose(margin_score(P), [0.5, 1.0, 0.0])
    np.testing.assert_allclose(entropy_score(P)[[1, 2]], [np.log(3), 0.0])


def test_score_rejects_1d():
    with pytest.raises(ValueError, match="'proba' parameter must be a 2-D array"):
        margin_score([0.5, 0.5])


def _learner(P, labeled=(0, 1)):
    y = np.full(len(P), -1)
    y[list(labeled)] = np.arange(len(labeled)) % 2  # two classes: a model is fitted
    return ActiveLearner(ProbaFromX(P.shape[1]), random_state=0).fit(P, y)


def test_margin_picks_most_ambiguous():
    P = np.array([[0.9, 0.1], [0.55, 0.45], [0.5, 0.5], [0.8, 0.2], [0.6, 0.4]])
    learner = _learner(P, labeled=(0, 3))
    sel = MarginSampling()(learner, P, n_instances=2, candidates=learner.pool_indices_)
    assert set(sel) == {1, 2}


def test_ties_broken_by_random_state_not_position():
    P = np.tile([[0.5, 0.5]], (50, 1))
    learner = _learner(P)
    picks = {
        tuple(MarginSampling()(learner, P, n_instances=3, random_state=s))
        for s in range(10)
    }
    assert len(picks) > 1
    firsts = [
        MarginSampling()(learner, P, n_instances=1, random_state=s)[0]
        for s in range(30)
    ]
    assert len(set(firsts)) > 5


def test_pipeline_named_steps_and_params():
    pipe = TopK(MarginSampling(), k=20) | RandomSampling()
    assert isinstance(pipe, StrategyPipeline)
    assert [n for n, _ in pipe.steps] == ["topk", "randomsampling"]
    pipe.set_params(topk__k=7)
    assert pipe.named_steps["topk"].k == 7
    assert clone(pipe).get_params()["topk__k"] == 7
    three = pipe | EntropySampling()
    assert len(three.steps) == 3


def test_topk_narrows_candidates():
    rng = np.random.RandomState(0)
    P = rng.dirichlet([1, 1, 1], size=200)
    learner = _learner(P)
    pipe = TopK(MarginSampling(), k=10) | RandomSampling()
    top10 = MarginSampling()(learner, P, n_instances=10, random_state=0)
    for seed in range(5):
        sel = pipe(learner, P, n_instances=4, random_state=seed)
        assert set(sel) <= set(top10)


def test_topk_fraction_and_bad_k():
    P = np.random.RandomState(0).dirichlet([1, 1], size=100)
    learner = _learner(P)
    assert TopK(MarginSampling(), k=0.1)._narrow_size(1, 100) == 10
    with pytest.raises(ValueError, match="'k' parameter of TopK must be"):
        TopK(MarginSampling(), k=-3)(learner, P, n_instances=2)


def test_class_balanced_equal_counts():
    rng = np.random.RandomState(0)
    P = np.vstack(
        [
            rng.dirichlet([9, 1, 1], 300),
            rng.dirichlet([1, 9, 1], 30),
            rng.dirichlet([1, 1, 9], 30),
        ]
    )
    learner = _learner(P)
    sel = ClassBalanced(EntropySampling())(learner, P, n_instances=30, random_state=0)
    counts = np.bincount(P[sel].argmax(1), minlength=3)
    assert counts.tolist() == [10, 10, 10]
    # plain entropy would be dominated by nothing in particular; the quota holds
    sel = ClassBalanced(RandomSampling())(learner, P, n_instances=100, random_state=0)
    counts = np.bincount(P[sel].argmax(1), minlength=3)
    assert sorted(counts.tolist()) == [30, 30, 40]  # two classes exhausted


def test_function_strategy_contract_enforced():
    def bad(learner, X, *, n_instances, candidates, random_state):
        return np.repeat(candidates[:1], n_instances)

    with pytest.raises(RuntimeError, match="duplicate"):
        FunctionStrategy(bad)(None, np.zeros((5, 1)), n_instances=2)

    def good(learner, X, *, n_instances, candidates, random_state, offset=0):
        return candidates[offset : offset + n_instances]

    s = FunctionStrategy(good, kw_args={"offset": 2}, requires_model=False)
    np.testing.assert_array_equal(s(None, np.zeros((5, 1)), n_instances=2), [2, 3])


def test_strategy_without_predict_proba_errors(tabular):
    from sklearn.svm import SVC

    X, y = tabular
    clf = SVC().fit(X, y)
    with pytest.raises(
        TypeError, match="LeastConfidence needs class probabilities.*SVC"
    ):
        LeastConfidence()(clf, X, n_instances=3)


def test_strategies_on_sklearn_classifier(tabular):
    X, y = tabular
    clf = LogisticRegression().fit(X[:50], y[:50])
    for s in [LeastConfidence(), MarginSampling(), EntropySampling()]:
        sel = s(clf, X, n_instances=10, candidates=np.arange(50, 300), random_state=0)
        assert len(set(sel)) == 10 and sel.min() >= 50


# ------------------------------------------------------------------- tags
def test_tags_of_the_strategies():
    from skal.base import StrategyTags, get_strategy_tags
    from skal.strategies import BALD, CoreSet, PowerSampling, TypiClust

    assert get_strategy_tags(MarginSampling()) == StrategyTags(deterministic=True)
    assert get_strategy_tags(BALD()).deterministic is False
    assert get_strategy_tags(RandomSampling()).requires_model is False
    assert get_strategy_tags(ClassBalanced(MarginSampling())).class_balanced
    # composites follow what they wrap
    assert get_strategy_tags(TopK(MarginSampling()) | CoreSet()).deterministic
    assert not get_strategy_tags(TopK(MarginSampling()) | BALD()).deterministic
    assert not get_strategy_tags(TopK(TypiClust()) | RandomSampling()).requires_model
    assert not get_strategy_tags(PowerSampling(RandomSampling())).requires_model
    fs = FunctionStrategy(len, deterministic=True, requires_model=False)
    assert get_strategy_tags(fs) == StrategyTags(True, False, False)
    # the former name of the parameter warns, then still counts (until 0.3)
    old = FunctionStrategy(len, needs_model=False)
    with pytest.warns(FutureWarning, match="'needs_model'.*renamed 'requires_model'"):
        assert get_strategy_tags(old).requires_model is False
    with pytest.raises(TypeError, match="both 'needs_model'"):
        get_strategy_tags(FunctionStrategy(len, needs_model=True, requires_model=False))
    # the former private flags read the tags
    assert MarginSampling()._deterministic and not RandomSampling()._needs_model


def test_legacy_flags_still_count_with_a_deprecation_warning():
    from skal.base import get_strategy_tags

    with pytest.warns(DeprecationWarning, match=r"_deterministic.*__skal_tags__"):

        class Legacy(RandomSampling):
            _deterministic = True
            _needs_model = True

    tags = get_strategy_tags(Legacy())
    assert tags.deterministic and tags.requires_model
    # a legacy flag set below a class with tags wins over its tags
    with pytest.warns(DeprecationWarning):

        class NotDeterministic(MarginSampling):
            _deterministic = False

    assert not get_strategy_tags(NotDeterministic()).deterministic


def test_tags_are_overridden_like_sklearns():
    from skal.base import get_strategy_tags

    class Balanced(MarginSampling):
        def __skal_tags__(self):
            tags = super().__skal_tags__()
            tags.class_balanced = True
            return tags

    tags = get_strategy_tags(Balanced())
    assert tags.class_balanced and tags.deterministic and tags.requires_model


# --------------------------------------------- one signature for ``score``
def test_score_has_one_signature():
    import inspect

    from skal.base import ScoreStrategy
    from skal.strategies import BALD, VariationRatios

    want = ["learner", "X", "candidates", "random_state"]
    for s in (MarginSampling(), EntropySampling(), BALD(), VariationRatios()):
        assert isinstance(s, ScoreStrategy)
        assert list(inspect.signature(s.score).parameters) == want


def _seed_scores():
    """A random score (like BALD's dropout masks): its values follow the seed."""
    from skal.strategies import BALD

    class SeedScores(BALD):
        def _score(self, learner, X, candidates, random_state=None):
            seed = 0 if random_state is None else random_state
            return np.random.RandomState(seed).random_sample(candidates.shape[0])

    return SeedScores()


@pytest.mark.parametrize("wrapper", ["ClassBalanced", "PowerSampling"])
def test_random_state_reaches_a_random_score(wrapper):
    from skal.strategies import PowerSampling

    P = np.tile([[0.7, 0.3], [0.3, 0.7]], (20, 1))
    learner = _learner(P)
    wrap = {"ClassBalanced": ClassBalanced, "PowerSampling": PowerSampling}[wrapper]
    strategy = wrap(_seed_scores())
    picks = {
        tuple(np.sort(strategy(learner, P, n_instances=4, random_state=s)))
        for s in range(8)
    }
    assert len(picks) > 1
    again = strategy(learner, P, n_instances=4, random_state=3)
    np.testing.assert_array_equal(
        again, strategy(learner, P, n_instances=4, random_state=3)
    )


def test_a_deterministic_score_spends_no_draw():
    """Wrapping a deterministic scorer leaves the picks of the wrapper's own
    draws unchanged: ClassBalanced(MarginSampling()) breaks ties as the quotas
    left the generator."""
    from skal.base import score_random_state

    rng = np.random.RandomState(0)
    assert score_random_state(MarginSampling(), rng) is None
    assert rng.randint(100) == np.random.RandomState(0).randint(100)
    assert isinstance(score_random_state(_seed_scores(), rng), int)
