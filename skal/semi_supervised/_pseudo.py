"""Thresholded, class-balanced pseudo-labels: semi-supervised with no augmentation."""

from __future__ import annotations

from numbers import Real

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from ..utils._validation import Described
from ._base import SemiSupervisedNet


class PseudoLabelClassifier(SemiSupervisedNet):
    """Pseudo-labels above a threshold, balanced across classes.

    For data with no augmentation family (tables, embeddings). Each step
    predicts the unlabeled rows with the current model in evaluation mode
    (no dropout, no noise); rows whose confidence is at least ``threshold``
    get their predicted class as a label. Their cross-entropy is computed on a
    *noisy* view (dropout and Gaussian input noise of ``input_noise`` times the
    batch's standard deviation) and weighted so that every pseudo-labeled
    class counts equally (a class holding a tenth of the pseudo-labels gets
    ten times the weight of one holding them all), which keeps the majority
    class from absorbing the pool (Lee 2013; class balance as in FlexMatch).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits.
    threshold : float, default=0.95
    lambda_u : float, default=1.0
    mu : int, default=7
    input_noise : float, default=0.1
    **kwargs
        Everything :class:`skal.nets.StepNetClassifier` takes.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.nets import MLP
    >>> from skal.semi_supervised import PseudoLabelClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> y_partial = np.where(np.arange(200) < 20, y, -1)
    >>> net = PseudoLabelClassifier(MLP, module__n_classes=2, min_steps=60,
    ...                             threshold=0.9, mu=2).fit(X, y_partial)
    >>> bool(net.score(X, y) > 0.8)
    True
    """

    def __init__(
        self,
        module,
        *args,
        threshold=0.95,
        lambda_u=1.0,
        mu=7,
        input_noise=0.1,
        **kwargs,
    ):
        super().__init__(
            module, *args, threshold=threshold, lambda_u=lambda_u, mu=mu, **kwargs
        )
        self.input_noise = input_noise

    _semi_constraints = {
        **SemiSupervisedNet._semi_constraints,
        "input_noise": [
            Described(Interval(Real, 0, None, closed="left"), refuse_bool=True)
        ],
    }

    def unlabeled_loss(self, X_labeled, y_labeled, X_unlabeled):
        self.module_.eval()
        with torch.no_grad():
            conf, pseudo = torch.softmax(self.infer(X_unlabeled), dim=1).max(dim=1)
        self.module_.train()
        mask = conf >= self.threshold
        Xu = X_unlabeled.float()
        if self.input_noise > 0:
            Xu = Xu + torch.randn_like(Xu) * self.input_noise * Xu.std().clamp_min(1e-8)
        logits = self.infer(torch.cat([X_labeled.to(Xu.dtype), Xu]))
        logits_l, logits_u = logits[: len(X_labeled)], logits[len(X_labeled) :]
        if not bool(mask.any()):
            return logits_l, logits_u.sum() * 0.0, 0.0
        counts = torch.bincount(pseudo[mask], minlength=logits.shape[1]).float()
        present = counts > 0
        weight_c = torch.zeros_like(counts)
        weight_c[present] = mask.sum() / (present.sum() * counts[present])
        weights = weight_c[pseudo] * mask.float()
        loss = F.cross_entropy(logits_u, pseudo, reduction="none")
        return logits_l, (loss * weights).sum() / len(Xu), mask.float().mean()
