# ruff: noqa: E501, E701, E702  (measurement scripts kept as they were run)
import multiprocessing
import os
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.dummy import DummyClassifier

from skal import ActiveLearner

warnings.simplefilter("ignore")


def writer(path, n):
    X = np.arange(2 * n, dtype=np.float64).reshape(-1, 2)
    y = np.full(n, -1)
    y[:2] = [0, 1]
    learner = ActiveLearner(DummyClassifier(), journal=path).fit(X, y)
    for i in range(2, n):
        learner.teach(y=[i % 2], indices=[i])


if __name__ == "__main__":
    n = int(sys.argv[1])
    k = int(sys.argv[2])
    path = os.path.join(tempfile.mkdtemp(), "j.jsonl")
    ctx = multiprocessing.get_context("fork")
    t0 = time.time()
    ps = [ctx.Process(target=writer, args=(path, n)) for _ in range(k)]
    [p.start() for p in ps]
    [p.join() for p in ps]
    recs = ActiveLearner.read_journal(path)
    labels = [r for r in recs if r["kind"] == "label"]
    per = {}
    for r in labels:
        per.setdefault(r["session"], []).append(r["seq"])
    ok = all(v == list(range(1, n - 1)) for v in per.values())
    order = [r["session"] for r in labels]
    print(
        f"{k} processes x {n - 2} teaches: {len(labels)} label records of {k * (n - 2)} expected, sessions={len(per)}, each 1..{n - 2} in order: {ok}, interleavings={sum(a != b for a, b in zip(order, order[1:]))}, {time.time() - t0:.1f}s ({(time.time() - t0) / (n - 2) * 1000:.1f} ms per teach per process)"
    )
