import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from skal.metrics import aulc, label_efficiency

# --------------------------------------------------------------------------
# aulc
# --------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["linear", "log"])
def test_aulc_constant_curve_equals_the_constant(scale):
    n = [10, 30, 100, 1000]
    assert aulc(n, [0.73] * 4, scale=scale) == pytest.approx(0.73)


def test_aulc_linear_ramp_equals_its_mean():
    n = np.linspace(100, 1000, 10)
    scores = 0.2 + 0.0005 * n
    assert aulc(n, scores) == pytest.approx(scores.mean())


def test_aulc_log_scale_weighs_each_decade_equally():
    n, scores = [10, 100, 1000], [0.0, 1.0, 1.0]
    # linear: the second decade is 10 times wider than the first
    assert aulc(n, scores) == pytest.approx((90 * 0.5 + 900 * 1.0) / 990)
    # log: both decades weigh the same
    assert aulc(n, scores, scale="log") == pytest.approx(0.75)


def test_aulc_sorts_points_by_budget():
    assert aulc([300, 100, 200], [0.9, 0.5, 0.7]) == pytest.approx(0.7)


def test_aulc_raw_area_without_normalize():
    assert aulc([100, 200, 400], [0.5, 0.7, 0.7], normalize=False) == pytest.approx(
        100 * 0.6 + 200 * 0.7
    )
    raw = aulc([10, 100], [0.4, 0.6], scale="log", normalize=False)
    assert raw == pytest.approx(0.5 * np.log(10))


def test_aulc_single_point():
    assert aulc([50], [0.42]) == 0.42
    assert aulc([50], [0.42], normalize=False) == 0.0


def test_aulc_returns_python_float():
    assert type(aulc(np.array([1, 2]), np.array([0.5, 0.5], dtype=np.float32))) is (
        float
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(n_labels=[1, 2, 3, 4, 5], scores=[0.1, 0.2, 0.3, 0.4]),
            "n_labels and scores must have the same length; got 5 and 4",
        ),
        (dict(n_labels=[], scores=[]), "must hold at least one point; got 0"),
        (
            dict(n_labels=[10, 20, 10], scores=[0.1, 0.2, 0.3]),
            "n_labels must be strictly increasing after sorting .* budget 10 more "
            "than once",
        ),
        (
            dict(n_labels=[0, 10], scores=[0.1, 0.2], scale="log"),
            "n_labels must be positive with scale='log'; got 0",
        ),
        (dict(n_labels=[1, 2], scores=[0.1, np.nan]), "scores must be finite; got nan"),
        (
            dict(n_labels=[[1, 2]], scores=[[0.1, 0.2]]),
            r"n_labels must be a 1-D array, one value per budget; .*shape \(1, 2\)",
        ),
        (
            dict(n_labels=[1, 2], scores=[0.1, 0.2], scale="sqrt"),
            r"The 'scale' parameter of aulc must be a str among .*Got 'sqrt' instead",
        ),
    ],
)
def test_aulc_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        aulc(**kwargs)


def test_aulc_non_numeric_error():
    with pytest.raises(TypeError, match="scores must hold numbers; got dtype <U1"):
        aulc([1, 2], ["a", "b"])


budgets = st.lists(
    st.integers(min_value=1, max_value=100_000), min_size=1, max_size=20, unique=True
)


@settings(deadline=None, max_examples=100)
@given(data=st.data(), n=budgets, scale=st.sampled_from(["linear", "log"]))
def test_aulc_lies_between_min_and_max_score(data, n, scale):
    scores = data.draw(
        st.lists(st.floats(0, 1, allow_nan=False), min_size=len(n), max_size=len(n))
    )
    area = aulc(n, scores, scale=scale)
    assert min(scores) <= area <= max(scores)
    # the order the points come in does not matter
    perm = data.draw(st.permutations(range(len(n))))
    assert aulc(np.take(n, perm), np.take(scores, perm), scale=scale) == (
        pytest.approx(area)
    )


# --------------------------------------------------------------------------
# label_efficiency
# --------------------------------------------------------------------------


def test_label_efficiency_is_two_when_random_needs_twice_the_labels():
    n, scores = [50, 100, 200, 400], [0.5, 0.6, 0.7, 0.8]
    eff = label_efficiency(n, scores, [2 * b for b in n], scores)
    np.testing.assert_allclose(eff, 2.0)
    assert eff.shape == (4,)


def test_label_efficiency_is_one_for_identical_curves():
    # also for a noisy, non-monotone curve
    n, scores = [10, 20, 30, 40, 50], [0.5, 0.7, 0.6, 0.6, 0.9]
    np.testing.assert_array_equal(label_efficiency(n, scores, n, scores), 1.0)


def test_label_efficiency_interpolates_random_curve():
    # random reaches 0.65 three quarters of the way from 100 to 300 labels
    eff = label_efficiency([100], [0.65], [100, 300], [0.5, 0.7])
    np.testing.assert_allclose(eff, [250 / 100])


def test_label_efficiency_interpolates_strategy_curve_at_intermediate_budget():
    # at 150 labels the strategy is at 0.65; random needs 250 for it
    eff = label_efficiency([100, 200], [0.6, 0.7], [100, 300], [0.5, 0.7], at=150)
    assert eff == pytest.approx(250 / 150)
    assert isinstance(eff, float)


