"""Offline data sets and pool transformations for active-learning experiments.

Nothing here downloads anything: :func:`load_digits_images` reads the copy of
the digits data that ships with scikit-learn and :func:`make_mnist1d` generates
MNIST-1D locally with the ``mnist1d`` package.

The pool transformations turn a clean, labeled pool into the harder pools that
active learning meets in practice: class imbalance (:func:`make_imbalanced`),
out-of-distribution rows (:func:`add_ood`), near-duplicates
(:func:`add_near_duplicates`) and label noise (:func:`add_label_noise`). Each
one is deterministic given ``random_state`` and returns new arrays along with
the metadata needed to analyse what a strategy selected.
"""

from __future__ import annotations

import random
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._text_corpora import load_bbc_news, load_tweet_sentiment
from .utils._seeding import draw_seed
from .utils._validation import Count

__all__ = [
    "add_label_noise",
    "add_near_duplicates",
    "add_ood",
    "load_bbc_news",
    "load_digits_images",
    "load_tweet_sentiment",
    "make_imbalanced",
    "make_mnist1d",
]

# mnist1d generation arguments that make_mnist1d sets itself.
_MNIST1D_RESERVED = {"num_samples", "seed", "url", "train_split"}


def _check_X_y(X, y):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 2:
        raise ValueError(
            "X must be an array of shape (n_samples, n_features, ...) with one row "
            f"per sample; got an array of shape {X.shape}. Reshape a single "
            "feature with X.reshape(-1, 1)."
        )
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels; got shape {y.shape}.")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            "X and y must have the same number of rows; "
            f"got {X.shape[0]} and {y.shape[0]}."
        )
    if X.shape[0] == 0:
        raise ValueError("X and y must hold at least one row; got 0.")
    return X, y


def _as_dtype_of(values, X):
    """Cast generated rows to X's dtype (rounding for integer data)."""
    if np.issubdtype(X.dtype, np.integer):
        values = np.rint(values)
    return values.astype(X.dtype, copy=False)


# --------------------------------------------------------------------------
# Data sets
# --------------------------------------------------------------------------


