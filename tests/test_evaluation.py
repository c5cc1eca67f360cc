import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.naive_bayes import GaussianNB

from skal.datasets import add_ood
from skal.evaluation import (
    equivalence_test,
    evaluate,
    geometric_budgets,
    learning_curves,
    paired_differences,
    paired_t_power,
    plot_learning_curves,
)
from skal.metrics import aulc
from skal.strategies import MarginSampling, RandomSampling

matplotlib.use("Agg")

TIMING = ("query_seconds", "fit_seconds", "inference_seconds")


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=3.0, size=(3, 4))
    y = np.repeat(np.arange(3), 80)
    X = (centers[y] + rng.normal(size=(y.size, 4))).astype(np.float32)
    perm = rng.permutation(y.size)
    X, y = X[perm], y[perm]
    return X[:180], y[:180], X[180:], y[180:]


def _strategies():
    return {"random": RandomSampling(), "margin": MarginSampling()}


def _run(blobs, **kwargs):
    X, y, Xt, yt = blobs
    kwargs.setdefault("budgets", [6, 12, 24, 48])
    kwargs.setdefault("seeds", [0, 1])
    kwargs.setdefault("verbose", 0)
    return evaluate(GaussianNB(), _strategies(), X, y, Xt, yt, **kwargs)


def _strip(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_records_one_per_strategy_seed_budget(blobs):
    res = _run(blobs)
    assert len(res) == 2 * 2 * 4
    for r in res:
        counts = sum(r[f"count_{c}"] for c in range(3))
        assert counts == r["n_labels"] == r["n_trained"]
        assert r["n_ood"] == 0
        assert 0 <= r["accuracy"] <= 1
        assert all(r[k] >= 0 for k in TIMING)
    assert sorted({r["n_labels"] for r in res}) == [6, 12, 24, 48]
    assert [r["round"] for r in res[:4]] == [0, 1, 2, 3]


def test_same_seed_same_records_and_shared_initial_set(blobs):
    a, b = _run(blobs), _run(blobs)
    assert _strip(a) == _strip(b)
    first = {(r["strategy"], r["seed"]): r for r in a if r["round"] == 0}
    for seed in (0, 1):
        ra, rb = first[("random", seed)], first[("margin", seed)]
        assert _strip([ra])[0] | {"strategy": 0} == _strip([rb])[0] | {"strategy": 0}
    other = _run(blobs, seeds=[5])
    assert [r["count_0"] for r in other[:4]] != [r["count_0"] for r in a[:4]]


def test_parallel_matches_sequential(blobs):
    from joblib import parallel_config

    seq = _run(blobs)
    with parallel_config(backend="threading"):
        par = _run(blobs, n_jobs=2)
    assert _strip(seq) == _strip(par)


def test_ood_answers_cost_a_label_but_are_not_taught(blobs):
    X, y, Xt, yt = blobs
    Xo, yo, is_ood = add_ood(X, y, fraction=0.3, random_state=0)
    res = evaluate(
        GaussianNB(),
        _strategies(),
        Xo,
        yo,
        Xt,
        yt,
        budgets=[10, 30, 60],
        seeds=[0],
        verbose=0,
    )
    assert any(r["n_ood"] > 0 for r in res)
    for r in res:
        assert r["n_trained"] + r["n_ood"] == r["n_labels"]
        assert r["count_ood"] == r["n_ood"]


def test_paired_differences_ci_covers_true_difference():
    rng = np.random.RandomState(0)
    n_seeds, budgets, delta = 40, [10, 20, 40], 0.03
    recs = []
    for seed in range(n_seeds):
        base = rng.normal(0.6, 0.05)  # seed effect shared by both strategies
        for name, shift in (("random", 0.0), ("better", delta), ("same", 0.0)):
            noise = rng.normal(0, 0.01)
            for b in budgets:
                recs.append(
                    {
                        "strategy": name,
                        "seed": seed,
                        "n_labels": b,
                        "accuracy": base + shift + noise + b / 1000,
                    }
                )
    rows = {r["strategy"]: r for r in paired_differences(recs, random_state=0)}
    assert rows["better"]["ci_low"] < delta < rows["better"]["ci_high"]
    assert rows["better"]["significant"] == "better"
    assert rows["same"]["ci_low"] < 0 < rows["same"]["ci_high"]
    assert rows["same"]["significant"] == ""
    assert rows["random"]["mean"] == 0
    per_budget = paired_differences(recs, metric="accuracy", random_state=0)
    assert len(per_budget) == 3 * len(budgets)
    absolute = paired_differences(recs, baseline=None, random_state=0)
    assert "significant" not in absolute[0]
    assert absolute[0]["ci_low"] < absolute[0]["mean"] < absolute[0]["ci_high"]


def test_paired_differences_reproducible_and_checked(blobs):
    res = _run(blobs)
    assert paired_differences(res, random_state=1) == paired_differences(
        res, random_state=1
    )
    with pytest.raises(ValueError, match="baseline 'uniform' is not among"):
        paired_differences(res, baseline="uniform")
    with pytest.raises(ValueError, match="'metric' parameter"):
        paired_differences(res, metric="auc")


def test_plot_draws_one_line_per_strategy(blobs):
    res = _run(blobs)
    ax = plot_learning_curves(res)
    assert [line.get_label() for line in ax.get_lines()] == ["random", "margin"]
    assert len(ax.collections) == 2  # one band each
    assert ax.get_xscale() == "log"
    ax = plot_learning_curves(res, strategies=["margin"], band="none", log_x=False)
    assert len(ax.get_lines()) == 1 and not ax.collections


def test_learning_curves_shape(blobs):
    n, seeds, v = learning_curves(_run(blobs))["margin"]
    assert n.tolist() == [6, 12, 24, 48] and seeds.tolist() == [0, 1]
    assert v.shape == (2, 4) and np.isfinite(v).all()


@pytest.mark.parametrize(
    "budgets, match",
    [
        ([10, 10], "strictly increasing"),
        ([10, 500], "exceeds the pool"),
        ([], "non-empty"),
    ],
)
def test_bad_budgets(blobs, budgets, match):
    with pytest.raises(ValueError, match=match):
        _run(blobs, budgets=budgets)


def test_bad_strategies(blobs):
    X, y, Xt, yt = blobs
    with pytest.raises(TypeError, match="non-empty dict"):
        evaluate(GaussianNB(), [RandomSampling()], X, y, Xt, yt, budgets=[5])


def test_geometric_budgets():
    assert geometric_budgets(20, 1797) == [20, 40, 80, 160, 320, 640, 1280, 1797]
    assert geometric_budgets(20, 20) == [20]
    with pytest.raises(ValueError, match="factor"):
        geometric_budgets(2, 10, factor=1)


def test_t_interval_keeps_coverage_with_few_seeds_where_bootstrap_does_not():
    # 5 seeds, no true difference, one budget per experiment: the share of
    # experiments flagged significant is the false-positive rate of each CI.
    rng = np.random.RandomState(0)
    n_exp, n_seeds = 400, 5
    recs = []
    for e in range(n_exp):
        for seed in range(n_seeds):
            for name in ("random", "same"):
                recs.append(
                    {
                        "strategy": name,
                        "seed": seed,
                        "n_labels": e + 1,  # one "budget" per experiment
                        "accuracy": rng.normal(0.5, 0.02),
                    }
                )
    rates = {}
    for ci in ("bootstrap", "t"):
        rows = paired_differences(
            recs, metric="accuracy", ci=ci, n_boot=500, random_state=0
        )
        flagged = [r["significant"] != "" for r in rows if r["strategy"] == "same"]
        rates[ci] = np.mean(flagged)
    assert 0.01 < rates["t"] < 0.10  # nominal 5 %
    assert rates["bootstrap"] > 0.10  # the percentile bootstrap under-covers
    with pytest.raises(ValueError, match="'ci' parameter"):
        paired_differences(recs, ci="normal")


def _few_seed_records(n_seeds=5, delta=0.0, seed=0):
    rng = np.random.RandomState(seed)
    return [
        {"strategy": name, "seed": s, "n_labels": b, "accuracy": acc + b / 1000}
        for s in range(n_seeds)
        for name, acc in (
            ("random", 0.6 + rng.normal(0, 0.01)),
            ("margin", 0.6 + delta + rng.normal(0, 0.01)),
        )
        for b in (10, 20, 40)
    ]


def test_default_interval_is_the_t_interval_from_scipy():
    from scipy import stats

    recs = _few_seed_records()
    default = paired_differences(recs)
    assert default == paired_differences(recs, ci="t")
    d = np.array(
        [
            aulc([10, 20, 40], v)
            for v in learning_curves(recs)["margin"][2]
            - learning_curves(recs)["random"][2]
        ]
    )
    ref = stats.ttest_1samp(d, 0).confidence_interval(0.95)
    row = default[1]
    assert row["ci_low"] == pytest.approx(ref.low)
    assert row["ci_high"] == pytest.approx(ref.high)


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_bootstrap_intervals_are_scipy_s(method):
    from scipy import stats

    recs = _few_seed_records(n_seeds=8, delta=0.01)
    row = paired_differences(recs, ci=method, n_boot=999, random_state=3)[1]
    _, _, a = learning_curves(recs)["margin"]
    _, _, b = learning_curves(recs)["random"]
    d = np.array([aulc([10, 20, 40], r) for r in a - b])
    ref = stats.bootstrap(
        (d,),
        np.mean,
        n_resamples=999,
        method="BCa" if method == "bca" else "percentile",
        random_state=np.random.RandomState(3),
    ).confidence_interval
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ref.low, ref.high))


