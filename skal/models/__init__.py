"""Model adapters: probabilities, embeddings and more, for any classifier."""

from ._adapters import SklearnAdapter, SkorchAdapter, get_adapter, is_skorch_net

__all__ = ["get_adapter", "SklearnAdapter", "SkorchAdapter", "is_skorch_net"]
