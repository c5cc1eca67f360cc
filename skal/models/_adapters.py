"""Model adapters: the only way strategies read a model.

A strategy never touches a net's internals; it asks an adapter for class
probabilities, embeddings and the like. :func:`get_adapter` picks the adapter
for a fitted skorch net or a scikit-learn classifier (or a ``Pipeline`` ending
in one).
"""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..utils._arrays import take_rows

__all__ = ["get_adapter", "SklearnAdapter", "SkorchAdapter", "is_skorch_net"]


def is_skorch_net(estimator) -> bool:
    """True when ``estimator`` is a skorch ``NeuralNet`` (skorch imported lazily)."""
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover - skorch is a dependency
        return False
    return isinstance(estimator, NeuralNet)


def _unwrap(obj):
    """The fitted estimator behind an ActiveLearner, or ``obj`` itself."""
    if getattr(obj, "_is_skal_learner", False):
        check_is_fitted(obj)
        if not getattr(obj, "model_fitted_", False):
            raise NotFittedError(
                "The learner's model is not fitted yet (no labeled rows); use a "
                "strategy that needs no model (e.g. RandomSampling) as "
                "'initial_strategy' until the first labels are taught."
            )
        return obj.estimator_
    return obj


def get_adapter(obj, *, strategy=None):
    """Return the adapter for a learner or a fitted estimator.

    Parameters
    ----------
    obj : ActiveLearner or estimator
        A fitted :class:`~skal.ActiveLearner`, skorch net or scikit-learn
        classifier.
    strategy : object, default=None
        The strategy asking, only used to word error messages.

    Returns
    -------
    adapter : SkorchAdapter or SklearnAdapter
    """
    estimator = _unwrap(obj)
    asker = type(strategy).__name__ if strategy is not None else "This strategy"
    if is_skorch_net(estimator):
        adapter = SkorchAdapter(estimator, asker=asker)
    else:
        adapter = SklearnAdapter(estimator, asker=asker)
    # A learner whose executor scores in chunks (remote, or joblib-parallel)
    # gets its pool scoring delegated to it (skal.backends).
    executor = getattr(obj, "_executor_", None)
    if executor is not None and executor.chunked_scoring():
        from ..backends._delegate import ExecutorAdapter

        return ExecutorAdapter(adapter, executor, estimator)
    return adapter


class SklearnAdapter:
    """Adapter for scikit-learn classifiers and pipelines ending in one."""

    def __init__(self, estimator, *, asker="This strategy"):
        self.estimator = estimator
        self.asker = asker

    def predict_proba(self, X, candidates=None):
        """Class probabilities of the candidate rows, float64 (n, n_classes)."""
        if not hasattr(self.estimator, "predict_proba"):
            raise TypeError(
                f"{self.asker} needs class probabilities, but the estimator "
                f"{type(self.estimator).__name__} has no 'predict_proba' method. "
                "Use a probabilistic classifier (e.g. LogisticRegression, or "
                "SVC(probability=True)) or a strategy that needs no model."
            )
        Xc = X if candidates is None else take_rows(X, candidates)
        return np.asarray(self.estimator.predict_proba(Xc), dtype=np.float64)

    def embed(self, X, candidates=None):
        """Embeddings: the output of a pipeline's transformers, else ``X``."""
        Xc = X if candidates is None else take_rows(X, candidates)
        if isinstance(self.estimator, Pipeline) and len(self.estimator.steps) > 1:
            Xc = self.estimator[:-1].transform(Xc)
        Xc = np.asarray(Xc, dtype=np.float32)
        return Xc.reshape(Xc.shape[0], -1)


class SkorchAdapter:
    """Adapter for skorch nets: computed in batches on the net's device."""

    def __init__(self, net, *, asker="This strategy"):
        self.net = net
        self.asker = asker

    def predict_proba(self, X, candidates=None):
        """Class probabilities of the candidate rows, float64 (n, n_classes)."""
        Xc = X if candidates is None else take_rows(X, candidates)
        return np.asarray(self.net.predict_proba(Xc), dtype=np.float64)

    def embed(self, X, candidates=None, *, layer=None):
        """Penultimate embeddings: the input of the last ``nn.Linear``.

        Captured with a forward hook, so the user's module is not changed.
        """
        import torch

        Xc = X if candidates is None else take_rows(X, candidates)
        module = self.net.module_
        target = _find_layer(module, layer)
        chunks = []

        def hook(_mod, inputs, _out):
            chunks.append(inputs[0].detach().flatten(1).float())

        handle = target.register_forward_hook(hook)
        try:
            for _ in self.net.forward_iter(Xc, training=False):
                pass
        finally:
            handle.remove()
        if not chunks:
            return np.empty((0, 0), dtype=np.float32)
        return torch.cat(chunks).cpu().numpy()


def _find_layer(module, name=None):
    import torch

    if name is not None:
        modules = dict(module.named_modules())
        if name not in modules:
            raise ValueError(
                f"The 'layer' parameter must name a submodule of "
                f"{type(module).__name__}; got {name!r}. "
                f"Known names: {sorted(k for k in modules if k)}."
            )
        return modules[name]
    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError(
            f"Cannot find an nn.Linear layer in {type(module).__name__} to take "
            "embeddings from; pass 'layer' with the name of the layer whose "
            "input is the embedding."
        )
    return linears[-1]