def test_plot_learning_curves_takes_one_learners_history():
    from sklearn.linear_model import LogisticRegression

    from skal import ActiveLearner

    X, y = np.random.RandomState(0).normal(size=(60, 3)), np.arange(60) % 2
    learner = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=5,
        budget=20,
        random_state=0,
    ).fit(X, y, eval_set=(X, y))
    ax = plot_learning_curves(learner.history_)
    (line,) = ax.get_lines()
    assert line.get_xdata().tolist() == [5, 10, 15, 20]
    assert line.get_ydata().tolist() == [r["score"] for r in learner.history_]
    assert ax.get_ylabel() == "score"
    no_score = ActiveLearner(
        LogisticRegression(), n_instances=5, budget=10, random_state=0
    ).fit(X, y)
    with pytest.raises(ValueError, match="eval_set"):
        plot_learning_curves(no_score.history_)


def test_evaluate_progress_bar_counts_rounds(blobs, capsys):
    X, y, Xt, yt = blobs
    evaluate(
        GaussianNB(),
        {"random": RandomSampling(), "margin": MarginSampling()},
        X,
        y,
        Xt,
        yt,
        budgets=[6, 12, 24],
        seeds=[0, 1],
        verbose=1,
    )
    err = capsys.readouterr().err
    assert "12/12" in err and "round" in err  # 2 strategies x 2 seeds x 3 rounds
    assert "labels=24" in err


