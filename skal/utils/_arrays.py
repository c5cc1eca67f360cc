"""Row indexing and concatenation for every array type the estimators accept.

numpy arrays, torch tensors, pandas objects, scipy sparse matrices and lists
are indexed without converting the whole pool.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.utils import _safe_indexing


def _is_torch_tensor(X) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(X, torch.Tensor)


def take_rows(X, indices):
    """Rows ``indices`` of ``X``, keeping the container type."""
    indices = np.asarray(indices, dtype=np.intp)
    if _is_torch_tensor(X):
        import torch

        return X[torch.as_tensor(indices, device=X.device)]
    if isinstance(X, np.ndarray):
        return X[indices]
    return _safe_indexing(X, indices, axis=0)


def concat_rows(a, b):
    """Concatenate two row collections of the same container type."""
    if a is None:
        return b
    if _is_torch_tensor(a) or _is_torch_tensor(b):
        import torch

        device = a.device if _is_torch_tensor(a) else b.device
        return torch.cat(
            [torch.as_tensor(a, device=device), torch.as_tensor(b, device=device)]
        )
    if hasattr(a, "iloc") and hasattr(b, "iloc"):
        import pandas as pd

        return pd.concat([a, b], axis=0, ignore_index=True)
    try:
        import scipy.sparse as sp

        if sp.issparse(a) or sp.issparse(b):
            return sp.vstack([a, b], format="csr")
    except ImportError:  # pragma: no cover
        pass
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    return np.concatenate([np.asarray(a), np.asarray(b)], axis=0)


def sample_shape(X):
    """The shape of one row (``X.shape[1:]``) or None when unknown."""
    shape = getattr(X, "shape", None)
    if shape is None:
        return None
    return tuple(int(s) for s in shape[1:])
