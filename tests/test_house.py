"""House rules of issue 29: one definition per published number.

Benchmarks are thin scripts over :mod:`benchmarks._common`; their intervals
and labels-to-reach come from :mod:`skal.evaluation` / :mod:`skal.metrics`.
"""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skal.evaluation import t_interval
from skal.metrics import label_efficiency, labels_to_reach

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(BENCH.glob("*.py")) + sorted(BENCH.glob("*/*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(BENCH)))
def test_benchmarks_define_no_metric_and_patch_no_path(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            assert node.name not in ("_t_interval", "_labels_to_reach"), node.name
        if isinstance(node, ast.Attribute) and node.attr in ("ttest_1samp", "ppf"):
            pytest.fail(f"{path.name}:{node.lineno} computes its own interval")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            pytest.fail(f"{path.name}:{node.lineno} touches sys.path")


def test_the_shared_module_imports_as_a_package():
    from benchmarks import _common

    assert _common.RESULTS == BENCH / "results"
    assert _common.parse_seeds("0-2,7") == [0, 1, 2, 7]


_curve = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8)


def _old_log_linear(budgets, accs, target):
    """bench_label_efficiency's former private reading (the oracle)."""
    acc = np.maximum.accumulate(np.asarray(accs, dtype=float))
    b = np.asarray(budgets, dtype=float)
    hit = np.flatnonzero(acc >= target)
    if not hit.size:
        return np.inf
    i = hit[0]
    if i == 0:
        return b[0]
    lo, hi = np.log(b[i - 1]), np.log(b[i])
    frac = (target - acc[i - 1]) / max(acc[i] - acc[i - 1], 1e-12)
    return float(np.exp(lo + frac * (hi - lo)))


@settings(max_examples=60, deadline=None)
@given(scores=_curve, target=st.floats(0.0, 1.0))
def test_labels_to_reach_log_is_the_former_benchmark_reading(scores, target):
    n = 20 * 2 ** np.arange(len(scores))
    got = labels_to_reach(n, scores, target, scale="log")
    want = _old_log_linear(n, scores, target)
    assert (math.isinf(got) and math.isinf(want)) or got == pytest.approx(want)


@settings(max_examples=60, deadline=None)
@given(s=_curve, r=_curve)
def test_label_efficiency_is_a_ratio_of_labels_to_reach(s, r):
    n_s = 10 * np.arange(1, len(s) + 1)
    n_r = 10 * np.arange(1, len(r) + 1)
    target = np.maximum.accumulate(s)[-1]
    want = labels_to_reach(n_r, r, target) / labels_to_reach(n_s, s, target)
    got = label_efficiency(n_s, s, n_r, r, at=n_s[-1], unreached=np.inf)
    assert (math.isinf(got) and math.isinf(want)) or got == pytest.approx(want)


@settings(max_examples=60, deadline=None)
@given(d=st.lists(st.floats(-1, 1), min_size=2, max_size=20))
def test_t_interval_is_the_paired_t_tests(d):
    from scipy import stats

    d = np.asarray(d)
    m, lo, hi = t_interval(d)
    assert m == pytest.approx(d.mean())
    if np.ptp(d) <= 1e-12 * max(1.0, abs(m)):
        assert lo == hi == m
    else:
        ci = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
        assert (lo, hi) == pytest.approx((ci.low, ci.high))
    assert math.isnan(t_interval([0.3])[1])
