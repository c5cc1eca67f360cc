"""Reference skorch nets with a training schedule that converges.

A net trained for a fixed number of *epochs* gets a handful of gradient steps
from 20 labels and thousands from 5000: the first is untrained (its
uncertainty is noise), the second wastes time. On MNIST-1D, 150 → 1500 steps
lifts the test accuracy of a random 320-label subset from 0.43 to 0.53 and of
2560 labels from 0.56 to 0.84, so every strategy comparison made with short
training measured the training budget, not the labels.

:class:`StepNetClassifier` trains for a number of gradient *steps* that grows
with the labeled set (:func:`n_train_steps`), draws its mini-batches with
replacement so that a fit of any size is ``max_epochs`` equal "epochs" of
``steps / max_epochs`` batches, and anneals the learning rate with skorch's
:class:`~skorch.callbacks.LRScheduler` (cosine over the epochs) and AdamW's
weight decay. The modules :class:`CNN1d`, :class:`CNN2d` and :class:`MLP`
are small nets for 1-D signals, images and tables, and :func:`make_net`
builds the recommended net for each kind of data.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from .utils._validation import Count, Described

__all__ = [
    "CNN1d",
    "CNN2d",
    "MLP",
    "StepNetClassifier",
    "make_net",
    "n_train_steps",
]


class _ConvNet(nn.Module):
    """Convolution blocks, global pooling, a hidden layer and a linear head.

    Subclasses give the blocks (:meth:`_features`) and the input rank; the
    input of ``head`` is the embedding skal's strategies use.
    """

    _rank = None  # dimensions of one sample with its channel axis

    def __init__(
        self, n_classes=10, in_channels=1, channels=32, hidden=128, dropout=0.2
    ):
        super().__init__()
        self.features = nn.Sequential(*self._features(in_channels, channels))
        self.hidden = nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, X):
        X = X.float()
        if X.dim() == self._rank:  # no channel axis
            X = X.unsqueeze(1)
        return self.head(self.dropout(self.hidden(self.features(X))))


class CNN1d(_ConvNet):
    """A small 1-D CNN for signals of shape ``(N, L)`` or ``(N, C, L)``.

    Three convolution blocks (kernel 5, batch norm, ReLU; max pooling after
    the first two), global average pooling, a hidden layer and a linear head;
    the input of the head is the embedding skal's strategies use.

    Parameters
    ----------
    n_classes : int, default=10
    in_channels : int, default=1
    channels : int, default=32
        Width of the first block (the others have twice as many).
    hidden : int, default=128
        Width of the embedding.
    dropout : float, default=0.2
        Dropout before the head (also what MC-dropout strategies sample).

    Examples
    --------
    >>> import torch
    >>> CNN1d(n_classes=3)(torch.zeros(5, 40)).shape
    torch.Size([5, 3])
    """

    _rank = 2

    def _features(self, i, c):
        def block(a, b):
            return [nn.Conv1d(a, b, 5, padding=2), nn.BatchNorm1d(b), nn.ReLU()]

        return [
            *block(i, c),
            nn.MaxPool1d(2),
            *block(c, 2 * c),
            nn.MaxPool1d(2),
            *block(2 * c, 2 * c),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
        ]


class CNN2d(_ConvNet):
    """A small 2-D CNN for images of shape ``(N, C, H, W)`` (or ``(N, H, W)``).

    Three 3x3 convolution blocks (batch norm, ReLU; max pooling after the
    second), global average pooling, a hidden layer and a linear head.

    Parameters
    ----------
    n_classes : int, default=10
    in_channels : int, default=1
    channels : int, default=32
    hidden : int, default=128
    dropout : float, default=0.2

    Examples
    --------
    >>> import torch
    >>> CNN2d(n_classes=10)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    _rank = 3

    def _features(self, i, c):
        def block(a, b):
            return [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU()]

        return [
            *block(i, c),
            *block(c, 2 * c),
            nn.MaxPool2d(2),
            *block(2 * c, 2 * c),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        ]


