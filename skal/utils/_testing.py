"""Small skorch nets shared by tests, examples and the demo."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def seed_labels(y, per_class=2, seed=0):
    """``y`` with ``per_class`` random rows of each class kept, the rest ``-1``.

    Examples
    --------
    >>> import numpy as np
    >>> seed_labels(np.array([0, 0, 0, 1, 1, 1]), per_class=1).tolist()
    [-1, -1, 0, -1, -1, 1]
    """
    rng = np.random.RandomState(seed)
    y_seed = np.full_like(y, -1)
    for c in np.unique(y):
        idx = rng.choice(np.flatnonzero(y == c), per_class, replace=False)
        y_seed[idx] = y[idx]
    return y_seed


def rand(*shape, seed=0, dtype=np.float32):
    """Standard normal array of ``shape`` (seeded)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def softmax_rows(N, C, seed=0):
    """``N`` random probability rows over ``C`` classes (float32, seeded)."""
    z = np.random.default_rng(seed).standard_normal((N, C)) * 2
    p = np.exp(z - z.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


class MLP(nn.Module):
    """A small MLP for tables; the input width is inferred (``LazyLinear``)."""

    def __init__(self, n_classes=3, hidden=32, dropout=0.2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.LazyLinear(hidden), nn.ReLU(), nn.Dropout(dropout)
        )
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, X):
        return self.head(self.body(X.float()))


class SmallCNN(nn.Module):
    """A small CNN for images (N×C×H×W) or, with ``dim=1``, sequences (N×C×L)."""

    def __init__(self, n_classes=10, in_channels=1, channels=16, dim=2, dropout=0.25):
        super().__init__()
        conv = nn.Conv2d if dim == 2 else nn.Conv1d
        pool = nn.AdaptiveAvgPool2d(2) if dim == 2 else nn.AdaptiveAvgPool1d(4)
        self.features = nn.Sequential(
            conv(in_channels, channels, 3, padding=1),
            nn.ReLU(),
            conv(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            pool,
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.LazyLinear(64)
        self.head = nn.Linear(64, n_classes)

    def forward(self, X):
        h = torch.relu(self.hidden(self.features(X.float())))
        return self.head(self.dropout(h))


def make_net(
    module=MLP, *, max_epochs=10, lr=0.01, device="cpu", net_class=None, **module_params
):
    """A skorch ``NeuralNetClassifier`` (or ``net_class``) with quiet defaults."""
    from skorch import NeuralNetClassifier

    kwargs = {f"module__{k}": v for k, v in module_params.items()}
    return (net_class or NeuralNetClassifier)(
        module,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=64,
        train_split=None,
        verbose=0,
        device=device,
        **kwargs,
    )


def make_step_net(
    module=SmallCNN,
    *,
    n_steps=150,
    min_epochs=10,
    max_epochs=250,
    lr=3e-3,
    device="cpu",
    **module_params,
):
    """A skorch net trained for about ``n_steps`` gradient steps per fit.

    A fixed number of epochs trains a 20-label model for a handful of steps
    and a 2000-label model for hundreds: the former is untrained, its
    uncertainty noise, the latter wastes time. Each fit runs
    ``clip(ceil(n_steps / batches per epoch), min_epochs, max_epochs)`` epochs
    from scratch (or continues with ``warm_start``).
    """
    from skorch import NeuralNetClassifier

    class StepNet(NeuralNetClassifier):
        def fit(self, X, y=None, **fit_params):
            per_epoch = max(1, math.ceil(len(X) / self.batch_size))
            epochs = int(
                np.clip(math.ceil(n_steps / per_epoch), min_epochs, max_epochs)
            )
            if not self.warm_start or not self.initialized_:
                self.initialize()
            self.partial_fit(X, y, epochs=epochs, **fit_params)
            return self

    return make_net(
        module,
        max_epochs=max_epochs,
        lr=lr,
        device=device,
        net_class=StepNet,
        **module_params,
    )
