"""The shared machinery of skal's semi-supervised nets."""

from __future__ import annotations

import contextlib
import math
from numbers import Real

import numpy as np
import torch
from sklearn.semi_supervised import (
    LabelPropagation,
    LabelSpreading,
    SelfTrainingClassifier,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ..nets import StepNetClassifier
from ..utils._validation import Count, Described

_SKLEARN_SEMI = (SelfTrainingClassifier, LabelSpreading, LabelPropagation)


def is_semi_supervised(estimator) -> bool:
    """Whether ``estimator`` learns from rows labeled ``-1``.

    True for skal's :class:`SemiSupervisedNet` subclasses, scikit-learn's
    ``SelfTrainingClassifier``, ``LabelSpreading`` and ``LabelPropagation``,
    a ``Pipeline`` whose last step is one of these, and any estimator with a
    ``__skal_tags__()`` method returning ``{"semi_supervised": True}``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.semi_supervised import SelfTrainingClassifier
    >>> is_semi_supervised(SelfTrainingClassifier(LogisticRegression()))
    True
    >>> is_semi_supervised(LogisticRegression())
    False
    """
    tags = getattr(estimator, "__skal_tags__", None)
    if callable(tags):
        value = tags().get("semi_supervised")
        if value is not None:
            return bool(value)
    if isinstance(estimator, (SemiSupervisedNet, *_SKLEARN_SEMI)):
        return True
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return is_semi_supervised(steps[-1][1])
    return False


class SemiSupervisedNet(StepNetClassifier):
    """Base of skal's semi-supervised nets: ``fit(X, y)`` with ``y == -1`` rows.

    The labeled rows drive skorch's usual training loop (the number of steps
    follows the *labeled* count, see :class:`skal.nets.StepNetClassifier`);
    every training step also draws ``mu * batch_size`` unlabeled rows at
    random and adds :meth:`unlabeled_loss` times ``lambda_u``. Subclasses
    implement :meth:`unlabeled_loss` only. Without unlabeled rows a fit is
    plain supervised training.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Must return logits (the criterion is ``nn.CrossEntropyLoss``).
    threshold : float, default=0.95
        Confidence a pseudo-label needs.
    lambda_u : float, default=1.0
        Weight of the unlabeled loss.
    mu : int or "auto", default=7
        Unlabeled rows per labeled row in a step. ``"auto"``: the papers' 7
        on a CUDA device, 3 otherwise (see :meth:`auto_settings`).
    **kwargs
        Everything :class:`skal.nets.StepNetClassifier` takes.

    Attributes
    ----------
    mask_rate_ : float or None
        Share of the unlabeled rows above ``threshold`` in the last epoch
        (None when the fit had no unlabeled rows).

    Examples
    --------
    Entropy minimisation (Grandvalet & Bengio 2004) in a few lines:

    >>> import numpy as np
    >>> import torch
    >>> from skal.nets import MLP
    >>> from skal.semi_supervised import SemiSupervisedNet
    >>> class EntropyMinimization(SemiSupervisedNet):
    ...     def unlabeled_loss(self, X_labeled, y_labeled, X_unlabeled):
    ...         logits = self.infer(torch.cat([X_labeled, X_unlabeled]))
    ...         p = torch.softmax(logits[len(X_labeled):], dim=1)
    ...         entropy = -(p * p.clamp_min(1e-8).log()).sum(dim=1).mean()
    ...         return logits[: len(X_labeled)], entropy, 1.0
    >>> X = np.random.RandomState(0).normal(size=(100, 2)).astype(np.float32)
    >>> y = np.where(np.arange(100) < 10, (X[:, 0] > 0).astype(np.int64), -1)
    >>> net = EntropyMinimization(MLP, module__n_classes=2, min_steps=20)
    >>> net.fit(X, y).mask_rate_
    1.0
    """

    def __init__(self, module, *args, threshold=0.95, lambda_u=1.0, mu=7, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.threshold = threshold
        self.lambda_u = lambda_u
        self.mu = mu

    def __skal_tags__(self):
        return {"semi_supervised": True}

    #: Checked at fit with scikit-learn's machinery (skorch nets have no
    #: ``_validate_params``); subclasses extend it for their own parameters.
    _semi_constraints = {
        "threshold": [Described(Interval(Real, 0, 1, closed="both"), refuse_bool=True)],
        "lambda_u": [
            Described(Interval(Real, 0, None, closed="left"), refuse_bool=True)
        ],
        "mu": [Count(1), StrOptions({"auto"})],
    }

    #: What ``"auto"`` resolves to off CUDA: ``mu`` 3 and ``batch_size`` 32
    #: (a step of 32 labeled rows and 2 x 96 unlabeled views), and
    #: ``min_steps`` of ``steps_per_pool_row`` (0.4) per unlabeled row, at
    #: least 500 and at most 2000 (so each pool row is drawn about 40 times
    #: whatever the pool's size; 2000 steps from a 5000-row pool on). With
    #: few labels the pool needs those steps: a FreeMatch fit of skal's CNN1d
    #: on 40 MNIST-1D labels and a 5000-row pool scores 0.66 after 540 steps
    #: and 0.82 after 2040 (3 seeds, data seed 11), and costs about 35-50 s of
    #: one CPU core (``benchmarks/results/label_efficiency/training/``).
    cpu_settings = {
        "mu": 3,
        "batch_size": 32,
        "min_steps": 2000,
        "steps_per_pool_row": 0.4,
    }
    #: What ``"auto"`` resolves to on a CUDA device: the papers' ``mu=7``
    #: and batch of 64, and twice the CPU's steps (0.8 per pool row, at most
    #: 4000: 4040 steps scored 0.90 in the CPU run above, one seed; not yet
    #: timed on a GPU).
    cuda_settings = {
        "mu": 7,
        "batch_size": 64,
        "min_steps": 4000,
        "steps_per_pool_row": 0.8,
    }
    #: The fewest steps ``min_steps="auto"`` gives (or the cap, if lower).
    auto_min_steps_floor = 500

    def auto_settings(self):
        """The values ``"auto"`` parameters take on this net's device.

        Returns a dict with ``mu``, ``batch_size``, ``min_steps`` (the cap of
        ``min_steps="auto"``) and ``steps_per_pool_row``:
        :attr:`cuda_settings` when ``device`` is a CUDA device (``"cuda"``,
        ``"cuda:1"``, a ``torch.device``), :attr:`cpu_settings` otherwise.

        Examples
        --------
        >>> from skal.nets import MLP
        >>> from skal.semi_supervised import FixMatchClassifier
        >>> FixMatchClassifier(MLP, device="cpu").auto_settings()["mu"]
        3
        >>> FixMatchClassifier(MLP, device="cuda").auto_settings()["mu"]
        7
        """
        on_cuda = str(self.device or "cpu").startswith("cuda")
        return dict(self.cuda_settings if on_cuda else self.cpu_settings)

    def _auto(self, name):
        """``name``'s value, with ``"auto"`` resolved for the device."""
        value = getattr(self, name)
        return self.auto_settings()[name] if value == "auto" else value

    def _check_semi_params(self):
        params = {name: getattr(self, name) for name in self._semi_constraints}
        validate_parameter_constraints(
            self._semi_constraints, params, type(self).__name__
        )

    # ------------------------------------------------------------ data split
    def _split(self, X, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.fit needs y (with -1 for unlabeled rows)."
            )
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D; got shape {y.shape}.")
        unlabeled = y == -1
        if unlabeled.all():
            raise ValueError(
                f"{type(self).__name__}.fit got no labeled row: every label "
                "is -1 (unlabeled). Label at least one row per class."
            )
        lab, unl = np.flatnonzero(~unlabeled), np.flatnonzero(unlabeled)
        return _take(X, lab), y[lab], _take(X, unl)

    def _n_labeled(self, y):
        return int(np.sum(np.asarray(y) != -1))

    def fit(self, X, y=None, **fit_params):
        return self._fit_split(super().fit, X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if getattr(self, "_in_fit", False):  # skorch's fit calls partial_fit
            return super().partial_fit(X, y, classes=classes, **fit_params)
        return self._fit_split(super().partial_fit, X, y, classes=classes, **fit_params)

    def _fit_split(self, method, X, y, **kwargs):
        """Run ``method`` on the labeled rows with the unlabeled ones at hand."""
        self._check_semi_params()
        X_l, y_l, X_u = self._split(X, y)
        self._unlabeled = X_u if _len(X_u) else None
        self._in_fit = True
        self._weights_ema = None
        self._reset_train_state(X_l, y_l, X_u)
        try:
            with self._seeded(), self._auto_batch_size():
                method(X_l, y_l, **kwargs)
            self._install_weights_ema()
        finally:
            self._unlabeled = None
            self._weights_ema = None
            self._in_fit = False
        self._finish_train_state()
        self._record_mask_rate()
        return self

    # ------------------------------------------------- training-state hooks
    def _reset_train_state(self, X_l, y_l, X_u):
        """Re-initialise the fitted training state (EMAs) before a fit."""

    def _finish_train_state(self):
        """Turn the training state into its public form after a fit."""

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch for the fit when ``random_state`` is set (global torch
        random state restored afterwards)."""
        random_state = getattr(self, "random_state", None)
        if random_state is None:
            yield
            return
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        devices = [self.device] if str(self.device).startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    @contextlib.contextmanager
    def _auto_batch_size(self):
        """``batch_size="auto"`` resolved for the duration of the fit."""
        if self.batch_size != "auto":
            yield
            return
        self.batch_size = self.auto_settings()["batch_size"]
        try:
            yield
        finally:
            self.batch_size = "auto"

    def get_iterator(self, dataset, training=False):
        with self._auto_batch_size():
            return super().get_iterator(dataset, training=training)

    def _auto_min_steps(self):
        """``min_steps="auto"``: steps per pool row, within a floor and a cap."""
        settings = self.auto_settings()
        cap = settings["min_steps"]
        per_row = settings.get("steps_per_pool_row")
        if per_row is None:
            return cap
        n_u = _len(getattr(self, "_unlabeled", None))
        floor = min(self.auto_min_steps_floor, cap)
        return int(min(cap, max(floor, math.ceil(per_row * n_u))))

    def _set_steps(self, y):
        if self.min_steps != "auto":
            return super()._set_steps(y)
        self.min_steps = self._auto_min_steps()
        try:
            return super()._set_steps(y)
        finally:
            self.min_steps = "auto"

    # ------------------------------------------------ EMA of the weights
    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        decay = getattr(self, "weights_ema", None)
        if decay and getattr(self, "_in_fit", False):
            if self._weights_ema is None:
                from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

                # in a list: skorch refuses modules set as attributes here
                self._weights_ema = [
                    AveragedModel(
                        self.module_,
                        multi_avg_fn=get_ema_multi_avg_fn(decay),
                        use_buffers=True,
                    )
                ]
            self._weights_ema[0].update_parameters(self.module_)
        return step

    def _install_weights_ema(self):
        """Predict with the EMA of the weights (when ``weights_ema`` is set)."""
        if getattr(self, "_weights_ema", None) is not None:
            self.module_.load_state_dict(self._weights_ema[0].module.state_dict())

    # -------------------------------------------------------------- training
    def _draw_unlabeled(self):
        X_u = getattr(self, "_unlabeled", None)
        if X_u is None or self.lambda_u == 0:
            return None
        n = self._auto("mu") * self.batch_size
        idx = torch.randint(0, _len(X_u), (n,)).numpy()
        self._unlabeled_idx = idx
        return to_tensor(_take(X_u, idx), device=self.device)

    def unlabeled_loss(self, X_labeled, y_labeled, X_unlabeled):
        """Supervised logits and the unlabeled loss of one step.

        Returns ``(logits_labeled, loss_unlabeled, mask_rate)``.
        """
        raise NotImplementedError

    def train_step_single(self, batch, **fit_params):
        Xu = self._draw_unlabeled()
        if Xu is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        logits, loss_u, mask_rate = self.unlabeled_loss(Xi, yi, Xu)
        loss_l = self.get_loss(logits, yi, X=Xi, training=True)
        loss = loss_l + self.lambda_u * loss_u
        loss.backward()
        self.history.record_batch("loss_u", float(loss_u.detach()))
        self.history.record_batch("mask_rate", float(mask_rate))
        return {"loss": loss, "y_pred": logits}

    def _record_mask_rate(self):
        batches = self.history[-1]["batches"] if len(self.history) else []
        rates = [b["mask_rate"] for b in batches if "mask_rate" in b]
        self.mask_rate_ = float(np.mean(rates)) if rates else None


def _len(X):
    return len(X) if X is not None else 0


def _take(X, idx):
    """Rows ``idx`` of an array, tensor, DataFrame or sequence."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, (np.ndarray, torch.Tensor)):
        return X[idx]
    return np.asarray(X)[idx]
