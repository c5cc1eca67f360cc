"""Where labels are fewest: the pool's and the strategy's share at every budget.

Arms (issue 27), each an active-learning simulation of
:func:`skal.evaluation.evaluate` paired by seed (every arm of a seed starts
from the same random initial set):

* ``supervised/random``: :func:`skal.nets.make_net`, trained to convergence
  (steps ``500 + n``), random sampling;
* ``augmented/random``: the same net with ``SignalAugment("weak")`` /
  ``ImageAugment("weak")`` on every batch;
* ``fixmatch/random``, ``fixmatch/default``: :class:`FixMatchClassifier`
  (threshold 0.95) with the pool, random sampling or the default strategy
  (:func:`skal.strategies.default_strategy`);
* ``freematch/random``, ``freematch/default``: :class:`FreeMatchClassifier`.

Both semi-supervised nets use the same module, augmentations and the CPU
``"auto"`` settings (``mu``, ``batch_size``, ``min_steps``; see
:meth:`skal.semi_supervised.SemiSupervisedNet.auto_settings`).

Data: MNIST-1D generated with ``--data-seed`` (default 12: seeds 0-4 and 11
were used for earlier choices, 11 for this issue's settings; 12 never chose
anything), pool ``--pool`` rows and 2000 test rows; digits (1347-row pool,
450-row test set, as in ``bench_label_efficiency.py``).

A *plan* is a list of ``dataset:arm:seeds:budgets`` items run in order, one
simulation at a time; every finished round appends a CSV row (``rows.csv``
under ``--out``), and a (dataset, arm, seed) already complete in the CSV is
skipped, so a cut run keeps what it finished and a rerun resumes::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.bench_low_label \\
        --plan-file benchmarks/results/label_efficiency/training/plan.txt
    python -m benchmarks.bench_low_label --report   # tables from rows.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from skal.callbacks import Callback

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "label_efficiency" / "training"
ARMS = (
    "supervised/random",
    "augmented/random",
    "fixmatch/random",
    "fixmatch/default",
    "freematch/random",
    "freematch/default",
)
FIELDS = (
    "dataset",
    "data_seed",
    "arm",
    "seed",
    "n_labels",
    "accuracy",
    "fit_seconds",
    "query_seconds",
    "cpu_seconds",
)
#: Non-inferiority margin of the bar (accuracy): "not worse" where the paired
#: interval's lower end is above -BAR_MARGIN.
BAR_MARGIN = 0.01
_DATA: dict = {}  # dataset -> (Xp, yp, Xt, yt, kind)
_CLOCK = {"cpu": 0.0}  # process CPU time at the last round's end


# --------------------------------------------------------------------- data
def load(name, data_seed, pool):
    """(X_pool, y_pool, X_test, y_test, kind) of ``mnist1d`` or ``digits``."""
    if name == "mnist1d":
        from skal.datasets import make_mnist1d

        X, y = make_mnist1d(pool + 2000, random_state=data_seed, return_X_y=True)
        return X[:pool], y[:pool], X[pool:], y[pool:], "signal"
    if name == "digits":
        from sklearn.model_selection import train_test_split

        from skal.datasets import load_digits_images

        X, y = load_digits_images(return_X_y=True)
        Xp, Xt, yp, yt = train_test_split(
            X, y, test_size=450, stratify=y, random_state=0
        )
        return Xp, yp, Xt, yt, "image"
    raise ValueError(f"unknown data set {name!r}; mnist1d or digits")


# ------------------------------------------------------------------- arms
def make_arm(arm, kind):
    """(estimator, strategy) of an arm for ``kind`` of data."""
    from skal.augment import ImageAugment, SignalAugment
    from skal.nets import CNN1d, CNN2d, make_net
    from skal.semi_supervised import FixMatchClassifier, FreeMatchClassifier
    from skal.strategies import RandomSampling, default_strategy

    training, strategy = arm.split("/")
    aug = SignalAugment if kind == "signal" else ImageAugment
    module = CNN1d if kind == "signal" else CNN2d
    strategy = RandomSampling() if strategy == "random" else default_strategy()
    if training == "supervised":
        return make_net(kind, 10), strategy
    if training == "augmented":
        return make_net(kind, 10, augment=aug("weak")), strategy
    cls = {"fixmatch": FixMatchClassifier, "freematch": FreeMatchClassifier}[training]
    net = cls(
        module,
        module__n_classes=10,
        augment_weak=aug("weak"),
        augment_strong=aug("strong"),
        mu="auto",
        batch_size="auto",
        min_steps="auto",
    )
    return net, strategy


class _Rows(Callback):
    """Appends one CSV row per finished round (accuracy on the test set)."""

    def __init__(self, path=None, dataset=None, data_seed=None, arm=None, seed=None):
        self.path = path
        self.dataset = dataset
        self.data_seed = data_seed
        self.arm = arm
        self.seed = seed

    def on_round_end(self, learner, **info):
        Xt, yt = _DATA[self.dataset][2:4]
        acc = float(np.mean(np.asarray(learner.predict(Xt)) == yt))
        row = dict(
            dataset=self.dataset,
            data_seed=self.data_seed,
            arm=self.arm,
            seed=self.seed,
            n_labels=info["n_labels"],
            accuracy=round(acc, 4),
            fit_seconds=round(float(info.get("fit_seconds") or 0), 2),
            query_seconds=round(float(info.get("query_seconds") or 0), 2),
            # CPU seconds of this process since the previous round ended
            # (query + fit + scoring; the load of other jobs does not count)
            cpu_seconds=round(time.process_time() - _CLOCK["cpu"], 2),
        )
        _CLOCK["cpu"] = time.process_time()
        _append(Path(self.path), row)
        print(row, flush=True)


def _append(path, row):
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)


def read_rows(path):
    if not path.exists():
        return []
    with open(path) as f:
        rows = list(csv.DictReader(f))
    out = {}
    for r in rows:
        r["seed"], r["n_labels"] = int(r["seed"]), int(r["n_labels"])
        r["accuracy"] = float(r["accuracy"])
        # a rerun that extends a simulation repeats its earlier rounds: keep
        # the first row of each (dataset, arm, seed, labels)
        out.setdefault((r["dataset"], r["arm"], r["seed"], r["n_labels"]), r)
    return list(out.values())


def parse_plan(items):
    """Plan lines to ``(phase, dataset, arm, seeds, budgets)`` items.

    A line is ``dataset:arm[,arm...]|all:first-last:b1,b2,...``; ``#``
    starts a comment; a line ``---`` starts the next phase.
    """
    plan, phase = [], 0
    for item in items:
        item = item.split("#")[0].strip()
        if item == "---":
            phase += 1
            continue
        if not item:
            continue
        name, arm, seeds, budgets = item.split(":")
        lo, _, hi = seeds.partition("-")
        seeds = range(int(lo), int(hi or lo) + 1)
        budgets = [int(b) for b in budgets.split(",")]
        for a in ARMS if arm == "all" else arm.split(","):
            if a not in ARMS:
                raise ValueError(f"unknown arm {a!r}; one of {ARMS}")
            plan.append((phase, name, a, list(seeds), budgets))
    return plan


def _jobs(plan):
    """Plan items to jobs ``(dataset, arm, seed, budgets)`` in run order.

    Phases run in order; within a phase, seed by seed (every arm of a seed
    before the next seed: paired if the run is cut). A random-sampling arm
    is one job per budget (its labeled set is a random draw of that size
    from the seed, as the initial set is); an arm with the default strategy
    is one simulation through all its budgets.
    """
    jobs = {}
    for phase, name, arm, seeds, budgets in plan:
        for seed in seeds:
            if arm.endswith("/random"):
                for b in budgets:
                    jobs.setdefault((name, arm, seed, (b,)), (phase, seed))
            else:
                jobs.setdefault((name, arm, seed, tuple(budgets)), (phase, seed))
    return sorted(jobs, key=lambda j: (*jobs[j], j[0], ARMS.index(j[1]), j[3]))


def run(plan, out, data_seed, pool):
    from skal import ActiveLearner
    from skal.evaluation import evaluate

    torch.set_num_threads(1)
    path = out / "rows.csv"
    for name, arm, seed, budgets in _jobs(plan):
        done = {
            r["n_labels"]
            for r in read_rows(path)
            if (r["dataset"], r["arm"], r["seed"]) == (name, arm, seed)
        }
        if set(budgets) <= done:
            continue
        if name not in _DATA:
            _DATA[name] = load(name, data_seed, pool)
        Xp, yp, Xt, yt, kind = _DATA[name]
        est, strategy = make_arm(arm, kind)
        rows = _Rows(str(path), name, data_seed if name == "mnist1d" else "", arm, seed)
        template = ActiveLearner(est, callbacks=[rows])
        t0 = time.perf_counter()
        _CLOCK["cpu"] = time.process_time()
        evaluate(
            template,
            {arm: strategy},
            Xp,
            yp,
            Xt,
            yt,
            budgets=list(budgets),
            seeds=[seed],
            verbose=False,
        )
        print(
            f"# {name} {arm} seed {seed} {budgets}: {time.perf_counter() - t0:.0f} s",
            flush=True,
        )


# -------------------------------------------------------- the steps check
STEPS_FIELDS = (
    "data_seed",
    "seed",
    "n_labels",
    "min_steps",
    "options",
    "n_steps",
    "accuracy",
    "cpu_seconds",
    "mask_rate",
)


def steps_check(out, data_seed, labels, settings, seeds, pool):
    """How many steps FreeMatch needs: one fit per (setting, seed) on MNIST-1D.

    The choice of ``cpu_settings["min_steps"]``, made on ``data_seed`` 11
    (never the reporting seed 12). Seed ``s`` labels the rows
    ``RandomState(1000 + s).choice(pool, labels)`` and seeds the fit with
    ``s``; every other setting is the bench's FreeMatch arm. ``settings``
    are ``min_steps[/option=value...]`` strings: ``"2000"``,
    ``"2000/weights_ema=0.999"``, ``"2000/dist_align=1"``,
    ``"2000/thresholding=flexmatch"`` (any FreeMatchClassifier parameter;
    a number is read as a float, ``1``/``0`` for a boolean parameter).
    One row per fit is appended to ``steps_check.csv`` under ``out``.
    """
    from skal.datasets import make_mnist1d

    torch.set_num_threads(1)
    X, y = make_mnist1d(pool + 2000, random_state=data_seed, return_X_y=True)
    Xp, yp, Xt, yt = X[:pool], y[:pool], X[pool:], y[pool:]
    for setting in settings:
        steps, *opts = setting.split("/")
        options = dict(o.split("=", 1) for o in opts)
        params = {k: _option_value(k, v) for k, v in options.items()}
        for seed in seeds:
            y_partial = partial_labels(yp, labels, seed)
            net = freematch_net(
                min_steps=int(steps),
                max_steps=max(4000, 2 * int(steps)),
                random_state=seed,
                **params,
            )
            t0 = time.process_time()
            net.fit(Xp, y_partial)
            row = dict(
                data_seed=data_seed,
                seed=seed,
                n_labels=labels,
                min_steps=int(steps),
                options=" ".join(opts),
                n_steps=net.n_steps_,
                accuracy=round(float(np.mean(net.predict(Xt) == yt)), 4),
                cpu_seconds=round(time.process_time() - t0, 1),
                mask_rate=round(float(net.mask_rate_), 3),
            )
            path = Path(out) / "steps_check.csv"
            new = not path.exists()
            with open(path, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=STEPS_FIELDS)
                if new:
                    w.writeheader()
                w.writerow(row)
            print(row, flush=True)


def partial_labels(y, labels, seed):
    """``y`` with all but a seeded random draw of ``labels`` rows set to -1.

    Seed ``s`` keeps the rows ``RandomState(1000 + s).choice(len(y), labels)``.
    """
    lab = np.random.RandomState(1000 + seed).choice(len(y), labels, replace=False)
    y_partial = np.full(len(y), -1)
    y_partial[lab] = np.asarray(y)[lab]
    return y_partial


def freematch_net(**params):
    """The steps check's FreeMatch: ``CNN1d``, ``SignalAugment`` weak/strong."""
    from skal.augment import SignalAugment
    from skal.nets import CNN1d
    from skal.semi_supervised import FreeMatchClassifier

    return FreeMatchClassifier(
        CNN1d,
        module__n_classes=10,
        augment_weak=SignalAugment("weak"),
        augment_strong=SignalAugment("strong"),
        **params,
    )


