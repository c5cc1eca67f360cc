"""FreeMatch (Wang et al. 2023) and FlexMatch (Zhang et al. 2021) thresholds."""

from __future__ import annotations

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._validation import Described
from ._base import _len
from ._fixmatch import FixMatchClassifier


class FreeMatchClassifier(FixMatchClassifier):
    """FixMatch with thresholds that adapt to the model's own confidence.

    FixMatch keeps a pseudo-label when its confidence passes a fixed
    ``threshold`` (0.95): with few labels the model is rarely that confident
    early on, so the pool is barely used where it would help most. FreeMatch
    (Wang et al., *FreeMatch: Self-adaptive Thresholding for Semi-supervised
    Learning*, ICLR 2023) replaces it with

    * a **self-adaptive global threshold** ``tau``: an exponential moving
      average (momentum ``ema_momentum``) of the mean maximum confidence of
      the weak views of the unlabeled batches, starting at ``1 / C``;
    * **class-wise thresholds** ``tau * p(c) / max_c p(c)``, ``p`` an EMA of
      the mean predicted probability of each class (a class the model rarely
      predicts gets a lower bar);
    * the **self-adaptive fairness term** (weight ``lambda_f``): the negative
      cross-entropy between the EMA class distribution and the mean
      prediction of the strongly augmented views that pass the threshold,
      each divided by its histogram of arg-max classes, which discourages
      predicting one class everywhere.

    ``thresholding="flexmatch"`` uses FlexMatch's curriculum instead (Zhang
    et al., *FlexMatch*, NeurIPS 2021): class ``c``'s threshold is
    ``threshold * beta(c) / (2 - beta(c))``, ``beta(c)`` the number of
    unlabeled rows last predicted as ``c`` above ``threshold``, divided by
    the largest such count or the number of rows never above it (warm-up).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits.
    augment_weak, augment_strong : callable, optional
        As in :class:`FixMatchClassifier`.
    threshold : float, default=0.95
        FlexMatch's upper threshold; unused by ``thresholding="freematch"``.
    lambda_u : float, default=1.0
        Weight of the consistency loss.
    mu : int or "auto", default="auto"
        Unlabeled rows per labeled row in a step; ``"auto"``: 7 on CUDA, 3
        on the CPU (:meth:`auto_settings`).
    thresholding : {"freematch", "flexmatch"}, default="freematch"
    ema_momentum : float in [0, 1), default=0.99
        Momentum of the threshold EMAs. The paper's 0.999 suits its 2^20
        steps; a CPU fit runs hundreds, and 0.99 lets the thresholds follow
        the model within about 100 steps.
    lambda_f : float, default=0.01
        Weight of the fairness term (FreeMatch only; 0 turns it off).
    dist_align : bool, default=False
        Distribution alignment (ReMixMatch): the weak view's probabilities
        are multiplied by ``uniform / EMA of the mean prediction`` and
        renormalised before pseudo-labelling.
    weights_ema : float in [0, 1) or None, default=None
        Predict with an exponential moving average of the weights (decay
        ``weights_ema``, e.g. 0.999) instead of the last weights.
    random_state : int, RandomState instance or None, default=None
        Seeds torch for the fit (initial weights, batches, unlabeled draws,
        augmentations); torch's global random state is restored afterwards.
    batch_size : int or "auto", default="auto"
        Labeled rows per step; ``"auto"``: 64 on CUDA, 32 on the CPU.
    min_steps : int or "auto", default="auto"
        Steps of a fit are ``min_steps + steps_per_label * n``
        (:class:`skal.nets.StepNetClassifier`). ``"auto"`` follows the pool
        and the device: 0.4 steps per unlabeled row on the CPU, at least 500
        and at most 2000 (0.8 and 4000 on CUDA; :meth:`auto_settings`). With
        40 labels the pool needs those steps: on MNIST-1D with a 5000-row
        pool, 540 steps score 0.66 where 2040 score 0.82. A CPU fit of
        skal's ``CNN1d`` there costs about 17 ms of one core a step, 35-45 s.
    **kwargs
        Everything :class:`skal.nets.StepNetClassifier` takes
        (``steps_per_label``, ``lr``, ``module__n_classes``, ...).

    Attributes
    ----------
    global_threshold_ : float or None
        The self-adaptive global threshold ``tau`` after the fit (None when
        the fit had no unlabeled rows or ``thresholding="flexmatch"``).
    class_confidence_ : ndarray of shape (n_classes,) or None
        EMA of the mean predicted probability of each class on the pool.
    class_thresholds_ : ndarray of shape (n_classes,) or None
        The per-class thresholds in force at the end of the fit.
    label_hist_ : ndarray of shape (n_classes,) or None
        EMA of the histogram of arg-max classes on the pool.
    learning_status_ : ndarray of shape (n_unlabeled,) or None
        FlexMatch: each unlabeled row's last confident class (-1: never).
    mask_rate_ : float or None
        Share of unlabeled rows above their threshold in the last epoch.

    Each fit re-initialises this state. The history's batches also record
    ``threshold`` (the global threshold, or FlexMatch's mean class
    threshold), ``loss_u`` and ``mask_rate``.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.augment import TabularAugment
    >>> from skal.nets import MLP
    >>> from skal.semi_supervised import FreeMatchClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> y_partial = np.where(np.arange(200) < 20, y, -1)
    >>> net = FreeMatchClassifier(MLP, module__n_classes=2, min_steps=60,
    ...                           augment_weak=TabularAugment("weak"),
    ...                           augment_strong=TabularAugment("strong"),
    ...                           random_state=0)
    >>> bool(net.fit(X, y_partial).score(X, y) > 0.8)
    True
    >>> 0.5 < net.global_threshold_ < 1
    True
    """

    _semi_constraints = {
        **FixMatchClassifier._semi_constraints,
        "thresholding": [StrOptions({"freematch", "flexmatch"})],
        "ema_momentum": [
            Described(Interval(Real, 0, 1, closed="left"), refuse_bool=True)
        ],
        "lambda_f": [
            Described(Interval(Real, 0, None, closed="left"), refuse_bool=True)
        ],
        "dist_align": ["boolean"],
        "weights_ema": [
            None,
            Described(Interval(Real, 0, 1, closed="left"), refuse_bool=True),
        ],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        module,
        *args,
        augment_weak=None,
        augment_strong=None,
        threshold=0.95,
        lambda_u=1.0,
        mu="auto",
        thresholding="freematch",
        ema_momentum=0.99,
        lambda_f=0.01,
        dist_align=False,
        weights_ema=None,
        random_state=None,
        batch_size="auto",
        min_steps="auto",
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            augment_weak=augment_weak,
            augment_strong=augment_strong,
            threshold=threshold,
            lambda_u=lambda_u,
            mu=mu,
            batch_size=batch_size,
            min_steps=min_steps,
            **kwargs,
        )
        self.thresholding = thresholding
        self.ema_momentum = ema_momentum
        self.lambda_f = lambda_f
        self.dist_align = dist_align
        self.weights_ema = weights_ema
        self.random_state = random_state

    # ------------------------------------------------------- training state
    def _reset_train_state(self, X_l, y_l, X_u):
        self.global_threshold_ = None
        self.class_confidence_ = None
        self.class_thresholds_ = None
        self.label_hist_ = None
        self._da_mean = None
        n_u = _len(X_u)
        self.learning_status_ = (
            torch.full((n_u,), -1, dtype=torch.long)
            if self.thresholding == "flexmatch" and n_u
            else None
        )

    def _init_emas(self, n_classes, like):
        uniform = torch.full((n_classes,), 1.0 / n_classes, dtype=like.dtype)
        uniform = uniform.to(like.device)
        if self.global_threshold_ is None:
            self.global_threshold_ = uniform.mean()  # 1 / C
            self.class_confidence_ = uniform.clone()
            self.label_hist_ = uniform.clone()
            self._da_mean = uniform.clone()

    def _finish_train_state(self):
        for name in ("class_confidence_", "class_thresholds_", "label_hist_"):
            value = getattr(self, name)
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.detach().cpu().numpy())
        if isinstance(self.global_threshold_, torch.Tensor):
            self.global_threshold_ = float(self.global_threshold_)
        if self.thresholding != "freematch":
            self.global_threshold_ = None
        if isinstance(self.learning_status_, torch.Tensor):
            self.learning_status_ = self.learning_status_.numpy()
        self._da_mean = None

    # ------------------------------------------------------- pseudo-labels
    def pseudo_labels(self, probs_weak):
        n_classes = probs_weak.shape[1]
        self._init_emas(n_classes, probs_weak)
        m = self.ema_momentum
        if self.dist_align:
            self._da_mean = m * self._da_mean + (1 - m) * probs_weak.mean(0)
            probs_weak = probs_weak / self._da_mean.clamp_min(1e-12)
            probs_weak = probs_weak / probs_weak.sum(1, keepdim=True)
        conf, pseudo = probs_weak.max(dim=1)
        # class-wise probability and arg-max histogram: both schemes keep them
        # (FreeMatch's thresholds and fairness term, and for inspection)
        self.class_confidence_ = m * self.class_confidence_ + (1 - m) * probs_weak.mean(
            0
        )
        hist = torch.bincount(pseudo, minlength=n_classes).to(probs_weak.dtype)
        self.label_hist_ = m * self.label_hist_ + (1 - m) * hist / hist.sum()
        if self.thresholding == "freematch":
            self.global_threshold_ = m * self.global_threshold_ + (1 - m) * conf.mean()
            scale = self.class_confidence_ / self.class_confidence_.max()
            self.class_thresholds_ = self.global_threshold_ * scale
            self.history.record_batch("threshold", float(self.global_threshold_))
        else:
            self.class_thresholds_ = self._flexmatch_thresholds(conf, pseudo, n_classes)
            self.history.record_batch("threshold", float(self.class_thresholds_.mean()))
        mask = (conf >= self.class_thresholds_[pseudo]).float()
        return pseudo, mask

    def _flexmatch_thresholds(self, conf, pseudo, n_classes):
        status = self.learning_status_
        idx = torch.as_tensor(self._unlabeled_idx)
        confident = (conf >= self.threshold).cpu()
        status[idx[confident]] = pseudo.cpu()[confident]
        counts = torch.bincount(status[status >= 0], minlength=n_classes).float()
        unused = float((status < 0).sum())
        beta = counts / max(float(counts.max()), unused, 1.0)
        thresholds = self.threshold * beta / (2.0 - beta)
        return thresholds.to(device=conf.device, dtype=conf.dtype)

    def extra_unlabeled_loss(self, logits_strong, mask):
        if self.thresholding != "freematch" or self.lambda_f == 0 or mask.sum() == 0:
            return logits_strong.new_zeros(())
        loss = _fairness(
            logits_strong[mask.bool()], self.class_confidence_, self.label_hist_
        )
        self.history.record_batch("loss_f", float(loss.detach()))
        return self.lambda_f * loss


def _fairness(logits_strong, class_confidence, label_hist):
    """FreeMatch's self-adaptive fairness term (its ``entropy_loss``).

    ``-H(SumNorm(p / h), SumNorm(p_s / h_s))``: ``p`` and ``h`` the EMAs of
    the class probability and arg-max histogram, ``p_s`` and ``h_s`` the mean
    probability and histogram of the strong views above threshold.
    """
    n_classes = logits_strong.shape[1]
    probs = logits_strong.softmax(dim=1)
    hist = torch.bincount(probs.argmax(1), minlength=n_classes).to(probs.dtype)
    hist = hist / hist.sum()

    def sum_norm(p, h):
        scaled = p * torch.nan_to_num(1 / h, nan=0.0, posinf=0.0).detach()
        return scaled / scaled.sum()

    target = sum_norm(class_confidence.detach(), label_hist.detach())
    mean = sum_norm(probs.mean(0), hist)
    return (target * torch.log(mean + 1e-12)).sum()
