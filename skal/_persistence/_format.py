"""What every part of a session file shares: its error, format and small checks."""

from __future__ import annotations

import numpy as np

__all__ = ["FORMAT", "VERSION", "SessionFileError"]


FORMAT = "skal.ActiveLearner"
VERSION = 1


class SessionFileError(ValueError):
    """A saved session is damaged, tampered with, or cannot be restored.

    Examples
    --------
    >>> import os, tempfile
    >>> from skal import ActiveLearner, SessionFileError
    >>> path = os.path.join(tempfile.mkdtemp(), "session.skal")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"garbage")
    >>> try:
    ...     ActiveLearner.load(path)
    ... except SessionFileError:
    ...     print("not a session")
    not a session
    """


def _is_int(v):
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_shape(shape, ndim=None):
    """A list (or tuple) of at most 32 sizes, each below 2**40."""
    return (
        isinstance(shape, list | tuple)
        and len(shape) <= 32
        and (ndim is None or len(shape) == ndim)
        and all(_is_int(s) and 0 <= s < 1 << 40 for s in shape)
    )


def _n_rows(X):
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)