def _option_value(name, text):
    """A ``--steps-check`` option's value: bool, float or string."""
    if name in ("dist_align",):
        return text not in ("0", "false", "False")
    try:
        return float(text)
    except ValueError:
        return text


# ------------------------------------------------------------------ report
def report(out):
    from skal.evaluation import paired_differences
    from skal.metrics import label_efficiency

    rows = read_rows(out / "rows.csv")
    lines = [
        "# Where labels are fewest: the pool's and the strategy's share (issue 27)",
        "",
        "Generated by `python -m benchmarks.bench_low_label --report` from "
        "`rows.csv` (protocol and commands: `README.md`). Accuracy: mean over "
        "seeds; differences: paired by seed, mean [95 % paired t interval] "
        "(`skal.evaluation.paired_differences`); label efficiency: "
        "`skal.metrics.label_efficiency` of the mean curves (labels the "
        "baseline needs to reach the arm's accuracy / the arm's labels; "
        "'≥' = a lower bound, the baseline never reached it).",
    ]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        recs = [
            dict(
                strategy=r["arm"],
                seed=r["seed"],
                n_labels=r["n_labels"],
                accuracy=r["accuracy"],
            )
            for r in rows
            if r["dataset"] == name
        ]
        recs += _first_rounds(recs)
        lines += _report_dataset(name, recs, rows, paired_differences, label_efficiency)
    text = "\n".join(lines) + "\n"
    (out / "low_label.md").write_text(text)
    print(text)