class MLP(nn.Module):
    """A two-hidden-layer MLP for tables; the input width is inferred.

    Parameters
    ----------
    n_classes : int, default=2
    hidden : int, default=128
    dropout : float, default=0.1

    Examples
    --------
    >>> import torch
    >>> MLP(n_classes=3)(torch.zeros(4, 7)).shape
    torch.Size([4, 3])
    """

    def __init__(self, n_classes=2, hidden=128, dropout=0.1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.LazyLinear(hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, X):
        return self.head(self.dropout(self.body(X.float())))


def n_train_steps(n_labeled, *, min_steps=500, steps_per_label=1.0, max_steps=4000):
    """Gradient steps for a fit on ``n_labeled`` rows.

    ``clip(min_steps + steps_per_label * n_labeled, min_steps, max_steps)``:
    a floor that trains a cold-start model to convergence on its few labels,
    then growth with the labeled set (see ``benchmarks/results/training/``
    for accuracy against steps at three label counts).

    Examples
    --------
    >>> n_train_steps(20), n_train_steps(1000), n_train_steps(10_000)
    (520, 1500, 4000)
    """
    steps = min_steps + steps_per_label * n_labeled
    return int(min(max(math.ceil(steps), min_steps), max_steps))


class StepNetClassifier(NeuralNetClassifier):
    """A skorch classifier trained for a number of steps that grows with the data.

    Each ``fit`` runs :func:`n_train_steps` gradient steps (``min_steps +
    steps_per_label * n``, at most ``max_steps``), as ``max_epochs`` equal
    epochs of mini-batches drawn with replacement, so a 20-label model and a
    5000-label model are both trained to convergence. The learning rate follows
    a cosine over the epochs (skorch's ``LRScheduler`` callback, named
    ``"lr_schedule"``; pass ``callbacks__lr_schedule=None`` to remove it).
    ``warm_start=True`` continues training from the previous weights.

    Parameters
    ----------
    module : torch.nn.Module class or instance
    min_steps, steps_per_label, max_steps : see :func:`n_train_steps`
    augment : callable, optional
        Applied to every training batch (a torch tensor on the net's device),
        e.g. ``skal.augment.SignalAugment("weak")``; never at prediction.
    **kwargs
        Everything :class:`skorch.NeuralNetClassifier` takes. The defaults
        here: AdamW, ``lr=2e-3``, ``optimizer__weight_decay=5e-4``,
        ``batch_size=64``, ``max_epochs=20``, no validation split, silent.

    Attributes
    ----------
    n_steps_ : int
        The steps of the last ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.nets import MLP, StepNetClassifier
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = StepNetClassifier(MLP, module__n_classes=2, min_steps=40,
    ...                         steps_per_label=0).fit(X, y)
    >>> net.n_steps_, net.score(X, y) > 0.9
    (40, True)
    """

    def __init__(
        self,
        module,
        *args,
        min_steps=500,
        steps_per_label=1.0,
        max_steps=4000,
        augment=None,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=2e-3,
        max_epochs=20,
        batch_size=64,
        train_split=None,
        verbose=0,
        **kwargs,
    ):
        kwargs.setdefault("optimizer__weight_decay", 5e-4)
        super().__init__(
            module,
            *args,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            **kwargs,
        )
        self.min_steps = min_steps
        self.steps_per_label = steps_per_label
        self.max_steps = max_steps
        self.augment = augment

    # parameters holding estimators whose own parameters are set with
    # ``name__param`` (grid searchable), as scikit-learn does for nested objects
    _nested_params = ("augment",)

    def set_params(self, **kwargs):
        nested = {}
        for key in list(kwargs):
            head, sep, rest = key.partition("__")
            if sep and head in self._nested_params:
                nested.setdefault(head, {})[rest] = kwargs.pop(key)
        super().set_params(**kwargs)
        for head, params in nested.items():
            obj = getattr(self, head)
            if obj is None or not hasattr(obj, "set_params"):
                raise ValueError(
                    f"Cannot set {sorted(params)} of {head!r}: it is {obj!r}, "
                    "not an object with set_params."
                )
            obj.set_params(**params)
        return self

    def get_default_callbacks(self):
        return [
            *super().get_default_callbacks(),
            (
                "lr_schedule",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                    T_max=self.max_epochs,
                    eta_min=0.0,
                ),
            ),
        ]

    def _n_labeled(self, y):
        return len(y)

    #: The schedule's parameters, checked at fit with scikit-learn's machinery
    #: (skorch nets have no ``_validate_params``).
    _schedule_constraints = {
        "min_steps": [Count(1)],
        "steps_per_label": [
            Described(Interval(Real, 0, None, closed="left"), refuse_bool=True)
        ],
        "max_steps": [Count(1)],
        "max_epochs": [Count(1)],
    }

    def _set_steps(self, y):
        params = {name: getattr(self, name) for name in self._schedule_constraints}
        validate_parameter_constraints(
            self._schedule_constraints, params, type(self).__name__
        )
        n = self._n_labeled(np.asarray(y)) if y is not None else 0
        self.n_steps_ = n_train_steps(
            n,
            min_steps=self.min_steps,
            steps_per_label=self.steps_per_label,
            max_steps=max(self.max_steps, self.min_steps),
        )

    def fit(self, X, y=None, **fit_params):
        self._set_steps(y)
        return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        # a continued fit runs the schedule of its own labeled set again
        self._set_steps(y)
        return super().partial_fit(X, y, classes=classes, **fit_params)

    def _train_augment(self):
        """The augmentation of labeled training batches (None: none)."""
        return self.augment

    def train_step_single(self, batch, **fit_params):
        augment = self._train_augment()
        if augment is None:
            return super().train_step_single(batch, **fit_params)
        Xi, yi = unpack_data(batch)
        Xi = augment(to_tensor(Xi, device=self.device))
        return super().train_step_single((Xi, yi), **fit_params)

    def _steps_per_epoch(self):
        return max(1, math.ceil(self.n_steps_ / self.max_epochs))

    def get_iterator(self, dataset, training=False):
        if not training or getattr(self, "n_steps_", None) is None:
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for("iterator_train")
        kwargs.pop("shuffle", None)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        sampler = RandomSampler(
            dataset,
            replacement=True,
            num_samples=self._steps_per_epoch() * batch_size,
        )
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **kwargs)


