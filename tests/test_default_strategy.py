import numpy as np
import pytest
from sklearn.base import clone
from sklearn.naive_bayes import GaussianNB

from skal import ActiveLearner
from skal.strategies import (
    ColdStartHybrid,
    TypiClust,
    default_strategy,
    margin_score,
)


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=4.0, size=(4, 3))
    y = np.repeat(np.arange(4), 60)
    X = centers[y] + rng.normal(size=(y.size, 3))
    return X, y


def _learner(X, y, n_labeled, strategy=None, n_instances=8):
    y_seed = np.full_like(y, -1)
    idx = np.concatenate([np.flatnonzero(y == c)[: n_labeled // 4] for c in range(4)])
    y_seed[idx] = y[idx]
    return ActiveLearner(
        GaussianNB(),
        strategy=strategy,
        n_instances=n_instances,
        random_state=0,
    ).fit(X, y_seed)


def test_default_strategy_is_cold_start_hybrid():
    s = default_strategy()
    assert isinstance(s, ColdStartHybrid)
    assert s.get_params() == clone(s).get_params()


@pytest.mark.parametrize(
    "n_labeled, per_class, phase",
    [(8, 5, "cold_start"), (20, 5, "hybrid"), (16, 4, "hybrid"), (8, 0, "hybrid")],
)
def test_phase_switches_on_labels_per_class(blobs, n_labeled, per_class, phase):
    learner = _learner(*blobs, n_labeled)
    assert ColdStartHybrid(cold_start_per_class=per_class).phase(learner) == phase


def test_bare_estimator_counts_as_past_cold_start(blobs):
    X, y = blobs
    clf = GaussianNB().fit(X, y)
    assert ColdStartHybrid().phase(clf) == "hybrid"
    sel = ColdStartHybrid()(clf, X, n_instances=5, random_state=0)
    assert sel.shape == (5,) and np.unique(sel).size == 5


def test_cold_start_picks_typical_rows_of_uncovered_clusters(blobs):
    X, y = blobs
    learner = _learner(X, y, 4, ColdStartHybrid(n_neighbors=5, random_share=0.0))
    idx = learner.query(n_instances=4)
    # typical rows sit near their class centre, far from the pool's outskirts
    centres = np.array([X[y == c].mean(0) for c in range(4)])
    dist = np.linalg.norm(X - centres[y], axis=1)
    assert np.median(dist[idx]) < np.median(dist)
    assert not np.isin(idx, learner.labeled_indices_).any()


@pytest.mark.parametrize("embedding", ["model", "input"])
@pytest.mark.parametrize("normalize", [True, False])
def test_cold_start_is_typiclust(blobs, embedding, normalize):
    """The cold-start phase calls TypiClust through its public ``__call__``:
    the same picks as TypiClust called on the child seed that ``__call__``
    draws from the hybrid's stream (the random share is drawn before it)."""
    from skal.utils._seeding import draw_seed

    X, y = blobs
    learner = _learner(X, y, 8)
    pool = learner.pool_indices_
    for seed in range(3):
        child = draw_seed(np.random.RandomState(seed))
        for n in (1, 6, 30):
            hybrid = ColdStartHybrid(
                n_neighbors=7,
                random_share=0.0,
                embedding=embedding,
                normalize=normalize,
            )
            typical = TypiClust(n_neighbors=7, embedding=embedding, normalize=normalize)
            np.testing.assert_array_equal(
                hybrid(learner, X, n_instances=n, candidates=pool, random_state=seed),
                typical(learner, X, n_instances=n, candidates=pool, random_state=child),
            )


def test_hybrid_picks_uncertain_and_diverse_rows(blobs):
    X, y = blobs
    s = ColdStartHybrid(hybrid="margin_kmeans", margin_factor=4, random_share=0.0)
    learner = _learner(X, y, 40, s, n_instances=6)
    idx = learner.query()
    pool = learner.pool_indices_
    scores = margin_score(learner.predict_proba(X[pool]))
    # every pick is among the beta * n most uncertain rows of the pool
    top = pool[np.argsort(-scores)[: 4 * 6]]
    assert np.isin(idx, top).all()
    # and the batch is spread out: no two picks are the same row
    assert np.unique(idx).size == 6


def test_large_batch_still_favours_uncertain_rows(blobs):
    X, y = blobs
    # the margin_factor cap, measured in the raw 3-feature space of the blobs
    s = ColdStartHybrid(
        hybrid="margin_kmeans", margin_factor=10, random_share=0.0, normalize=False
    )
    learner = _learner(X, y, 40, s, n_instances=60)
    idx = learner.query()
    pool = learner.pool_indices_
    scores = dict(zip(pool, margin_score(learner.predict_proba(X[pool]))))
    picked = np.array([scores[i] for i in idx])
    assert picked.mean() > np.mean(list(scores.values()))


def test_badge_phase_prefers_uncertain_rows(blobs):
    X, y = blobs
    learner = _learner(X, y, 40, ColdStartHybrid(), n_instances=20)
    assert learner.strategy.phase(learner) == "hybrid"
    idx = learner.query()
    pool = learner.pool_indices_
    scores = dict(zip(pool, margin_score(learner.predict_proba(X[pool]))))
    picked = np.array([scores[i] for i in idx])
    assert np.unique(idx).size == 20
    assert picked.mean() > np.mean(list(scores.values()))


def test_random_share_mixes_uniform_rows_into_the_batch(blobs):
    X, y = blobs
    learner = _learner(X, y, 40, n_instances=40)
    pool = learner.pool_indices_
    margins = margin_score(learner.predict_proba(X[pool]))
    scores = dict(zip(pool, margins))
    uncertain = set(pool[np.argsort(-margins)][:40])

    def overlap(share):
        s = ColdStartHybrid(random_share=share)
        idx = s(learner, X, n_instances=40, candidates=pool, random_state=0)
        assert np.unique(idx).size == 40 and np.isin(idx, pool).all()
        return len(uncertain & set(idx)), np.mean([scores[i] for i in idx])

    (o0, m0), (o5, m5), (o1, m1) = overlap(0.0), overlap(0.5), overlap(1.0)
    # BADGE concentrates on uncertain rows; a random share dilutes that, and
    # a share of 1 is uniform sampling: its mean uncertainty is the pool's
    assert o0 > o5 > o1
    assert m0 > m5 > m1
    assert abs(m1 - np.mean(list(scores.values()))) < 0.1


def test_random_share_floor_keeps_single_picks_model_based(blobs):
    X, y = blobs
    learner = _learner(X, y, 40)
    pool = learner.pool_indices_
    one = ColdStartHybrid(random_share=0.5)(
        learner, X, n_instances=1, candidates=pool, random_state=0
    )
    ref = ColdStartHybrid(random_share=0.0)(
        learner, X, n_instances=1, candidates=pool, random_state=0
    )
    np.testing.assert_array_equal(one, ref)


@pytest.mark.parametrize("hybrid", ["badge", "margin_kmeans"])
@pytest.mark.parametrize("share", [0.0, 0.5])
def test_reproducible_and_stateless(blobs, hybrid, share):
    X, y = blobs
    s = ColdStartHybrid(hybrid=hybrid, random_share=share)
    before = s.get_params()
    learner = _learner(X, y, 40)
    a = s(learner, X, n_instances=5, candidates=learner.pool_indices_, random_state=3)
    b = s(learner, X, n_instances=5, candidates=learner.pool_indices_, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert s.get_params() == before


def test_input_embedding(blobs):
    X, y = blobs
    learner = _learner(X, y, 4, ColdStartHybrid(embedding="input"))
    assert learner.query(n_instances=3).shape == (3,)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"embedding": "pixels"}, "'embedding' parameter"),
        ({"hybrid": "bald"}, "'hybrid' parameter"),
        ({"beta": 0}, "'beta' parameter"),
        ({"cold_start_per_class": -1}, "'cold_start_per_class' parameter"),
        ({"random_share": 1.5}, "'random_share' parameter"),
        ({"random_share": "half"}, "'random_share' parameter"),
        ({"random_share": True}, "'random_share' parameter"),
    ],
)
def test_bad_params(blobs, params, match):
    learner = _learner(*blobs, 8)
    with pytest.raises(ValueError, match=match):
        ColdStartHybrid(**params)(learner, blobs[0], n_instances=2, random_state=0)


def test_active_learner_uses_it_by_default(blobs):
    X, y = blobs
    learner = _learner(X, y, 8)
    assert learner.query(n_instances=4).shape == (4,)


def test_former_parameter_names_warn_and_still_count():
    """beta / k were renamed margin_factor / n_neighbors (ClusterMargin's and
    TypiClust's names): the old ones warn and select as the new ones do."""
    old = ColdStartHybrid(hybrid="margin_kmeans", beta=4, k=5, random_share=0.0)
    new = ColdStartHybrid(
        hybrid="margin_kmeans", margin_factor=4, n_neighbors=5, random_share=0.0
    )
    with pytest.warns(FutureWarning) as rec:
        assert old._renamed() == new._renamed() == (4, 5)
    assert sorted(str(w.message).split("'")[1] for w in rec) == ["beta", "k"]
    assert "beta" in old.get_params() and clone(old).get_params()["k"] == 5
    with pytest.raises(TypeError, match="both 'beta'"):
        ColdStartHybrid(beta=4, margin_factor=3)._renamed()
