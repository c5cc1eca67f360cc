"""An adapter that hands pool scoring to the learner's executor.

Layer: models. The executor is duck-typed (``chunked_scoring``, ``score``):
nothing here imports :mod:`skal.backends`, which sits above.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCORING_METHODS", "ExecutorAdapter"]

# Adapter methods an executor may compute chunk by chunk: deterministic and
# row-wise, so chunking cannot change a result. (``mc_proba`` draws dropout
# masks per call, so it stays with the in-process adapter.)
SCORING_METHODS = ("predict_proba", "logits", "embed", "grad_embedding_factors")


class ExecutorAdapter:
    """Wraps a model adapter: scoring methods run through ``executor.score``.

    :func:`skal.models.get_adapter` returns one for a learner whose executor
    scores in chunks (remote, or local with joblib parallelism) and the pool
    asked about is large enough (:meth:`BaseExecutor.chunked_scoring`). The
    deterministic row-wise methods (:data:`SCORING_METHODS`) are delegated;
    everything else (``mc_proba``, ``device``, ``net``) is the wrapped
    adapter's. With ``as_tensor=True`` the result becomes a float32 tensor on
    the adapter's device, as the adapter itself would return it.
    """

    def __init__(self, adapter, executor, model):
        self._adapter = adapter
        self._executor = executor
        self._model = model

    def __getattr__(self, name):
        if name.startswith("_"):  # never recurse on our own (missing) fields
            raise AttributeError(name)
        attr = getattr(self._adapter, name)
        if name not in SCORING_METHODS:
            return attr

        def scoring(X, candidates=None, *, as_tensor=False, **kwargs):
            if not self._executor.chunked_scoring(X):
                if as_tensor:
                    kwargs["as_tensor"] = True
                return attr(X, candidates, **kwargs)
            out = self._executor.score(self._model, X, candidates, name, **kwargs)
            if not as_tensor:
                return out
            if isinstance(out, tuple):
                return tuple(self._tensor(a) for a in out)
            return self._tensor(out)

        scoring.__name__ = name
        scoring.__doc__ = attr.__doc__
        return scoring

    def _tensor(self, a):
        import torch

        device = torch.device(getattr(self._adapter, "device", "cpu"))
        if device.type == "cuda" and not torch.cuda.is_available():
            device = torch.device("cpu")
        return torch.as_tensor(
            np.ascontiguousarray(a), dtype=torch.float32, device=device
        )
