"""FixMatch (Sohn et al. 2020) as a skorch classifier."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import SemiSupervisedNet


def _identity(X, *, generator=None):
    return X


class FixMatchClassifier(SemiSupervisedNet):
    """FixMatch: consistency between a weak and a strong view of the pool.

    Each training step takes a batch of labeled rows and ``mu`` times as many
    unlabeled rows (``y == -1``). The model's prediction on a weakly augmented
    view of an unlabeled row becomes its pseudo-label when its confidence is at
    least ``threshold``; the loss adds ``lambda_u`` times the cross-entropy of
    the strongly augmented view against those pseudo-labels (Sohn et al.,
    *FixMatch*, NeurIPS 2020). The labeled batch is weakly augmented too. All
    views go through the module in one forward pass (batch norm sees them
    together, as in the paper).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits.
    augment_weak, augment_strong : callable, optional
        Called on a torch batch, return a batch of the same shape:
        ``skal.augment.SignalAugment("weak")``, ``ImageAugment("strong")``,
        ``TabularAugment(...)`` or your own. None is the identity.
    threshold : float, default=0.95
    lambda_u : float, default=1.0
    mu : int, default=7
    **kwargs
        Everything :class:`skal.nets.StepNetClassifier` takes
        (``min_steps``, ``lr``, ``module__n_classes``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from skal.augment import TabularAugment
    >>> from skal.nets import MLP
    >>> from skal.semi_supervised import FixMatchClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> y_partial = np.where(np.arange(200) < 20, y, -1)
    >>> net = FixMatchClassifier(MLP, module__n_classes=2, min_steps=60,
    ...                          augment_weak=TabularAugment("weak"),
    ...                          augment_strong=TabularAugment("strong"),
    ...                          threshold=0.8, mu=2)
    >>> net.fit(X, y_partial).classes_.tolist()
    [0, 1]
    >>> bool(net.score(X, y) > 0.8)
    True
    """

    _nested_params = ("augment", "augment_weak", "augment_strong")

    def __init__(
        self,
        module,
        *args,
        augment_weak=None,
        augment_strong=None,
        threshold=0.95,
        lambda_u=1.0,
        mu=7,
        **kwargs,
    ):
        super().__init__(
            module, *args, threshold=threshold, lambda_u=lambda_u, mu=mu, **kwargs
        )
        self.augment_weak = augment_weak
        self.augment_strong = augment_strong

    def unlabeled_loss(self, X_labeled, y_labeled, X_unlabeled):
        weak = self.augment_weak or _identity
        strong = self.augment_strong or _identity
        n_l, n_u = len(X_labeled), len(X_unlabeled)
        views = torch.cat([weak(X_labeled), weak(X_unlabeled), strong(X_unlabeled)])
        logits = self.infer(views)
        logits_l = logits[:n_l]
        logits_w, logits_s = logits[n_l : n_l + n_u], logits[n_l + n_u :]
        with torch.no_grad():
            probs_w = torch.softmax(logits_w.detach(), dim=1)
            pseudo, mask = self.pseudo_labels(probs_w)
        loss_u = (F.cross_entropy(logits_s, pseudo, reduction="none") * mask).mean()
        loss_u = loss_u + self.extra_unlabeled_loss(logits_s, mask)
        return logits_l, loss_u, mask.mean()

    def pseudo_labels(self, probs_weak):
        """Pseudo-labels and their 0/1 mask from the weak view's probabilities.

        FixMatch: the arg-max where its probability is at least
        ``threshold``. Subclasses change the rule (adaptive thresholds).
        """
        conf, pseudo = probs_weak.max(dim=1)
        return pseudo, (conf >= self.threshold).float()

    def extra_unlabeled_loss(self, logits_strong, mask):
        """A term added to the unlabeled loss (none in FixMatch)."""
        return logits_strong.new_zeros(())

    def _train_augment(self):
        # labeled batches of a fit without a pool get the weak view
        return self.augment_weak if self.augment_weak is not None else self.augment