def _first_rounds(recs):
    """Rows of ``X/random`` at the first budget, from ``X/default``'s first round.

    Both start from the seed's random initial set and the learner seeds the
    fit with the simulation seed, so the two fits are the same (checked
    where both were run); the plan runs the random arms from the second
    budget on.
    """
    first = min(r["n_labels"] for r in recs)
    have = {(r["strategy"], r["seed"]) for r in recs if r["n_labels"] == first}
    extra = []
    for r in recs:
        if r["n_labels"] != first or not r["strategy"].endswith("/default"):
            continue
        arm = r["strategy"].replace("/default", "/random")
        if (arm, r["seed"]) not in have:
            extra.append({**r, "strategy": arm})
    return extra


def _curve(recs, arm, seeds=None):
    """Budgets and mean accuracy of an arm (over ``seeds``, every seed if None)."""
    by = {}
    for r in recs:
        if r["strategy"] == arm and (seeds is None or r["seed"] in seeds):
            by.setdefault(r["n_labels"], []).append(r["accuracy"])
    n = np.array(sorted(by))
    return n, np.array([np.mean(by[b]) for b in n]), {b: len(by[b]) for b in n}


def _fmt(row):
    return (
        f"{row['mean']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] "
        f"(n={row['n_seeds']})"
    )


