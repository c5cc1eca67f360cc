"""
==============================================
A 10M-row pool on Modal GPUs
==============================================

When the pool has millions of rows, or the net wants a bigger GPU than the
machine at hand, :class:`~skal.backends.ModalExecutor` runs the heavy parts on
`Modal <https://modal.com>`_: the net is fitted in a GPU container and comes
back with its weights, and the pool is scored in chunks with
``Function.map``. The workflow stays plain scikit-learn: the only change is
the executor.

This example is rendered, not executed (it needs Modal credentials and GPU
time). To run it: ``pip install "skal-learn[modal]"``, ``modal token new``, then
``python examples/scale_out/modal_10m_pool.py``. See :doc:`/modal` for the
cost model behind the numbers below.
"""

# %%
# A net and a 10M-row pool
# ------------------------
# The pool is a memory-mapped ``.npy`` of 10M MNIST-sized images (29.2 GiB of
# float32): it never has to fit in RAM here, because ModalExecutor reads it
# block by block when it stages it on a Modal Volume, once per session.
import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch import nn

from skal import ActiveLearner
from skal.backends import ModalExecutor
from skal.strategies import CoreSet, MarginSampling, TopK


class CNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.hidden = nn.Linear(64 * 7 * 7, 128)
        self.head = nn.Linear(128, n_classes)

    def forward(self, X):
        return self.head(torch.relu(self.hidden(self.features(X))))


net = NeuralNetClassifier(
    CNN,
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=1e-3,
    max_epochs=20,
    batch_size=512,
    iterator_valid__batch_size=4096,  # scoring batches on the GPU
    train_split=None,
    device="cuda",  # the container's GPU; maps back to the CPU here if need be
)

n_rows = 10_000_000
X = np.lib.format.open_memmap("pool.npy", mode="r")  # (10_000_000, 1, 28, 28)
assert X.shape == (n_rows, 1, 28, 28) and X.dtype == np.float32
y_seed = np.full(n_rows, -1)  # -1: unlabeled, so the rows form the pool
y_seed[:1000] = np.load("seed_labels.npy")  # the first 1000 rows are labeled

# %%
# Fit on a GPU, score the pool on many
# ------------------------------------
# Entering the executor opens one session: the Modal app starts once, the
# pool is written to the Volume once (153 blocks of 65,536 rows, 196 MiB
# each), and every ``fit``, ``query`` and ``teach`` in the block reuses them.
# Each round, only the model (~0.2 MiB here, inline in each map input) and
# the row numbers to score travel; probabilities come back, 80 bytes a row.
executor = ModalExecutor(gpu="A100", chunk_size=65_536, max_containers=20, timeout=3600)
learner = ActiveLearner(
    net,
    strategy=TopK(MarginSampling(), k=20_000) | CoreSet(),
    n_instances=1000,
    random_state=0,
)

with executor:  # learners with executor=None use the entered executor
    learner.fit(X, y_seed)  # GPU fit in a container; weights come back
    for round_ in range(10):
        idx = learner.query()  # 10M rows scored with Function.map
        answers = np.load(f"answers_round_{round_}.npy")  # your annotators
        learner.teach(y=answers, indices=idx)  # refit on the GPU

# %%
# What a round costs
# ------------------
# ``MarginSampling`` scores the whole pool: 153 map inputs, spread over up to
# ``max_containers`` GPUs (about 500,000 rows, 8 blocks, per container with
# 20). ``CoreSet`` then embeds only TopK's 20,000 candidates: the inputs for
# the few blocks that hold them carry just those row numbers. The selection
# itself (k-center greedy on 20,000 embeddings) runs here.
n_blocks = -(-n_rows // executor.chunk_size)
print(
    f"{n_blocks} blocks; "
    f"~{n_rows // min(n_blocks, executor.max_containers):,} rows per container"
)
print(learner.history_[-1])
