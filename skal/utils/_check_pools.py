"""The generated pools of the strategy check suite (needs hypothesis).

Imported by :mod:`skal.utils.estimator_checks` only when a check runs, so
that skal itself does not depend on hypothesis (the ``checks`` extra).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck
from hypothesis import strategies as st

SETTINGS = dict(
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    database=None,
)


@st.composite
def pools(draw, *, max_rows=2000, distinct=False):
    """Generate a pool: (X, n_classes, kind).

    Rows are probability vectors (Dirichlet, constant, tied on a coarse grid,
    or duplicated) followed by 3 embedding features.
    """
    n_rows = draw(
        st.one_of(st.integers(1, 40), st.integers(41, 400), st.integers(401, max_rows))
    )
    n_classes = draw(st.sampled_from([2, 3, 5, 10, 50]))
    seed = draw(st.integers(0, 2**31 - 1))
    kind = (
        "dirichlet"
        if distinct
        else draw(st.sampled_from(["dirichlet", "constant", "tied", "duplicated"]))
    )
    rng = np.random.RandomState(seed)
    alpha = draw(st.sampled_from([0.1, 1.0, 10.0]))
    P = rng.dirichlet(np.full(n_classes, alpha), size=n_rows)
    F = rng.normal(size=(n_rows, 3))
    if kind == "constant":
        P[:] = P[0]
        F[:] = F[0]
    elif kind == "tied":
        P = np.round(P * 4) / 4 + 1e-9
        P /= P.sum(axis=1, keepdims=True)
        F = np.round(F)
    elif kind == "duplicated":
        src = rng.randint(0, max(1, n_rows // 10), size=n_rows)
        P, F = P[src], F[src]
    return np.hstack([P, F]).astype(np.float32), n_classes, kind


@st.composite
def scenarios(draw, *, max_rows=2000, distinct=False):
    """A pool, a labeled part of it, candidates and ``n_instances``."""
    X, n_classes, kind = draw(pools(max_rows=max_rows, distinct=distinct))
    n = X.shape[0]
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    n_labeled = draw(st.integers(1, max(1, min(n - 1, 30)))) if n > 1 else 0
    labeled = rng.choice(n, size=n_labeled, replace=False)
    n_instances = draw(st.one_of(st.integers(1, 20), st.integers(1, n + 10)))
    return {
        "X": X,
        "n_classes": n_classes,
        "kind": kind,
        "labeled": labeled,
        "n_instances": n_instances,
        "seed": draw(st.integers(0, 2**31 - 1)),
    }