@validate_params(
    {"n_class": [Interval(Integral, 1, 10, closed="both")], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_digits_images(*, n_class: int = 10, return_X_y: bool = False):
    """Load scikit-learn's 8x8 digits as images for a convolutional net.

    The data ships with scikit-learn, so nothing is downloaded.

    Parameters
    ----------
    n_class : int, default=10
        Number of classes to keep (digits ``0`` to ``n_class - 1``).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``data`` (float32 array of shape (n_samples, 1, 8, 8), pixel
        intensities scaled from 0..16 to [0, 1]), ``target`` (int64 array of
        shape (n_samples,)), ``target_names`` and ``DESCR``.
    (X, y) : tuple of ndarray
        If ``return_X_y`` is True.

    See Also
    --------
    make_mnist1d : A larger, harder data set of 1-D signals.

    Examples
    --------
    >>> from skal.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True)
    >>> X.shape, X.dtype, y.dtype
    ((1797, 1, 8, 8), dtype('float32'), dtype('int64'))
    >>> float(X.min()), float(X.max())
    (0.0, 1.0)
    """
    digits = load_digits(n_class=n_class)
    X = (digits.images / 16.0).astype(np.float32)[:, np.newaxis, :, :]
    y = digits.target.astype(np.int64)
    if return_X_y:
        return X, y
    descr = (
        "Images of scikit-learn's digits data set, shaped (n_samples, 1, 8, 8) "
        "for a 2-D convolutional net, float32 in [0, 1] (the original 0..16 "
        "intensities divided by 16).\n\n" + digits.DESCR
    )
    return Bunch(
        data=X, target=y, target_names=np.arange(n_class, dtype=np.int64), DESCR=descr
    )


@validate_params(
    {
        "n_samples": [Count(1)],
        "dataset_args": [dict, None],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_mnist1d(
    n_samples: int = 5000,
    *,
    dataset_args: dict | None = None,
    random_state=None,
    return_X_y: bool = False,
):
    """Generate the MNIST-1D data set locally.

    MNIST-1D (Greydanus, 2020) is a procedurally generated, 10-class data set
    of 1-D signals: small enough to train a 1-D CNN in seconds on a CPU, hard
    enough that models and strategies differ. Signals are generated with
    ``mnist1d.data.make_dataset``; the pre-built file is never downloaded.

    Parameters
    ----------
    n_samples : int, default=5000
        Number of signals. Any size: ``mnist1d`` generates the same number per
        class, so ``ceil(n_samples / 10) * 10`` signals are generated (already
        shuffled) and the first ``n_samples`` are kept; class counts then
        differ by at most a few rows.
    dataset_args : dict, default=None
        Overrides of ``mnist1d.data.get_dataset_args()``, e.g.
        ``{"shuffle_seq": True}`` (destroys the spatial structure),
        ``{"iid_noise_scale": 0.1}`` or ``{"final_seq_length": 60}``.
        ``num_samples``, ``seed``, ``train_split`` and ``url`` are set here.
    random_state : int, RandomState instance or None, default=None
        An int is used as ``mnist1d``'s seed, so ``n_samples=5000,
        random_state=42`` reproduces ``make_dataset()``'s default data (its
        first 4000 rows are that data's train split). ``mnist1d`` seeds the
        global ``random`` and ``numpy.random`` generators; their state is
        restored afterwards, so the call has no side effect on them (but is
        not thread-safe).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``data`` (float32 array of shape (n_samples, 1, 40) for a 1-D
        CNN; standardised to mean 0 and standard deviation 1 over the
        generated set), ``target`` (int64 array of shape (n_samples,)),
        ``target_names``, ``t`` (the coordinate of each of the 40 points,
        used by ``mnist1d``'s plots) and ``DESCR``.
    (X, y) : tuple of ndarray
        If ``return_X_y`` is True.

    See Also
    --------
    load_digits_images : The digits of scikit-learn, as images.

    Notes
    -----
    Generation runs in Python, one signal at a time, on one CPU core: about
    0.3-0.45 ms per signal (measured 3-5 s for 10,000 signals and 45 s for
    100,000), plus ~2 s to import ``mnist1d`` (which imports matplotlib) on
    the first call. Cache large sets with :func:`numpy.save` rather than
    regenerating them.

    For the usual train/test split, use
    ``sklearn.model_selection.train_test_split(X, y, train_size=0.8,
    shuffle=False)``, which matches ``mnist1d``'s own split.

    Examples
    --------
    >>> from skal.datasets import make_mnist1d
    >>> X, y = make_mnist1d(200, random_state=0, return_X_y=True)
    >>> X.shape, X.dtype, y.dtype
    ((200, 1, 40), dtype('float32'), dtype('int64'))
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()  # an attribute view on a dict, as mnist1d expects
    settings = vars(args)
    overrides = dict(dataset_args or {})
    bad = sorted(set(overrides) - (set(settings) - _MNIST1D_RESERVED))
    if bad:
        allowed = sorted(set(settings) - _MNIST1D_RESERVED)
        raise ValueError(
            f"dataset_args got unexpected key(s) {bad}; expected keys among "
            f"{allowed}. Use n_samples and random_state for the size and seed."
        )
    settings.update(overrides)

    if isinstance(random_state, Integral):
        seed = int(random_state)
    else:
        seed = draw_seed(check_random_state(random_state))
    n_generated = -(-n_samples // 10) * 10
    settings.update(num_samples=n_generated, seed=seed, train_split=1.0)

    # mnist1d seeds the global generators; restore them so the call has no side
    # effect on user code.
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)

    X = np.concatenate([raw["x"], raw["x_test"]])[:n_samples]
    y = np.concatenate([raw["y"], raw["y_test"]])[:n_samples]
    X = X.astype(np.float32)[:, np.newaxis, :]
    y = y.astype(np.int64)
    if return_X_y:
        return X, y
    descr = (
        "MNIST-1D (Greydanus, 2020, https://github.com/greydanus/mnist1d), "
        f"generated locally with seed {seed}: {n_samples} signals of length "
        f"{X.shape[-1]}, shaped (n_samples, 1, length) for a 1-D CNN, 10 "
        "classes (digits 0-9)."
    )
    return Bunch(
        data=X,
        target=y,
        target_names=np.arange(10, dtype=np.int64),
        t=np.asarray(raw["t"], dtype=np.float32),
        DESCR=descr,
    )


# --------------------------------------------------------------------------
# Pool transformations
# --------------------------------------------------------------------------


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "ratio": [Interval(Real, 1, None, closed="left")],
        "class_order": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_imbalanced(
    X: ArrayLike,
    y: ArrayLike,
    *,
    ratio: float = 10,
    class_order: ArrayLike | None = None,
    random_state=None,
):
    """Subsample a pool into a long-tailed class distribution.

    Class counts decay exponentially with the class rank, from the largest
    class ``n_max`` to ``n_max / ratio``: the class of rank ``i`` (of ``K``)
    keeps ``round(n_max * ratio ** (-i / (K - 1)))`` rows, with ``n_max`` as
    large as the data allows.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Pool rows (any trailing shape: tables, images, sequences).
    y : array-like of shape (n_samples,)
        True labels.
    ratio : float, default=10
        Imbalance ratio, size of the largest class over the smallest; ``1``
        balances the classes to the size of the smallest.
    class_order : array-like, default=None
        All the labels of ``y``, from the most to the least frequent in the
        result. ``None`` uses the sorted labels, so the first label is the
        head of the tail.
    random_state : int, RandomState instance or None, default=None
        Which rows of each class are kept.

    Returns
    -------
    X_new : ndarray of shape (n_kept, ...)
        Kept rows, in their original order.
    y_new : ndarray of shape (n_kept,)
        Their labels.
    source_index : ndarray of shape (n_kept,)
        Index into ``X`` of each kept row, to subset other arrays alike.

    See Also
    --------
    add_label_noise : Another way to make a pool harder.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.datasets import make_imbalanced
    >>> X, y = np.zeros((300, 2)), np.repeat([0, 1, 2], 100)
    >>> X_new, y_new, idx = make_imbalanced(X, y, ratio=4, random_state=0)
    >>> np.bincount(y_new).tolist()
    [100, 50, 25]
    """
    X, y = _check_X_y(X, y)
    classes, counts = np.unique(y, return_counts=True)
    if class_order is None:
        order, available = classes, counts
    else:
        order = np.asarray(class_order)
        if (
            order.ndim != 1
            or order.shape[0] != classes.shape[0]
            or not np.array_equal(np.sort(order), classes)
        ):
            raise ValueError(
                "class_order must list every label of y once; "
                f"got {order.tolist()} for the labels {classes.tolist()}."
            )
        available = counts[np.searchsorted(classes, order)]

    n_classes = order.shape[0]
    if n_classes == 1:
        target = available
    else:
        decay = float(ratio) ** (-np.arange(n_classes) / (n_classes - 1))
        n_max = np.floor(np.min(available / decay) + 1e-9)
        target = np.minimum(np.rint(n_max * decay), available).astype(np.intp)
        if target[-1] < 1:
            raise ValueError(
                f"ratio={ratio} is too large for this pool: the largest class can "
                f"keep at most {int(n_max)} rows, which leaves the smallest class "
                f"fewer than 1. Use ratio <= {int(n_max)} or a larger pool."
            )

    rng = check_random_state(random_state)
    kept = [
        rng.choice(np.flatnonzero(y == label), size=k, replace=False)
        for label, k in zip(order, target)
    ]
    source_index = np.sort(np.concatenate(kept)).astype(np.intp)
    return X[source_index], y[source_index], source_index


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "fraction": [Interval(Real, 0, 1, closed="left")],
        "kind": [StrOptions({"noise", "shuffle"})],
        "ood_label": [Integral, str],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def add_ood(
    X: ArrayLike,
    y: ArrayLike,
    *,
    fraction: float = 0.2,
    kind: str = "noise",
    ood_label: int | str = -2,
    random_state=None,
):
    """Append out-of-distribution rows to a pool.

    Simulates a pool polluted with inputs that belong to no class (blurry
    photos, other data sources). Uncertainty-based strategies are known to
    favour such rows; this measures how many labels they waste on them.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        In-distribution pool rows.
    y : array-like of shape (n_samples,)
        Their labels.
    fraction : float in [0, 1), default=0.2
        Share of out-of-distribution rows in the result:
        ``round(fraction * n_samples / (1 - fraction))`` rows are appended.
    kind : {"noise", "shuffle"}, default="noise"
        - ``"noise"``: Gaussian noise with each feature's mean and standard
          deviation in ``X``, clipped to the range of ``X``;
        - ``"shuffle"``: a random row of ``X`` with its features permuted
          (pixel-shuffled): same values, no structure.
    ood_label : int or str, default=-2
        Label the oracle gives an out-of-distribution row. It stands for an
        annotator answering "none of these classes": the query cost a label
        but taught nothing about the task. A learner or an evaluation should
        discard (or count) such answers; keeping them in training adds an
        extra class. ``-1`` is refused, as skal reads it as "unlabeled". To
        simulate an annotator forced to pick a class, combine with
        :func:`add_label_noise` instead.
    random_state : int, RandomState instance or None, default=None
        Noise values, shuffled rows and permutations.

    Returns
    -------
    X_new : ndarray of shape (n_samples + n_ood, ...)
        ``X`` followed by the out-of-distribution rows, in ``X``'s dtype.
    y_new : ndarray of shape (n_samples + n_ood,)
        ``y`` followed by ``ood_label`` for each appended row.
    is_ood : ndarray of bool of shape (n_samples + n_ood,)
        True for the appended rows.

    See Also
    --------
    add_near_duplicates : Pollute a pool with redundant rows instead.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.datasets import add_ood
    >>> X, y = np.random.RandomState(0).rand(80, 4), np.arange(80) % 2
    >>> X_new, y_new, is_ood = add_ood(X, y, fraction=0.2, random_state=0)
    >>> X_new.shape, float(is_ood.mean()), y_new[-1].item()
    ((100, 4), 0.2, -2)
    """
    X, y = _check_X_y(X, y)
    if not isinstance(ood_label, str) and ood_label == -1:
        raise ValueError(
            "ood_label must not be -1, which skal reads as 'unlabeled'; got -1. "
            "Use another value, e.g. the default -2."
        )
    n = X.shape[0]
    n_ood = int(round(fraction * n / (1 - fraction)))
    rng = check_random_state(random_state)
    flat = X.reshape(n, -1)
    if kind == "noise":
        flat_f = flat.astype(np.float64)
        mean, std = flat_f.mean(axis=0), flat_f.std(axis=0)
        ood = mean + std * rng.standard_normal((n_ood, flat.shape[1]))
        ood = np.clip(ood, flat_f.min(), flat_f.max())
    else:  # "shuffle"
        rows = rng.choice(n, size=n_ood, replace=n_ood > n)
        perms = np.argsort(rng.random_sample((n_ood, flat.shape[1])), axis=1)
        ood = np.take_along_axis(flat[rows], perms, axis=1)
    ood = _as_dtype_of(ood, X).reshape((n_ood,) + X.shape[1:])

    text_labels = y.dtype.kind in "US"
    if y.dtype.kind != "O" and isinstance(ood_label, str) != text_labels:
        raise TypeError(
            "ood_label must be of the same kind as the labels in y (a str for "
            f"text labels, an int otherwise); got {ood_label!r} for labels of "
            f"dtype {y.dtype}."
        )
    if np.can_cast(np.min_scalar_type(ood_label), y.dtype):
        y_dtype = y.dtype
    else:
        y_dtype = np.result_type(y.dtype, np.asarray(ood_label).dtype)
    X_new = np.concatenate([X, ood])
    y_new = np.concatenate([y.astype(y_dtype), np.full(n_ood, ood_label, y_dtype)])
    is_ood = np.zeros(n + n_ood, dtype=bool)
    is_ood[n:] = True
    return X_new, y_new, is_ood


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "fraction": [Interval(Real, 0, 1, closed="both")],
        "n_copies": [Count(1)],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def add_near_duplicates(
    X: ArrayLike,
    y: ArrayLike,
    *,
    fraction: float = 0.2,
    n_copies: int = 5,
    noise: float = 0.01,
    random_state=None,
):
    """Append noisy near-copies of some rows to a pool.

    Simulates heavy redundancy (video frames, scraped duplicates), where a
    strategy that scores rows one by one picks the same example many times
    over, while diversity-aware strategies do not.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Pool rows.
    y : array-like of shape (n_samples,)
        Their labels; copies keep the label of their source.
    fraction : float in [0, 1], default=0.2
        Share of the rows of ``X`` that are duplicated
        (``round(fraction * n_samples)`` rows, drawn without replacement).
    n_copies : int, default=5
        Near-copies appended for each duplicated row.
    noise : float, default=0.01
        Standard deviation of the Gaussian perturbation of a copy, relative to
        each feature's standard deviation in ``X`` (constant features stay
        constant); ``0`` makes exact copies.
    random_state : int, RandomState instance or None, default=None
        Which rows are duplicated and the perturbations.

    Returns
    -------
    X_new : ndarray of shape (n_samples + n_dup * n_copies, ...)
        ``X`` followed by the copies, in ``X``'s dtype.
    y_new : ndarray of shape (n_samples + n_dup * n_copies,)
        ``y`` followed by the copies' labels.
    source_index : ndarray of shape (n_samples + n_dup * n_copies,)
        Index into ``X`` of the row each row comes from (``i`` for the
        original row ``i``); ``source_index != np.arange(len(X_new))`` marks
        the copies.

    See Also
    --------
    add_ood : Pollute a pool with out-of-distribution rows instead.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.datasets import add_near_duplicates
    >>> X, y = np.random.RandomState(0).rand(50, 3), np.arange(50) % 2
    >>> X_new, y_new, src = add_near_duplicates(X, y, fraction=0.1, n_copies=4,
    ...                                         random_state=0)
    >>> X_new.shape, bool(np.all(y_new == y[src]))
    ((70, 3), True)
    """
    X, y = _check_X_y(X, y)
    n = X.shape[0]
    rng = check_random_state(random_state)
    sources = np.sort(rng.choice(n, size=int(round(fraction * n)), replace=False))
    rows = np.repeat(sources, n_copies)
    flat = X.reshape(n, -1).astype(np.float64)
    scale = noise * flat.std(axis=0)
    copies = flat[rows] + scale * rng.standard_normal((rows.shape[0], flat.shape[1]))
    copies = _as_dtype_of(copies, X).reshape((rows.shape[0],) + X.shape[1:])
    source_index = np.concatenate([np.arange(n), rows]).astype(np.intp)
    return np.concatenate([X, copies]), y[source_index], source_index


@validate_params(
    {
        "y": ["array-like"],
        "rate": [Interval(Real, 0, 1, closed="both")],
        "n_classes": [Count(2), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def add_label_noise(
    y: ArrayLike,
    *,
    rate: float = 0.2,
    n_classes: int | None = None,
    random_state=None,
):
    """Flip a share of the labels to another class, uniformly at random.

    Simulates annotator mistakes (symmetric label noise): the oracle then
    answers the noisy label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels. With integer labels, negative ones (skal's ``-1`` for
        unlabeled rows, :func:`add_ood`'s ``-2``) are never flipped and never
        a flip target.
    rate : float in [0, 1], default=0.2
        Share of the (eligible) labels to flip: exactly
        ``round(rate * n_eligible)`` labels, drawn without replacement.
    n_classes : int, default=None
        Flip among the labels ``0 .. n_classes - 1`` (integer ``y``). ``None``
        flips among the labels present in ``y``.
    random_state : int, RandomState instance or None, default=None
        Which labels flip and to what.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        Labels after flipping; a flipped label always differs from the
        original.
    flipped : ndarray of bool of shape (n_samples,)
        True where the label was flipped.

    See Also
    --------
    make_imbalanced : Another way to make a pool harder.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.datasets import add_label_noise
    >>> y = np.arange(100) % 4
    >>> y_noisy, flipped = add_label_noise(y, rate=0.2, random_state=0)
    >>> int(flipped.sum()), bool(np.all(y_noisy[flipped] != y[flipped]))
    (20, True)
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels; got shape {y.shape}.")
    integer = np.issubdtype(y.dtype, np.integer)
    eligible = np.flatnonzero(y >= 0) if integer else np.arange(y.shape[0])
    if n_classes is None:
        classes = np.unique(y[eligible])
    else:
        if not integer:
            raise ValueError(
                f"n_classes needs integer labels in y; got dtype {y.dtype}. "
                "Leave n_classes=None to flip among the labels present in y."
            )
        if eligible.size and y[eligible].max() >= n_classes:
            raise ValueError(
                f"n_classes={n_classes} is too small: y holds the label "
                f"{y[eligible].max()}. Expected labels in [0, {n_classes - 1}]."
            )
        classes = np.arange(n_classes, dtype=y.dtype)

    n_flip = int(round(rate * eligible.size))
    if n_flip and classes.size < 2:
        raise ValueError(
            "add_label_noise needs at least 2 classes to flip a label to another; "
            f"got {classes.size} ({classes.tolist()}). Pass n_classes to name "
            "the classes absent from y."
        )
    rng = check_random_state(random_state)
    rows = rng.choice(eligible, size=n_flip, replace=False)
    own = np.searchsorted(classes, y[rows])
    other = rng.randint(0, max(classes.size - 1, 1), size=n_flip)
    other = other + (other >= own)  # skip the row's own class
    y_noisy = y.copy()
    y_noisy[rows] = classes[other]
    flipped = np.zeros(y.shape[0], dtype=bool)
    flipped[rows] = True
    return y_noisy, flipped
