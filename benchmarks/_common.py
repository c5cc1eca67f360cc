"""What every benchmark script shares: data, estimators, strategies, CSV files.

Import it as ``from benchmarks._common import load_dataset`` and run the
scripts as modules from the repository root (``python -m
benchmarks.bench_label_efficiency ...``): ``benchmarks`` is a package, so no
script patches ``sys.path``. Metrics and intervals are not defined here: they
come from :mod:`skal.metrics` (``aulc``, ``label_efficiency``,
``labels_to_reach``) and :mod:`skal.evaluation` (``paired_differences``,
``equivalence_test``, ``t_interval``), so each published number has one
definition.

* paths: ``HERE`` (this folder), ``RESULTS`` (``benchmarks/results``),
  ``CACHE`` (generated data, in the system's temporary folder);
* data: :func:`mnist1d`, :func:`digits_split`, :func:`load_dataset` over
  ``SUITE``;
* estimators: :func:`make_estimator` for the ``TRAININGS`` regimes;
* strategies: :func:`make_strategies` by the short names of ``ALIASES``;
* records: :func:`read_csv` / :func:`write_csv` (whole files, typed values),
  :func:`read_rows` (strings), :func:`append_rows` (rows as they finish),
  :func:`append_seeds` (resumable, one seed at a time),
  :func:`evaluate_seed_by_seed` (``evaluate`` one seed at a time into a CSV),
  :func:`parse_seeds` (``"0-9,20"``);
* docs: :func:`md_to_rst` (markdown tables to reStructuredText list-tables).
"""

from __future__ import annotations

import csv
import inspect
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE = Path(tempfile.gettempdir()) / "skal_bench_cache"


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
DATA_SEED = 0  # the seed that generates MNIST-1D (``--data-seed``)


def mnist1d(n, seed=None):
    """MNIST-1D, cached with numpy (generation takes seconds per 10k rows)."""
    from skal.datasets import make_mnist1d

    seed = DATA_SEED if seed is None else seed
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"mnist1d_{n}_{seed}.npz"
    if path.exists():
        with np.load(path) as d:
            return d["X"], d["y"]
    X, y = make_mnist1d(n, random_state=seed, return_X_y=True)
    np.savez(path, X=X, y=y)
    return X, y


def digits_split():
    from sklearn.model_selection import train_test_split

    from skal.datasets import load_digits_images

    X, y = load_digits_images(return_X_y=True)
    return train_test_split(X, y, test_size=450, stratify=y, random_state=0)


