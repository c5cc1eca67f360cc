# ruff: noqa: E501, E701, E702  (measurement scripts kept as they were run)
import os
import tempfile
import time
import warnings

import numpy as np
from sklearn.dummy import DummyClassifier

from skal import ActiveLearner

warnings.simplefilter("ignore")
n = 302
X = np.arange(2 * n, dtype=np.float64).reshape(-1, 2)
y = np.full(n, -1)
y[:2] = [0, 1]
for journal in (None, os.path.join(tempfile.mkdtemp(), "j.jsonl")):
    learner = ActiveLearner(DummyClassifier(), journal=journal).fit(X, y)
    t = time.perf_counter()
    for i in range(2, n):
        learner.teach(y=[i % 2], indices=[i])
    dt = (time.perf_counter() - t) / (n - 2) * 1000
    print(
        f"journal={'yes' if journal else 'no '}: {dt:.2f} ms per teach (300 teaches of 1 label, DummyClassifier)"
    )
