"""How good are SimCLR features of a pool? Probes behind the encoder's settings.

:class:`skal.representations.SimCLREncoder` is fitted on a pool without
labels, for each setting below (``random_state=0``), and its L2-normalised
features are probed with the pool's labels, by 3-fold cross-validation: a
10-NN classifier, a logistic regression (C=10), and the number of classes
among :class:`skal.strategies.TypiClust`'s first 10 picks (mean over 5
seeds). The raw input is probed the same way. The pools are the ones the
settings are *chosen* on — MNIST-1D generated with seed 1 (4000 rows) and
digits' 1347-row pool — so ``bench_cold_start.py`` reports on MNIST-1D data
seed 2, which this choice never saw. Rows go to
``benchmarks/results/cold_start/ssl_probe.csv`` as each setting finishes (a
re-run skips the settings it holds), the table to ``ssl_probe.md``::

    OMP_NUM_THREADS=1 nice -n 5 python -m benchmarks.bench_ssl_probe
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._common import RESULTS, append_rows, digits_split, read_rows

OUT = RESULTS / "cold_start"
# (data set, SimCLR steps, temperature); steps 0 is the raw input
SETTINGS = [
    ("mnist1d", 0, None),
    ("mnist1d", 600, 0.5),
    ("mnist1d", 3000, 0.5),
    ("mnist1d", 3000, 0.2),
    ("mnist1d", 1500, 0.1),
    ("mnist1d", 1500, 0.05),
    ("mnist1d", 3000, 0.1),
    ("digits", 0, None),
    ("digits", 600, 0.5),
    ("digits", 600, 0.1),
]
FIELDS = ["dataset", "steps", "temperature", "knn10", "linear", "typiclust10_classes"]
FIELDS += ["final_loss", "fit_s"]


def pool(name):
    if name == "mnist1d":
        from skal.datasets import make_mnist1d

        X, y = make_mnist1d(6000, random_state=1, return_X_y=True)
        return X[:4000], y[:4000]

    Xp, _, yp, _ = digits_split()
    return Xp, yp


def probe(F, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from skal.strategies import TypiClust

    F = F.reshape(len(F), -1)
    F = F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), 1e-12)
    knn = cross_val_score(KNeighborsClassifier(10), F, y, cv=3).mean()
    lin = cross_val_score(LogisticRegression(max_iter=2000, C=10), F, y, cv=3)
    classes = [
        len(np.unique(y[TypiClust()(None, F, n_instances=10, random_state=s)]))
        for s in range(5)
    ]
    return round(knn, 3), round(lin.mean(), 3), float(np.mean(classes))


def report(rows):
    lines = [
        "# SimCLR features of a pool, probed with its labels",
        "",
        "Written by `benchmarks/bench_ssl_probe.py` (see its docstring): "
        "3-fold cross-validated 10-NN and logistic-regression accuracy on "
        "the L2-normalised features of the pool, and the classes among "
        "TypiClust's first 10 picks (mean of 5 seeds). One encoder per "
        "setting (random_state=0), batch 256. These pools chose "
        "SimCLREncoder's temperature (0.1); the cold-start results are "
        "reported on other rows. fit s: wall seconds of the encoder's fit at "
        "low priority on a 2-core machine busy with other benchmarks (not "
        "comparable between rows).",
        "",
        "| data | SimCLR steps | temperature | 10-NN | linear | classes in "
        "TypiClust's 10 | final NT-Xent | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        raw = r["steps"] == "0"
        lines.append(
            f"| {r['dataset']} | {'raw input' if raw else r['steps']} | "
            f"{'' if raw else r['temperature']} | {r['knn10']} | {r['linear']} "
            f"| {r['typiclust10_classes']} | {r['final_loss']} | {r['fit_s']} |"
        )
    (OUT / "ssl_probe.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    import torch

    from skal.representations import SimCLREncoder

    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "ssl_probe.csv"
    rows = read_rows(path)
    done = {(r["dataset"], r["steps"], r["temperature"]) for r in rows}
    for name, steps, temp in SETTINGS:
        if (name, str(steps), str(temp or "")) in done:
            continue
        X, y = pool(name)
        t0 = time.perf_counter()
        loss = ""
        if steps:
            enc = SimCLREncoder(n_steps=steps, temperature=temp, random_state=0)
            F = enc.fit(X).transform(X)
            loss = round(float(np.mean(enc.loss_curve_[-20:])), 2)
        else:
            F = X
        fit_s = round(time.perf_counter() - t0)
        knn, lin, classes = probe(F, y)
        row = dict(
            dataset=name,
            steps=steps,
            temperature=temp or "",
            knn10=knn,
            linear=lin,
            typiclust10_classes=classes,
            final_loss=loss,
            fit_s=fit_s if steps else "",
        )
        print(row, flush=True)
        append_rows(path, [row], FIELDS)
        rows.append({k: str(v) for k, v in row.items()})
        report(rows)
    report(rows)


if __name__ == "__main__":
    main()