def load_dataset(name, quick=False):
    """(X_pool, y_pool, X_test, y_test, dim, budgets) of a suite data set."""
    from skal.datasets import add_near_duplicates, add_ood, make_imbalanced
    from skal.evaluation import geometric_budgets

    scale = 4 if quick else 1
    if name.startswith("mnist1d"):
        X, y = mnist1d(24000)
        X_test, y_test = X[22000:], y[22000:]
        if name == "mnist1d_lt":
            Xp, yp, _ = make_imbalanced(
                X[: 20000 // scale], y[: 20000 // scale], ratio=10, random_state=0
            )
        else:
            Xp, yp = X[: 8000 // scale], y[: 8000 // scale]
        if name == "mnist1d_ood":
            Xp, yp, _ = add_ood(Xp, yp, fraction=0.2, random_state=0)
        stop = 2560 if not quick else 80
        return Xp, yp, X_test, y_test, 1, geometric_budgets(20, stop)
    if name.startswith("digits"):
        Xp, X_test, yp, y_test = digits_split()
        if quick:
            Xp, yp = Xp[:400], yp[:400]
        stop = 640 if not quick else 80
        if name == "digits_dup":
            Xp, yp, _ = add_near_duplicates(
                Xp, yp, fraction=0.3, n_copies=5, noise=0.05, random_state=0
            )
            stop = 1280 if not quick else 80
        return Xp, yp, X_test, y_test, 2, geometric_budgets(20, stop)
    raise ValueError(f"unknown data set {name!r}")


SUITE = ["mnist1d", "digits", "mnist1d_lt", "mnist1d_ood", "digits_dup"]


# --------------------------------------------------------------------------
# estimators
# --------------------------------------------------------------------------
TRAININGS = ["short", "converged", "augment", "ssl"]


def make_estimator(training, dim, quick=False):
    """The estimator of a training regime, for 1-D signals or images.

    * ``short``: the net every comparison used before (about 150 steps per
      fit, a 2-block CNN without batch norm), kept so the effect shows;
    * ``converged``: :func:`skal.nets.make_net` (steps grow with the labels,
      cosine schedule, AdamW weight decay);
    * ``augment``: the converged net with weak augmentation of every batch;
    * ``ssl``: :class:`skal.semi_supervised.FixMatchClassifier` on the same
      schedule and module, weak/strong augmentation, the pool as unlabeled
      rows; ``mu=3`` unlabeled rows per labeled one (the paper's 7 costs
      twice the CPU time per step).
    """
    from skal.augment import ImageAugment, SignalAugment
    from skal.nets import CNN1d, CNN2d, make_net
    from skal.semi_supervised import FixMatchClassifier
    from skal.utils._testing import make_step_net

    kind = "signal" if dim == 1 else "image"
    aug = SignalAugment if dim == 1 else ImageAugment
    small = dict(min_steps=60, steps_per_label=0.2, max_steps=200) if quick else {}
    if training == "short":
        return make_step_net(n_steps=60 if quick else 150, n_classes=10, dim=dim)
    if training == "converged":
        return make_net(kind, 10, **small)
    if training == "augment":
        return make_net(kind, 10, augment=aug("weak"), **small)
    if training == "ssl":
        return FixMatchClassifier(
            CNN1d if dim == 1 else CNN2d,
            module__n_classes=10,
            augment_weak=aug("weak"),
            augment_strong=aug("strong"),
            threshold=0.95,
            lambda_u=1.0,
            mu=3,
            **small,
        )
    raise ValueError(f"unknown training regime {training!r}; one of {TRAININGS}")


# --------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------
def _snake(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("b_a_d_g_e", "badge").replace("b_a_l_d", "bald")


def all_strategies():
    """Every strategy of skal.strategies that runs with its defaults."""
    import skal.strategies as S
    from skal.base import BaseStrategy

    skip = {
        "TopK",
        "ClassBalanced",
        "StrategyPipeline",
        "FunctionStrategy",
        "OODFilter",
    }
    out = {}
    for name in S.__all__:
        obj = getattr(S, name)
        if not (inspect.isclass(obj) and issubclass(obj, BaseStrategy)) or (
            name in skip
        ):
            continue
        try:
            out[name] = obj()
        except TypeError:
            continue
    return out


ALIASES = {
    "random": "RandomSampling",
    "least_confidence": "LeastConfidence",
    "margin": "MarginSampling",
    "entropy": "EntropySampling",
    "bald": "BALD",
    "variation_ratios": "VariationRatios",
    "coreset": "CoreSet",
    "kmeans": "KMeansSampling",
    "badge": "BADGE",
    "cluster_margin": "ClusterMargin",
    "typiclust": "TypiClust",
    "probcover": "ProbCover",
    "base": "BalancedSelection",
    "power": "PowerSampling",
    "facility_location": "FacilityLocation",
    "smi": "SubmodularMutualInformation",
}


def make_strategies(names):
    from sklearn.base import clone

    import skal.strategies as S

    available = all_strategies()
    by_alias = {a: available[c] for a, c in ALIASES.items() if c in available}
    default = S.default_strategy()
    by_alias["default"] = default
    if "hybrid" in default.get_params():
        # the default with its other hybrid phase (the first candidate default)
        by_alias["default_margin_kmeans"] = clone(default).set_params(
            hybrid="margin_kmeans"
        )
    if "random_share" in default.get_params():
        # the alternatives compared on seeds 0-9 to choose the default
        variants = {
            "default_no_random": dict(random_share=0.0),
            "default_r50": dict(random_share=0.5),
            # skal 0.1's default: typicality up to 5 labels per class
            "previous_default": dict(cold_start_per_class=5, random_share=0.0),
            "previous_default_r50": dict(cold_start_per_class=5, random_share=0.5),
            # no typicality after a random initial set of 2 labels per class
            "badge_after_random": dict(cold_start_per_class=2, random_share=0.0),
            "badge_after_random_r50": dict(cold_start_per_class=2, random_share=0.5),
        }
        for alias, params in variants.items():
            by_alias[alias] = clone(default).set_params(**params)
    if "BatchBALD" in S.__all__:
        # greedy joint entropy costs O(batch x candidates x configurations):
        # BALD's top 500 rows are the candidates (the reference only)
        by_alias["batchbald"] = S.TopK(S.BALD(), k=500) | S.BatchBALD()
    if "OODFilter" in S.__all__:
        by_alias["oodfilter_margin"] = S.OODFilter(contamination=0.2) | (
            S.MarginSampling()
        )
    if names == ["all"]:
        names = list(by_alias)
    missing = [n for n in names if n not in by_alias]
    if missing:
        print(f"skipping strategies not available here: {missing}", file=sys.stderr)
    return {n: by_alias[n] for n in names if n in by_alias}


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------
def write_csv(records, path):
    keys = list(dict.fromkeys(k for r in records for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in records:
            w.writerow({k: r.get(k, "") for k in keys})


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for k, v in row.items():
            if k == "strategy":
                continue
            try:
                row[k] = int(v)
            except ValueError:
                try:
                    row[k] = float(v)
                except ValueError:
                    pass
    return rows


def read_rows(path):
    """The rows of the CSV at ``path`` as dicts of strings; [] if it is absent."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_rows(path, rows, fields=None):
    """Append ``rows`` (dicts) to the CSV at ``path``, with a header if it is
    new; ``fields`` defaults to the first row's keys."""
    rows = list(rows)
    if not rows:
        return
    path = Path(path)
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields or rows[0]))
        if new:
            w.writeheader()
        w.writerows(rows)


def append_seeds(path, seeds, records_of, label, *, sort_keys=False):
    """Append ``records_of(seed)`` to the CSV at ``path`` for every seed it
    does not hold yet, one seed at a time (an interrupted run keeps them);
    appended rows follow the file's header."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done, header = set(), None
    if path.exists():
        with open(path) as f:
            reader = csv.DictReader(f)
            done = {int(r["seed"]) for r in reader}
            header = reader.fieldnames
    for seed in seeds:
        if seed in done:
            continue
        t = time.time()
        recs = records_of(seed)
        keys = header or list(dict.fromkeys(k for r in recs for k in r))
        if sort_keys and header is None:
            keys = sorted(keys)
        header = keys
        new = not path.exists()
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerows(recs)
        print(f"{label} seed {seed}: {time.time() - t:.0f} s", flush=True)


def evaluate_seed_by_seed(
    est, strategies, data, budgets, seeds, path, *, n_jobs, tag, extra
):
    """Run :func:`skal.evaluation.evaluate` one seed at a time and merge each
    seed's records (with the ``extra`` columns) into the CSV at ``path`` as
    it finishes (replacing that seed's earlier rows of these strategies), so
    an interrupted run keeps every finished seed."""
    from skal.evaluation import evaluate

    Xp, yp, Xt, yt = data
    for seed in seeds:
        t0 = time.perf_counter()
        records = evaluate(
            est,
            strategies,
            Xp,
            yp,
            Xt,
            yt,
            budgets=budgets,
            seeds=[seed],
            n_jobs=n_jobs,
            verbose=0,
        )
        for r in records:
            r.update(extra)
        done = read_csv(path) if path.exists() else []
        done = [
            r for r in done if int(r["seed"]) != seed or r["strategy"] not in strategies
        ]
        write_csv(done + records, path)
        print(
            f"[{tag}] seed {seed}: {time.perf_counter() - t0:.0f} s; final acc "
            + ", ".join(
                f"{r['strategy']} {float(r['accuracy']):.3f}"
                for r in records
                if r["n_labels"] == budgets[-1]
            ),
            flush=True,
        )


def parse_seeds(text):
    """``"0-9,20"`` -> ``[0, 1, ..., 9, 20]``."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


# --------------------------------------------------------------------------
# docs
# --------------------------------------------------------------------------
def md_to_rst(lines, source):
    """The markdown tables of ``lines`` as reStructuredText list-tables (for
    the docs' ``.. include::``), the text between them as paragraphs;
    ``source`` names the script in the generated header."""
    out, table = [f".. Generated by {source}.", ""], []

    def flush():
        if not table:
            return
        rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
        out.extend([".. list-table::", "   :header-rows: 1", ""])
        for r in rows:
            cells = [c.strip() for c in r.strip().strip("|").split("|")]
            out.append("   * - " + cells[0])
            out.extend(f"     - {c}" for c in cells[1:])
        out.append("")
        table.clear()

    for line in lines:
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("# "):
            continue
        out.append(line.replace("`", "``"))
    flush()
    return "\n".join(out) + "\n"
