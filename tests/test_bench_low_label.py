"""benchmarks/bench_low_label.py: its plan parser, its bar and its steps check."""

import csv

import numpy as np
import pytest

from benchmarks import bench_low_label as bench


def test_plan_phases_and_jobs():
    plan = bench.parse_plan(
        [
            "# a comment",
            "mnist1d:freematch/default:0-1:20,40",
            "---",
            "mnist1d:freematch/random,supervised/random:0:40,80  # two arms",
        ]
    )
    assert [(p, a, s, b) for p, _, a, s, b in plan] == [
        (0, "freematch/default", [0, 1], [20, 40]),
        (1, "freematch/random", [0], [40, 80]),
        (1, "supervised/random", [0], [40, 80]),
    ]
    jobs = bench._jobs(plan)
    # a default arm is one simulation, a random arm one job per budget
    assert jobs[:2] == [
        ("mnist1d", "freematch/default", 0, (20, 40)),
        ("mnist1d", "freematch/default", 1, (20, 40)),
    ]
    assert ("mnist1d", "supervised/random", 0, (80,)) in jobs
    with pytest.raises(ValueError, match="unknown arm"):
        bench.parse_plan(["mnist1d:fixmatch/typiclust:0:20"])


def _rows(path, gap):
    """Synthetic rows: FreeMatch + default at b is supervised random at 4b + gap."""
    rng = np.random.RandomState(0)
    rows = []
    for seed in range(10):
        for b in (20, 40, 80, 160, 320):
            base = 0.5 + 0.1 * np.log2(b / 20) + rng.normal(scale=0.01)
            rows.append(("supervised/random", seed, b, base))
            if b <= 80:
                rows.append(("freematch/default", seed, b, base + 0.2 + gap))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=bench.FIELDS)
        w.writeheader()
        for arm, seed, b, acc in rows:
            w.writerow(
                dict(
                    dataset="mnist1d",
                    data_seed=12,
                    arm=arm,
                    seed=seed,
                    n_labels=b,
                    accuracy=round(acc, 4),
                    fit_seconds=1,
                    query_seconds=0,
                    cpu_seconds=1,
                )
            )


@pytest.mark.parametrize(
    "gap, verdict", [(0.05, "yes (CI > 0)"), (-0.05, "no (CI < 0)")]
)
def test_the_bar_reads_the_paired_difference(tmp_path, gap, verdict):
    _rows(tmp_path / "rows.csv", gap)
    bench.report(tmp_path)
    text = (tmp_path / "low_label.md").read_text()
    bar = text.split("### The bar")[1]
    line40 = next(x for x in bar.splitlines() if x.startswith("| 40 | 160 |"))
    assert line40.endswith(f"| {verdict} |")
    assert "| 640 | 2560 | not run |" in bar


def test_steps_check_writes_one_row_per_fit(tmp_path):
    bench.steps_check(
        tmp_path,
        3,
        labels=20,
        settings=["5", "5/weights_ema=0.9/dist_align=1"],
        seeds=[0],
        pool=150,
    )
    with open(tmp_path / "steps_check.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["min_steps"], r["options"]) for r in rows] == [
        ("5", ""),
        ("5", "weights_ema=0.9 dist_align=1"),
    ]
    assert all(int(r["n_steps"]) == 25 for r in rows)  # 5 + 1 per label
    assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)
    assert bench._option_value("dist_align", "0") is False
    assert bench._option_value("thresholding", "flexmatch") == "flexmatch"