def test_evaluate_in_parallel_gives_torch_a_share_of_the_cores(blobs):
    import os

    import torch
    from joblib import parallel_config

    from skal.strategies import FunctionStrategy

    seen = []

    def first_rows(learner, X, *, n_instances, candidates, random_state):
        seen.append(torch.get_num_threads())
        return candidates[:n_instances]

    X, y, Xt, yt = blobs
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # one per core, say, on a 3-core machine
    with parallel_config(backend="threading"):
        evaluate(
            GaussianNB(),
            {"first": FunctionStrategy(first_rows)},
            X,
            y,
            Xt,
            yt,
            budgets=[6, 12],
            seeds=[0, 1],
            n_jobs=2,
            verbose=0,
        )
    assert seen and set(seen) == {max(1, (os.cpu_count() or 1) // 2)}
    assert torch.get_num_threads() == 3  # restored
    torch.set_num_threads(before)


# --------------------------------------------------------------------------
# equivalence test (TOST) and power
# --------------------------------------------------------------------------
def _paired_records(d, baseline=0.5):
    """Records whose per-seed AULC difference (strategy - random) is ``d``."""
    return [
        {"strategy": st, "seed": s, "n_labels": n, "accuracy": baseline + x}
        for s, di in enumerate(d)
        for st, x in (("random", 0.0), ("a", float(di)))
        for n in (10, 20)
    ]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(3, 30),
    shift=st.floats(-0.02, 0.02),
    margin=st.floats(0.001, 0.03),
)
def test_tost_is_two_one_sided_scipy_t_tests(seed, n, shift, margin):
    from scipy import stats

    d = shift + 0.01 * np.random.RandomState(seed).standard_normal(n)
    (row,) = equivalence_test(_paired_records(d), margin=margin)
    lower = stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, margin, alternative="less").pvalue
    assert row["p_lower"] == pytest.approx(lower, rel=1e-9, abs=1e-12)
    assert row["p_upper"] == pytest.approx(upper, rel=1e-9, abs=1e-12)
    assert row["tost_p_value"] == pytest.approx(max(lower, upper), abs=1e-12)
    assert row["p_value"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue, abs=1e-12)
    assert row["equivalent"] == (max(lower, upper) < 0.05)
    # TOST at level alpha <=> the (1 - 2 alpha) t interval inside the margin
    ci = stats.ttest_1samp(d, 0).confidence_interval(0.90)
    if abs(max(lower, upper) - 0.05) > 1e-6:
        assert row["equivalent"] == (-margin < ci.low and ci.high < margin)
    assert row["mean"] == pytest.approx(d.mean(), abs=1e-12)
    assert row["sd"] == pytest.approx(d.std(ddof=1), rel=1e-9)