_MODULES = {"signal": CNN1d, "image": CNN2d, "tabular": MLP}


def make_net(kind, n_classes, *, device="cpu", **params):
    """The recommended :class:`StepNetClassifier` for ``kind`` of data.

    Parameters
    ----------
    kind : {"signal", "image", "tabular"}
        1-D signals (:class:`CNN1d`), images (:class:`CNN2d`) or tables
        (:class:`MLP`).
    n_classes : int
        Output units.
    device : str, default="cpu"
    **params
        More :class:`StepNetClassifier` parameters (``min_steps=...``,
        ``module__channels=...``).

    Examples
    --------
    >>> net = make_net("signal", n_classes=10, min_steps=100)
    >>> net.module.__name__, net.min_steps
    ('CNN1d', 100)
    """
    if kind not in _MODULES:
        raise ValueError(
            f"The 'kind' parameter of make_net must be one of "
            f"{sorted(_MODULES)}; got {kind!r} instead."
        )
    return StepNetClassifier(
        _MODULES[kind], module__n_classes=n_classes, device=device, **params
    )


def reset_module_instance(net, seed):
    """Re-initialise a net's module *instance* from ``seed``; True if it did.

    A skorch net given a module class builds it at each fit, from torch's
    generator (which the learner seeds); a module *instance*
    (``module=nn.Sequential(...)``) keeps the weights it was created with,
    drawn in the user's process, so two processes would train different
    nets. The learner calls this on the clone it fits: every submodule's own
    ``reset_parameters`` runs under ``torch.manual_seed(seed)`` (inside
    ``fork_rng``), so the same ``random_state`` gives the same net anywhere.

    Parameters
    ----------
    net : estimator
        Anything; only a skorch net whose ``module`` is an ``nn.Module``
        instance is changed.
    seed : int

    Returns
    -------
    reset : bool
    """
    module = (
        getattr(net, "module", None) if isinstance(net, NeuralNetClassifier) else None
    )
    if not isinstance(module, nn.Module):
        return False
    from .utils._seeding import seeded_torch

    with seeded_torch(int(seed)), torch.no_grad():
        for m in module.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()
    return True
