"""
==========================================
Running on a GPU
==========================================

Nothing in skal is specific to a device: the skorch net's ``device`` decides
where training, inference and the strategies' work happen. Embeddings,
MC-dropout samples and gradient-embedding factors are computed in batches on
the net's device, and the selection kernels (k-center greedy, k-means++,
nearest neighbours) run there too, in float32 and in chunks, so memory stays
``O(N + chunk * batch)``.

This example picks CUDA when it is available and the CPU otherwise, so it
runs anywhere; the timings it prints are those of the machine that built
these pages.
"""

# %%
# Pick the device
# ---------------
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from skal import ActiveLearner
from skal.datasets import load_digits_images
from skal.models import get_adapter
from skal.strategies import BADGE, CoreSet, MarginSampling, TopK

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

device = "cuda" if torch.cuda.is_available() else "cpu"
print("device:", device)
if device == "cuda":
    print(torch.cuda.get_device_name(0))

# %%
# The same learner as on a CPU
# ----------------------------
# Only ``device=`` changes. ``X`` may stay a numpy array (skorch moves each
# batch) or be a tensor already on the device.
X, y = load_digits_images(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
torch.manual_seed(0)  # the module below is built here: fix its initial weights
net = NeuralNetClassifier(
    nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    ),
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.005,
    max_epochs=5 if FAST else 20,
    batch_size=32,
    train_split=None,
    verbose=0,
    device=device,
)
learner = ActiveLearner(
    net,
    strategy=TopK(MarginSampling(), k=300) | CoreSet(),
    n_instances=40,
    budget=80 if FAST else 200,
    random_state=0,
)
learner.fit(X_pool, y_pool)
print(f"accuracy {learner.score(X_test, y_test):.3f}")
print("adapter device:", get_adapter(learner).device)

# %%
# Where the time goes
# -------------------
# ``history_`` records the seconds of each round's query and fit.
rounds = [h["round"] for h in learner.history_]
q = [h["query_seconds"] for h in learner.history_]
f = [h["fit_seconds"] for h in learner.history_]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.bar(rounds, f, label="fit")
ax.bar(rounds, q, bottom=f, label="query")
ax.set_xlabel("round")
ax.set_ylabel("seconds")
ax.set_title(f"one simulation on {device}")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Strategy cost on a larger pool
# ------------------------------
# The pool is tiled to ``n`` rows to time the strategies alone, on the
# learner's model and device. BADGE never builds the ``N x (C * D)`` gradient
# matrix: its distances follow from the probabilities and embeddings.
sizes = [1_000, 4_000] if FAST else [2_000, 8_000, 20_000]
timings = {"margin": [], "coreset": [], "BADGE": []}
for n in sizes:
    X_big = np.resize(X_pool, (n, *X_pool.shape[1:]))
    for name, strategy in [
        ("margin", MarginSampling()),
        ("coreset", CoreSet()),
        ("BADGE", BADGE()),
    ]:
        t0 = time.perf_counter()
        strategy(learner, X_big, n_instances=100, random_state=0)
        if device == "cuda":
            torch.cuda.synchronize()
        timings[name].append(time.perf_counter() - t0)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, t in timings.items():
    ax.plot(sizes, t, marker="o", label=name)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("pool rows")
ax.set_ylabel("seconds for a batch of 100")
ax.legend()
fig.tight_layout()
plt.show()