def test_equivalence_test_tells_equivalent_from_different():
    rng = np.random.RandomState(0)
    close = equivalence_test(
        _paired_records(0.0005 + 0.001 * rng.standard_normal(10)), margin=0.005
    )[0]
    far = equivalence_test(
        _paired_records(0.03 + 0.01 * rng.standard_normal(10)), margin=0.005
    )[0]
    noisy = equivalence_test(
        _paired_records(0.05 * rng.standard_normal(10)), margin=0.005
    )[0]
    assert close["equivalent"] and close["tost_p_value"] < 1e-4
    assert not far["equivalent"] and far["p_value"] < 0.05
    # no significant difference, yet nothing shown either: low power
    assert not noisy["equivalent"] and noisy["power"] < 0.2
    assert close["power"] > 0.99


def test_equivalence_test_per_budget_and_validation():
    d = 0.001 * np.arange(10)
    rows = equivalence_test(_paired_records(d), metric="accuracy", margin=0.02)
    assert [r["n_labels"] for r in rows] == [10, 20]
    assert all(r["strategy"] == "a" for r in rows)
    with pytest.raises(ValueError, match="'margin' parameter.*range"):
        equivalence_test(_paired_records(d), margin=-0.01)
    with pytest.raises(ValueError, match="baseline 'nope' is not among"):
        equivalence_test(_paired_records(d), baseline="nope", margin=0.01)
    one = equivalence_test(_paired_records(d[:1]), margin=0.01)[0]
    assert one["n_seeds"] == 1 and np.isnan(one["tost_p_value"])
    assert not one["equivalent"]


def test_power_textbook_values():
    # G*Power, paired t-test, two-sided alpha = 0.05: d = 1 with 10 pairs,
    # d = 0.5 with 34 pairs (Cohen's 80 % row)
    assert paired_t_power(1.0, 1.0, 10) == pytest.approx(0.8031, abs=5e-4)
    assert paired_t_power(0.5, 1.0, 34) == pytest.approx(0.8078, abs=5e-4)
    assert paired_t_power(0.0, 1.0, 10) == pytest.approx(0.05)
    assert paired_t_power(0.0, 1.0, 10, alternative="greater") == pytest.approx(0.05)
    assert paired_t_power(0.01, 0.0, 5) == 1.0
    # far in the tail (noncentrality 10 with 4 degrees of freedom)
    assert paired_t_power(0.140625, 0.03125, 5) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="'n_seeds' parameter"):
        paired_t_power(0.01, 0.01, 1)


def test_power_matches_simulated_rejection_rate():
    from scipy import stats

    rng = np.random.RandomState(0)
    n, effect, sd = 8, 0.01, 0.012
    d = effect + sd * rng.standard_normal((4000, n))
    rate = np.mean(stats.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05)
    # binomial SD of the rate over 4000 draws is below 0.008
    assert rate == pytest.approx(paired_t_power(effect, sd, n), abs=0.03)


@settings(max_examples=40, deadline=None)
@given(
    effect=st.floats(1e-4, 0.1),
    sd=st.floats(1e-3, 0.1),
    n=st.integers(2, 60),
    alternative=st.sampled_from(["two-sided", "greater"]),
)
def test_power_grows_with_seeds_and_effect(effect, sd, n, alternative):
    p = paired_t_power(effect, sd, n, alternative=alternative)
    assert 0.0 <= p <= 1.0
    assert paired_t_power(effect, sd, n + 1, alternative=alternative) >= p - 1e-12
    assert paired_t_power(1.5 * effect, sd, n, alternative=alternative) >= p - 1e-12
    assert paired_t_power(effect, 2 * sd, n, alternative=alternative) <= p + 1e-12


def test_progress_is_the_former_name_of_verbose(blobs, capsys):
    """evaluate(progress=) warns and still counts until 0.3 (issue 29)."""
    with pytest.warns(FutureWarning, match="'progress' parameter of evaluate"):
        res = _run(blobs, budgets=[6, 12], seeds=[0], progress=False, verbose=1)
    assert len(res) == 2 * 2 and "round" not in capsys.readouterr().err