def _report_dataset(name, recs, rows, paired_differences, label_efficiency):
    import warnings

    arms = [a for a in ARMS if any(r["strategy"] == a for r in recs)]
    budgets = sorted({r["n_labels"] for r in recs})
    data_seed = next(r["data_seed"] for r in rows if r["dataset"] == name)
    out = ["", f"## {name}" + (f" (data seed {data_seed})" if data_seed else ""), ""]
    out += ["### Test accuracy (mean over seeds; seeds in brackets)", ""]
    out += ["| arm | " + " | ".join(map(str, budgets)) + " |"]
    out += ["|---|" + "---|" * len(budgets)]
    for a in arms:
        n, m, k = _curve(recs, a)
        cells = {b: f"{v:.3f} ({k[b]})" for b, v in zip(n, m)}
        out += [f"| {a} | " + " | ".join(cells.get(b, "") for b in budgets) + " |"]
    # per budget paired differences
    pairs = [
        ("fixmatch/default", "fixmatch/random", "strategy's share under FixMatch"),
        ("freematch/default", "freematch/random", "strategy's share under FreeMatch"),
        ("freematch/random", "supervised/random", "the pool's share (FreeMatch)"),
        ("freematch/random", "augmented/random", "the pool's share over augmentation"),
        ("freematch/default", "fixmatch/default", "FreeMatch − FixMatch (default)"),
        ("freematch/random", "fixmatch/random", "FreeMatch − FixMatch (random)"),
        ("augmented/random", "supervised/random", "augmentation's share"),
    ]
    out += ["", "### Paired differences per budget (mean [95 % t interval])", ""]
    out += ["| comparison | " + " | ".join(map(str, budgets)) + " |"]
    out += ["|---|" + "---|" * len(budgets)]
    for a, b, label in pairs:
        if a not in arms or b not in arms:
            continue
        sub = [r for r in recs if r["strategy"] in (a, b)]
        table = paired_differences(sub, baseline=b, metric="accuracy", ci="t")
        cells = {
            r["n_labels"]: _fmt(r) for r in table if r["strategy"] == a and r["n_seeds"]
        }
        out += [
            f"| {label}: {a} − {b} | "
            + " | ".join(cells.get(x, "") for x in budgets)
            + " |"
        ]
    # label efficiency against both supervised baselines, seed by seed
    out += [
        "",
        "### Label efficiency (per seed against the same seed's baseline curve; "
        "median over seeds [min, max])",
        "",
    ]
    for base in ("supervised/random", "augmented/random"):
        if base not in arms:
            continue
        nb_all, _, _ = _curve(recs, base)
        out += [f"Against `{base}` (measured to {nb_all[-1]} labels):", ""]
        out += ["| arm | " + " | ".join(map(str, budgets)) + " |"]
        out += ["|---|" + "---|" * len(budgets)]
        for a in arms:
            if a == base:
                continue
            per = {}
            for seed in sorted({r["seed"] for r in recs if r["strategy"] == a}):
                n, m, _ = _curve(recs, a, {seed})
                nb, mb, _ = _curve(recs, base, {seed})
                if len(nb) < 2:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    eff = label_efficiency(n, m, nb, mb, unreached=np.inf)
                    low = label_efficiency(n, m, nb, mb, unreached="bound")
                for b, e, lo in zip(n, eff, low):
                    per.setdefault(b, []).append((e, lo))
            cells = {}
            for b, vals in per.items():
                e = np.array([v[0] for v in vals])
                lo = np.array([v[1] for v in vals])
                bound = np.isinf(e)
                val = np.where(bound, lo, e)
                mark = "≥" if np.median(np.where(bound, np.inf, e)) == np.inf else ""
                cells[b] = (
                    f"{mark}{np.median(val):.1f} [{val.min():.1f}, {val.max():.1f}]"
                    + (f" ({bound.sum()} bounds)" if bound.any() else "")
                    + f" n={len(vals)}"
                )
            out += [f"| {a} | " + " | ".join(cells.get(b, "") for b in budgets) + " |"]
        out += [""]
    # the held-out bar: freematch/default at b vs supervised/random at 4b
    bar = [(40, 160), (80, 320), (640, 2560)]
    out += ["### The bar: FreeMatch + default at b against supervised random at 4b", ""]
    out += [
        "| b | 4b | FreeMatch + default at b | supervised random at 4b | "
        "difference, paired [95 % t] | met |",
        "|---|---|---|---|---|---|",
    ]
    fd = {
        (r["seed"], r["n_labels"]): r["accuracy"]
        for r in recs
        if r["strategy"] == "freematch/default"
    }
    sr = {
        (r["seed"], r["n_labels"]): r["accuracy"]
        for r in recs
        if r["strategy"] == "supervised/random"
    }
    for b, b4 in bar:
        seeds = sorted(s for s, n in fd if n == b and (s, b4) in sr)
        if not seeds:
            out += [f"| {b} | {b4} | not run | | | |"]
            continue
        sub = [dict(strategy="x", seed=s, n_labels=0, accuracy=fd[s, b]) for s in seeds]
        sub += [
            dict(strategy="base", seed=s, n_labels=0, accuracy=sr[s, b4]) for s in seeds
        ]
        d = next(
            r
            for r in paired_differences(sub, baseline="base", metric="accuracy", ci="t")
            if r["strategy"] == "x"
        )
        met = "yes (mean ≥ 0)" if d["mean"] >= 0 else "no (mean < 0)"
        if d["ci_low"] > 0:
            met = "yes (CI > 0)"
        elif d["ci_low"] > -BAR_MARGIN:
            met += f", not worse by {BAR_MARGIN} (CI > −{BAR_MARGIN})"
        elif d["ci_high"] < 0:
            met = "no (CI < 0)"
        out += [
            f"| {b} | {b4} | {np.mean([fd[s, b] for s in seeds]):.3f} | "
            f"{np.mean([sr[s, b4] for s in seeds]):.3f} | {_fmt(d)} | {met} |"
        ]
    # seconds
    out += [
        "",
        "### Seconds per round: wall (under this run's load) / CPU of the process "
        "(query + fit + scoring; mean over seeds)",
        "",
    ]
    out += ["| arm | " + " | ".join(map(str, budgets)) + " |"]
    out += ["|---|" + "---|" * len(budgets)]
    for a in arms:
        by = {}
        for r in rows:
            if r["dataset"] == name and r["arm"] == a:
                by.setdefault(r["n_labels"], []).append(
                    (float(r["fit_seconds"]), float(r["cpu_seconds"]))
                )
        cells = {}
        for b, vals in by.items():
            wall, cpu = np.mean(vals, axis=0)
            cells[b] = f"{wall:.0f} / {cpu:.1f}"
        out += [f"| {a} | " + " | ".join(cells.get(b, "") for b in budgets) + " |"]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plan", nargs="*", default=[])
    p.add_argument("--plan-file", type=Path)
    p.add_argument("--data-seed", type=int, default=12)
    p.add_argument("--pool", type=int, default=5000)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--report", action="store_true")
    p.add_argument(
        "--steps-check",
        nargs="+",
        metavar="MIN_STEPS[/EMA]",
        help="fit FreeMatch at these settings (see steps_check) and stop",
    )
    p.add_argument("--labels", type=int, default=40, help="for --steps-check")
    p.add_argument("--seeds", default="0-2", help="for --steps-check: first-last")
    a = p.parse_args(argv)
    if a.steps_check:
        lo, _, hi = a.seeds.partition("-")
        seeds = range(int(lo), int(hi or lo) + 1)
        steps_check(a.out, a.data_seed, a.labels, a.steps_check, seeds, a.pool)
        return
    items = list(a.plan)
    if a.plan_file:
        items += a.plan_file.read_text().splitlines()
    if items:
        run(parse_plan(items), a.out, a.data_seed, a.pool)
    if a.report or not items:
        report(a.out)


if __name__ == "__main__":
    main()
