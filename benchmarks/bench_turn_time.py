"""Turn time of the labeling page while a FixMatch refit runs behind it.

A person labels digits (8x8 images, 10 classes) in Debian's chromium, driven
by playwright: a key press, then the next item. The turn time is measured in
the page itself, from the ``keydown`` to the frame after the next item is put
in the DOM (``window.skalTurns``), and the label is checked on disk (the
journal) once the next item shows. The learner is a skorch
:class:`~skal.semi_supervised.FixMatchClassifier` (:class:`skal.nets.CNN2d`,
weak/strong image augmentation, ``mu=3``, the pool as unlabeled rows)
refitting in the page's background thread every ``--n-instances`` labels;
steps are cut (``--steps``) so that one refit still takes several seconds on
a CPU, and the person "thinks" ``--think`` seconds between keys, so labels
keep arriving while refits run. Each turn records whether a refit was running
when the key was pressed.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 10 \\
        python -m benchmarks.bench_turn_time --turns 150 --steps 40

Writes ``benchmarks/results/turn_time.csv`` (one row per turn, appended as
they come) and ``benchmarks/results/turn_time.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import RESULTS, append_rows, digits_split, read_csv

CHROMIUM = os.environ.get("SKAL_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIELDS = ["turn", "ms", "refit_running", "n_labels", "on_disk", "model_version"]


def make_learner(journal, steps, n_instances, seed=0):
    import torch

    from skal import ActiveLearner
    from skal.augment import ImageAugment
    from skal.nets import CNN2d
    from skal.semi_supervised import FixMatchClassifier
    from skal.strategies import MarginSampling

    torch.set_num_threads(1)
    X, X_test, y, y_test = digits_split()
    y_seed = np.full_like(y, -1)
    rng = np.random.RandomState(seed)
    for c in range(10):  # two labels per class to start
        y_seed[rng.choice(np.flatnonzero(y == c), 2, replace=False)] = c
    net = FixMatchClassifier(
        CNN2d,
        module__n_classes=10,
        augment_weak=ImageAugment("weak"),
        augment_strong=ImageAugment("strong"),
        threshold=0.95,
        mu=3,
        min_steps=steps,
        steps_per_label=0.0,
        max_steps=steps,
    )
    learner = ActiveLearner(
        net,
        strategy=MarginSampling(),
        n_instances=n_instances,
        max_unlabeled=2000,
        random_state=seed,
        journal=journal,
    )
    t0 = time.perf_counter()
    learner.fit(X, y_seed)
    return learner, y, (X_test, y_test), time.perf_counter() - t0


def on_disk(journal):
    rows = set()
    with open(journal) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("kind") == "label" and rec.get("index") is not None:
                rows.add(int(rec["index"]))
    return rows


def run(args):
    from playwright.sync_api import sync_playwright

    from skal.labeling import serve

    out_csv = RESULTS / f"{args.out}.csv"
    if out_csv.exists() and not args.append:
        out_csv.unlink()
    tmp = Path(tempfile.mkdtemp(prefix="skal_turns_"))
    journal = tmp / "labels.jsonl"
    learner, y, eval_set, first_fit = make_learner(
        str(journal), args.steps, args.n_instances
    )
    print(f"first fit (20 labels): {first_fit:.1f} s", flush=True)
    handle = serve(
        learner,
        port=0,
        block=False,
        quiet=True,
        eval_set=eval_set,
        queue_size=30,
        switch_interval=args.switch_interval,
    )
    session = handle.session
    refit_seconds = []
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(tmp / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
            )
            page = ctx.new_page()
            page.goto(handle.url)
            page.wait_for_selector("#item[data-index]:not([data-index=''])")
            for turn in range(args.turns):
                row = int(page.get_attribute("#item", "data-index"))
                running = session.refit_running
                k = int(y[row]) if y[row] < 9 else 0  # keys 1-9: classes 0..8
                page.keyboard.press(str(k + 1))
                page.wait_for_function(
                    "n => window.skalTurns.length > n", arg=turn, timeout=60_000
                )
                ms = page.evaluate(f"window.skalTurns[{turn}].ms")
                disk = row in on_disk(journal)
                append_rows(
                    out_csv,
                    [
                        {
                            "turn": turn,
                            "ms": round(ms, 2),
                            "refit_running": int(running),
                            "n_labels": len(learner.y_labeled_),
                            "on_disk": int(disk),
                            "model_version": session.model_version,
                        }
                    ],
                    FIELDS,
                )
                if session.last_refit_seconds is not None and (
                    not refit_seconds or refit_seconds[-1][0] != session.model_version
                ):
                    refit_seconds.append(
                        (session.model_version, session.last_refit_seconds)
                    )
                time.sleep(args.think)
            ctx.close()
    finally:
        handle.stop(timeout=600)  # a running refit finishes first
    return first_fit, refit_seconds


def report(args, first_fit, refit_seconds):
    rows = read_csv(RESULTS / f"{args.out}.csv")
    ms = np.array([r["ms"] for r in rows], dtype=float)
    busy = np.array([r["refit_running"] for r in rows], dtype=bool)
    disk = np.array([r["on_disk"] for r in rows], dtype=bool)

    def line(name, v):
        if not len(v):
            return f"| {name} | 0 | – | – | – | – |"
        p50, p95 = np.percentile(v, [50, 95])
        stats = f"{p50:.1f} | {p95:.1f} | {v.max():.1f} | {v.mean():.1f}"
        return f"| {name} | {len(v)} | {stats} |"

    refits = [s for _, s in refit_seconds]
    text = [
        "# Labeling page: turn time while FixMatch refits",
        "",
        "Key pressed → next item shown (measured in chromium from `keydown` to the",
        "frame after the next item is in the DOM), the label fsynced in the journal",
        "before the server answers. `python -m benchmarks.bench_turn_time "
        f"--turns {args.turns} --steps {args.steps} --n-instances {args.n_instances} "
        f"--think {args.think} --switch-interval {args.switch_interval}` "
        "(`OMP_NUM_THREADS=1 nice -n 10`, torch 1 thread).",
        "",
        f"Learner: FixMatchClassifier(CNN2d, mu=3, {args.steps} steps per refit), "
        f"MarginSampling, a background refit every {args.n_instances} labels, "
        "digits (1347-row pool, 20 seed labels).",
        f"First fit {first_fit:.1f} s; background refits: {len(refits)} finished, "
        + (
            f"{np.mean(refits):.1f} s mean ({min(refits):.1f}–{max(refits):.1f} s)."
            if refits
            else "none finished."
        ),
        f"Labels on disk when the next item showed: {int(disk.sum())} of {len(disk)}.",
        "",
        "| turns | n | p50 ms | p95 ms | max ms | mean ms |",
        "|---|---|---|---|---|---|",
        line("all", ms),
        line("while a refit ran", ms[busy]),
        line("no refit running", ms[~busy]),
        "",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared with other jobs), Python "
        f"{platform.python_version()}.",
        "",
    ]
    (RESULTS / f"{args.out}.md").write_text("\n".join(text))
    print("\n".join(text))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=150)
    ap.add_argument("--steps", type=int, default=40, help="FixMatch steps per refit")
    ap.add_argument("--n-instances", type=int, default=10, help="labels per refit")
    ap.add_argument("--think", type=float, default=0.3, help="seconds between keys")
    ap.add_argument("--append", action="store_true", help="keep turn_time.csv rows")
    ap.add_argument(
        "--switch-interval",
        type=float,
        default=0.001,
        help="serve's switch_interval (sys.setswitchinterval); 0.005 is Python's",
    )
    ap.add_argument("--out", default="turn_time", help="results file stem")
    args = ap.parse_args(argv)
    first_fit, refit_seconds = run(args)
    report(args, first_fit, refit_seconds)


if __name__ == "__main__":
    main()