def test_label_efficiency_uses_running_maximum_of_random():
    # random's dip at 300 labels is ignored: 0.75 is reached at 200 labels
    eff = label_efficiency(
        [100, 200], [0.7, 0.75], [100, 200, 300], [0.5, 0.8, 0.6], at=[100, 200]
    )
    np.testing.assert_allclose(
        eff, [(100 + 100 * 0.2 / 0.3) / 100, (100 + 100 * 0.25 / 0.3) / 200]
    )


def test_label_efficiency_flat_strategy_counts_labels_it_needed():
    # the strategy reached 0.7 with 100 labels; at 200 it still needed only 100
    eff = label_efficiency([100, 200], [0.7, 0.7], [100, 400], [0.5, 0.7], at=200)
    assert eff == pytest.approx(4.0)


def test_label_efficiency_random_above_at_first_budget_clips_to_it():
    eff = label_efficiency([100, 200], [0.6, 0.7], [150, 300], [0.9, 0.95])
    np.testing.assert_allclose(eff, [150 / 100, 150 / 200])


def test_label_efficiency_at_array_and_scalar():
    n, s = [100, 200, 400], [0.6, 0.7, 0.8]
    rn, rs = [100, 200, 400, 800], [0.5, 0.6, 0.7, 0.8]
    np.testing.assert_allclose(label_efficiency(n, s, rn, rs, at=[200, 400]), 2.0)
    assert label_efficiency(n, s, rn, rs, at=np.int64(400)) == pytest.approx(2.0)


def test_label_efficiency_never_reached_warns_and_returns_lower_bound():
    n, s = [100, 200], [0.6, 0.9]
    rn, rs = [100, 300], [0.5, 0.7]
    with pytest.warns(
        UndefinedMetricWarning,
        match=r"never reaches the strategy's score at 1 of 2 budget\(s\) .*"
        "returning the lower bound 300",
    ):
        eff = label_efficiency(n, s, rn, rs)
    np.testing.assert_allclose(eff, [2.0, 300 / 200])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bound = label_efficiency(n, s, rn, rs, unreached="bound")
    np.testing.assert_allclose(bound, eff)

    nan = label_efficiency(n, s, rn, rs, unreached=np.nan)
    assert nan[0] == pytest.approx(2.0) and np.isnan(nan[1])
    assert label_efficiency(n, s, rn, rs, at=200, unreached=np.inf) == np.inf


def test_label_efficiency_single_point_random_curve():
    eff = label_efficiency([100, 200], [0.5, 0.6], [100], [0.55], unreached=np.nan)
    np.testing.assert_allclose(eff, [1.0, np.nan])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(random_n_labels=[1, 2, 3], random_scores=[0.1, 0.2]),
            "random_n_labels and random_scores must have the same length; got 3 and 2",
        ),
        (
            dict(n_labels=[0, 100]),
            "n_labels must be positive to form a ratio of label counts; got 0. Drop",
        ),
        (
            dict(random_n_labels=[0, 100]),
            "random_n_labels must be positive to form a ratio .*; got 0",
        ),
        (
            dict(at=50),
            r"at must lie within the strategy's budgets \[100, 200\]; got 50",
        ),
        (
            dict(at=[100, 250]),
            r"at must lie within the strategy's budgets \[100, 200\]; got 250",
        ),
        (dict(at=[[100]]), r"at must be a float or a 1-D array .*shape \(1, 1\)"),
        (
            dict(unreached="ignore"),
            "The 'unreached' parameter of label_efficiency must be a str among",
        ),
    ],
)
def test_label_efficiency_errors(kwargs, match):
    args = dict(
        n_labels=[100, 200],
        scores=[0.5, 0.6],
        random_n_labels=[100, 200],
        random_scores=[0.5, 0.6],
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        label_efficiency(**args)


@settings(deadline=None, max_examples=100)
@given(
    data=st.data(),
    n=budgets,
    factor=st.floats(0.1, 10, allow_nan=False),
)
def test_label_efficiency_scales_with_random_budgets(data, n, factor):
    scores = data.draw(
        st.lists(st.floats(0, 1, allow_nan=False), min_size=len(n), max_size=len(n))
    )
    np.testing.assert_array_equal(label_efficiency(n, scores, n, scores), 1.0)
    # random measured at factor x the budgets with the same scores needs factor x
    # the labels for every score
    eff = label_efficiency(n, scores, np.multiply(n, factor), scores)
    np.testing.assert_allclose(eff, factor, rtol=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(1, 10_000), min_size=2, max_size=12, unique=True),
    st.data(),
)
def test_raw_aulc_is_sklearn_auc(budgets, data):
    from sklearn.metrics import auc

    scores = data.draw(
        st.lists(st.floats(0, 1), min_size=len(budgets), max_size=len(budgets))
    )
    n = np.array(budgets)
    order = np.argsort(n)
    expected = auc(n[order], np.array(scores)[order])
    assert aulc(budgets, scores, normalize=False) == pytest.approx(expected)
    log = auc(np.log(n[order]), np.array(scores)[order])
    assert aulc(budgets, scores, scale="log", normalize=False) == pytest.approx(log)
