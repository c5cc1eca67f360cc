import random
import socket
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils import Bunch

from skal.datasets import (
    add_label_noise,
    add_near_duplicates,
    add_ood,
    load_digits_images,
    make_imbalanced,
    make_mnist1d,
)


@pytest.fixture
def pool():
    """A small labeled pool: 10 classes of 40 rows, image-shaped."""
    rng = np.random.RandomState(0)
    X = rng.rand(400, 1, 4, 4).astype(np.float32)
    y = np.repeat(np.arange(10), 40)
    return X, y


# --------------------------------------------------------------------------
# load_digits_images
# --------------------------------------------------------------------------


def test_load_digits_images_bunch():
    data = load_digits_images()
    assert isinstance(data, Bunch)
    assert data.data.shape == (1797, 1, 8, 8) and data.data.dtype == np.float32
    assert data.target.shape == (1797,) and data.target.dtype == np.int64
    assert data.data.min() == 0.0 and data.data.max() == 1.0
    np.testing.assert_array_equal(data.target_names, np.arange(10))
    assert "digits" in data.DESCR


def test_load_digits_images_return_X_y_and_n_class():
    X, y = load_digits_images(n_class=3, return_X_y=True)
    assert X.shape[1:] == (1, 8, 8) and len(X) == len(y)
    assert set(np.unique(y)) == {0, 1, 2}


def test_load_digits_images_error():
    with pytest.raises(ValueError, match="The 'n_class' parameter of load_digits"):
        load_digits_images(n_class=11)


# --------------------------------------------------------------------------
# make_mnist1d
# --------------------------------------------------------------------------


def test_make_mnist1d_shapes_and_dtypes():
    data = make_mnist1d(100, random_state=0)
    assert data.data.shape == (100, 1, 40) and data.data.dtype == np.float32
    assert data.target.shape == (100,) and data.target.dtype == np.int64
    assert data.t.shape == (40,)
    np.testing.assert_array_equal(np.unique(data.target), np.arange(10))
    np.testing.assert_array_equal(np.bincount(data.target), 10)


def test_make_mnist1d_deterministic_and_seed_dependent():
    X0, y0 = make_mnist1d(60, random_state=3, return_X_y=True)
    X1, y1 = make_mnist1d(60, random_state=3, return_X_y=True)
    X2, _ = make_mnist1d(60, random_state=4, return_X_y=True)
    np.testing.assert_array_equal(X0, X1)
    np.testing.assert_array_equal(y0, y1)
    assert not np.allclose(X0, X2)
    X3, _ = make_mnist1d(60, random_state=np.random.RandomState(3), return_X_y=True)
    X4, _ = make_mnist1d(60, random_state=np.random.RandomState(3), return_X_y=True)
    np.testing.assert_array_equal(X3, X4)


def test_make_mnist1d_any_size():
    X, y = make_mnist1d(37, random_state=0, return_X_y=True)
    assert X.shape == (37, 1, 40) and y.shape == (37,)
    X, y = make_mnist1d(1, random_state=0, return_X_y=True)
    assert X.shape == (1, 1, 40)


def test_make_mnist1d_matches_mnist1d_make_dataset():
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = 200, 7
    ref = make_dataset(args)
    X, y = make_mnist1d(200, random_state=7, return_X_y=True)
    # mnist1d's train split is the first 80 %
    np.testing.assert_allclose(X[:160, 0], ref["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y[160:], ref["y_test"])


def test_make_mnist1d_leaves_global_generators_alone():
    # mnist1d seeds the legacy global generators, which is what is checked here
    np_before, py_before = np.random.get_state(), random.getstate()  # noqa: NPY002
    make_mnist1d(20, random_state=0)
    np_after, py_after = np.random.get_state(), random.getstate()  # noqa: NPY002
    np.testing.assert_array_equal(np_after[1], np_before[1])
    assert np_after[2:] == np_before[2:] and py_after == py_before


def test_make_mnist1d_dataset_args():
    data = make_mnist1d(20, dataset_args={"final_seq_length": 60}, random_state=0)
    assert data.data.shape == (20, 1, 60) and data.t.shape == (60,)
    plain, _ = make_mnist1d(20, random_state=0, return_X_y=True)
    shuffled, _ = make_mnist1d(
        20, dataset_args={"shuffle_seq": True}, random_state=0, return_X_y=True
    )
    assert not np.allclose(plain, shuffled)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(dataset_args={"seed": 1}),
            r"dataset_args got unexpected key\(s\) \['seed'\]; expected keys among",
        ),
        (dict(dataset_args={"nosie": 1}), r"unexpected key\(s\) \['nosie'\]"),
        (dict(n_samples=0), "The 'n_samples' parameter of make_mnist1d must be"),
    ],
)
def test_make_mnist1d_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_mnist1d(**kwargs)


def test_make_mnist1d_never_downloads(monkeypatch, tmp_path):
    import mnist1d.data

    def no_network(*args, **kwargs):
        raise AssertionError("make_mnist1d must not touch the network")

    monkeypatch.setattr(mnist1d.data, "get_dataset", no_network)
    monkeypatch.setattr(mnist1d.data.requests, "get", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.chdir(tmp_path)
    X, y = make_mnist1d(30, random_state=0, return_X_y=True)
    assert X.shape == (30, 1, 40)
    assert list(tmp_path.iterdir()) == []  # no cached pickle written either


# --------------------------------------------------------------------------
# make_imbalanced
# --------------------------------------------------------------------------


def test_make_imbalanced_achieves_ratio(pool):
    X, y = pool
    X_new, y_new, idx = make_imbalanced(X, y, ratio=10, random_state=0)
    counts = np.bincount(y_new)
    assert counts[0] == 40 and counts[-1] == 4
    assert counts.max() / counts.min() == pytest.approx(10)
    assert np.all(np.diff(counts) <= 0)  # decays with the label
    np.testing.assert_array_equal(X_new, X[idx])
    np.testing.assert_array_equal(y_new, y[idx])
    assert np.all(np.diff(idx) > 0)  # original order, no repeats


def test_make_imbalanced_respects_class_order_and_availability(pool):
    X, y = pool
    keep = (y != 5) | (np.arange(len(y)) % 4 == 0)  # class 5 has only 10 rows
    order = [5, 0, 1, 2, 3, 4, 6, 7, 8, 9]
    _, y_new, _ = make_imbalanced(
        X[keep], y[keep], ratio=5, class_order=order, random_state=0
    )
    counts = np.bincount(y_new)[order]
    assert counts[0] == 10 and counts[-1] == 2
    assert np.all(np.diff(counts) <= 0)


def test_make_imbalanced_ratio_one_balances(pool):
    X, y = pool
    _, y_new, _ = make_imbalanced(X[5:], y[5:], ratio=1, random_state=0)
    np.testing.assert_array_equal(np.bincount(y_new), 35)


def test_make_imbalanced_deterministic(pool):
    X, y = pool
    a = make_imbalanced(X, y, ratio=3, random_state=0)[2]
    b = make_imbalanced(X, y, ratio=3, random_state=0)[2]
    c = make_imbalanced(X, y, ratio=3, random_state=1)[2]
    np.testing.assert_array_equal(a, b)
    assert len(a) == len(c) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ratio=0.5), r"The 'ratio' parameter of make_imbalanced must be .*\[1"),
        (
            dict(ratio=100),
            "ratio=100 is too large for this pool: the largest class can keep at "
            "most 40 rows.*Use ratio <= 40",
        ),
        (
            dict(class_order=[0, 1, 2]),
            r"class_order must list every label of y once; got \[0, 1, 2\]",
        ),
        (
            dict(class_order=[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
            "class_order must list every label of y once",
        ),
    ],
)
def test_make_imbalanced_errors(pool, kwargs, match):
    X, y = pool
    with pytest.raises(ValueError, match=match):
        make_imbalanced(X, y, **kwargs)


def test_pool_transforms_check_X_y_lengths(pool):
    X, y = pool
    for func in (make_imbalanced, add_ood, add_near_duplicates):
        with pytest.raises(
            ValueError,
            match="X and y must have the same number of rows; got 400 and 399",
        ):
            func(X, y[:-1])
    with pytest.raises(ValueError, match=r"X must be an array of shape \(n_samples"):
        add_ood(np.arange(5.0), np.arange(5))


# --------------------------------------------------------------------------
# add_ood
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["noise", "shuffle"])
def test_add_ood_fraction_is_exact(pool, kind):
    X, y = pool
    X_new, y_new, is_ood = add_ood(X, y, fraction=0.2, kind=kind, random_state=0)
    assert X_new.shape == (500, 1, 4, 4) and X_new.dtype == X.dtype
    assert is_ood.sum() == 100 and is_ood.mean() == 0.2
    np.testing.assert_array_equal(X_new[~is_ood], X)
    np.testing.assert_array_equal(y_new[~is_ood], y)
    np.testing.assert_array_equal(y_new[is_ood], -2)
    assert y_new.dtype == y.dtype


def test_add_ood_noise_matches_feature_moments():
    rng = np.random.RandomState(0)
    X = rng.normal(loc=[0.0, 5.0, -3.0], scale=[1.0, 0.5, 2.0], size=(2000, 3))
    X_new, _, is_ood = add_ood(X, np.zeros(2000, int), fraction=0.5, random_state=0)
    ood = X_new[is_ood]
    np.testing.assert_allclose(ood.mean(0), X.mean(0), atol=0.15)
    np.testing.assert_allclose(ood.std(0), X.std(0), rtol=0.1)
    assert ood.min() >= X.min() and ood.max() <= X.max()


def test_add_ood_shuffle_keeps_values_of_a_source_row(pool):
    X, y = pool
    X_new, _, is_ood = add_ood(X, y, fraction=0.1, kind="shuffle", random_state=0)
    flat = np.sort(X.reshape(len(X), -1), axis=1)
    for row in X_new[is_ood].reshape(int(is_ood.sum()), -1):
        assert np.any(np.all(flat == np.sort(row), axis=1))
        assert not np.any(np.all(X.reshape(len(X), -1) == row, axis=1))


def test_add_ood_labels_and_determinism(pool):
    X, y = pool
    a = add_ood(X, y, fraction=0.3, random_state=1)
    b = add_ood(X, y, fraction=0.3, random_state=1)
    c = add_ood(X, y, fraction=0.3, random_state=2)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0][a[2]], c[0][c[2]])
    _, y_str, _ = add_ood(X, y.astype(str), ood_label="ood", random_state=0)
    assert y_str[-1] == "ood"
    X0, y0, ood0 = add_ood(X, y, fraction=0.0)
    assert X0.shape == X.shape and not ood0.any()


def test_add_ood_label_kind_mismatch(pool):
    X, y = pool
    with pytest.raises(TypeError, match="ood_label must be of the same kind as"):
        add_ood(X, y, ood_label="ood")
    with pytest.raises(TypeError, match="a str for text labels"):
        add_ood(X, y.astype(str), ood_label=-2)
    _, y_obj, _ = add_ood(X, y.astype(object), ood_label="ood", random_state=0)
    assert y_obj[0] == 0 and y_obj[-1] == "ood"


def test_add_ood_integer_X_keeps_dtype():
    X = np.random.RandomState(0).randint(0, 17, size=(40, 6))
    X_new, _, _ = add_ood(X, np.zeros(40, int), fraction=0.5, random_state=0)
    assert X_new.dtype == X.dtype and X_new.min() >= 0 and X_new.max() <= 16


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ood_label=-1), "ood_label must not be -1, which skal reads as"),
        (dict(fraction=1.0), r"The 'fraction' parameter of add_ood must be .*\[0"),
        (dict(kind="gauss"), "The 'kind' parameter of add_ood must be a str among"),
    ],
)
def test_add_ood_errors(pool, kwargs, match):
    X, y = pool
    with pytest.raises(ValueError, match=match):
        add_ood(X, y, **kwargs)


# --------------------------------------------------------------------------
# add_near_duplicates
# --------------------------------------------------------------------------


def test_add_near_duplicates_are_near_their_sources(pool):
    X, y = pool
    X_new, y_new, src = add_near_duplicates(
        X, y, fraction=0.25, n_copies=4, noise=0.01, random_state=0
    )
    assert X_new.shape == (400 + 100 * 4, 1, 4, 4) and X_new.dtype == X.dtype
    np.testing.assert_array_equal(src[:400], np.arange(400))
    np.testing.assert_array_equal(y_new, y[src])
    copies = src != np.arange(len(X_new))
    assert copies.sum() == 400
    assert np.all(np.bincount(src[copies]) <= 4)
    assert len(np.unique(src[copies])) == 100
    flat, flat_new = X.reshape(400, -1), X_new.reshape(len(X_new), -1)
    dist_to_source = np.linalg.norm(flat_new[copies] - flat[src[copies]], axis=1)
    typical = np.linalg.norm(flat[1:] - flat[:-1], axis=1)
    assert dist_to_source.max() < 0.1 * typical.min()
    assert dist_to_source.min() > 0  # near, not exact


def test_add_near_duplicates_exact_copies_and_determinism(pool):
    X, y = pool
    X_new, _, src = add_near_duplicates(X, y, noise=0, random_state=0)
    np.testing.assert_array_equal(X_new, X[src])
    a = add_near_duplicates(X, y, random_state=5)
    b = add_near_duplicates(X, y, random_state=5)
    c = add_near_duplicates(X, y, random_state=6)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[2], c[2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_copies=0), "The 'n_copies' parameter of add_near_duplicates must"),
        (dict(noise=-0.1), "The 'noise' parameter of add_near_duplicates must"),
        (dict(fraction=1.5), "The 'fraction' parameter of add_near_duplicates must"),
    ],
)
def test_add_near_duplicates_errors(pool, kwargs, match):
    X, y = pool
    with pytest.raises(ValueError, match=match):
        add_near_duplicates(X, y, **kwargs)


# --------------------------------------------------------------------------
# add_label_noise
# --------------------------------------------------------------------------


def test_add_label_noise_rate_and_flips(pool):
    _, y = pool
    y_noisy, flipped = add_label_noise(y, rate=0.25, random_state=0)
    assert flipped.sum() == 100
    assert np.all(y_noisy[flipped] != y[flipped])
    np.testing.assert_array_equal(y_noisy[~flipped], y[~flipped])
    assert set(np.unique(y_noisy)) <= set(range(10))
    assert y_noisy.dtype == y.dtype
    # the flips spread over the other classes
    assert len(np.unique(y_noisy[flipped])) == 10


def test_add_label_noise_skips_negative_labels_and_uses_n_classes():
    y = np.array([-1, -2, 0, 0, 0, 0, -1, 0])
    y_noisy, flipped = add_label_noise(y, rate=1.0, n_classes=3, random_state=0)
    np.testing.assert_array_equal(flipped, y >= 0)
    np.testing.assert_array_equal(y_noisy[y < 0], y[y < 0])
    assert set(y_noisy[flipped]) <= {1, 2}


def test_add_label_noise_string_labels_and_determinism():
    y = np.array(["cat", "dog"] * 20)
    y_noisy, flipped = add_label_noise(y, rate=0.5, random_state=0)
    assert flipped.sum() == 20 and np.all(y_noisy[flipped] != y[flipped])
    again, _ = add_label_noise(y, rate=0.5, random_state=0)
    other, _ = add_label_noise(y, rate=0.5, random_state=1)
    np.testing.assert_array_equal(y_noisy, again)
    assert not np.array_equal(y_noisy, other)


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        ([0, 1], dict(rate=1.5), "The 'rate' parameter of add_label_noise must"),
        (
            [0, 1, 4],
            dict(n_classes=3),
            r"n_classes=3 is too small: y holds the label 4. Expected labels in "
            r"\[0, 2\]",
        ),
        ([0, 0, 0], dict(rate=0.5), "needs at least 2 classes .* got 1 \\(\\[0\\]\\)"),
        (["a", "b"], dict(n_classes=2), "n_classes needs integer labels in y"),
        ([[0, 1]], dict(), r"y must be a 1-D array of labels; got shape \(1, 2\)"),
    ],
)
def test_add_label_noise_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        add_label_noise(np.asarray(y), **kwargs)


@settings(deadline=None, max_examples=100)
@given(
    y=st.lists(st.integers(-2, 5), min_size=1, max_size=200),
    rate=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_add_label_noise_property(y, rate, seed):
    y = np.asarray(y)
    labeled = y >= 0
    if len(np.unique(y[labeled])) < 2:
        y_noisy, flipped = add_label_noise(y, rate=rate, n_classes=6, random_state=seed)
    else:
        y_noisy, flipped = add_label_noise(y, rate=rate, random_state=seed)
    assert flipped.sum() == round(rate * labeled.sum())
    assert not flipped[~labeled].any()
    assert np.all(y_noisy[flipped] != y[flipped])
    np.testing.assert_array_equal(y_noisy[~flipped], y[~flipped])


@settings(deadline=None, max_examples=50)
@given(
    counts=st.lists(st.integers(20, 60), min_size=2, max_size=6),
    ratio=st.floats(1, 10),
    seed=st.integers(0, 2**31),
)
def test_make_imbalanced_property(counts, ratio, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y), dtype=float).reshape(-1, 1)
    X_new, y_new, idx = make_imbalanced(X, y, ratio=ratio, random_state=seed)
    new_counts = np.bincount(y_new, minlength=len(counts))
    assert np.all(new_counts <= counts) and np.all(np.diff(new_counts) <= 0)
    # rounding of the smallest class bounds how close the ratio can get
    smallest = new_counts[-1]
    assert new_counts[0] / smallest == pytest.approx(ratio, abs=ratio / smallest)
    np.testing.assert_array_equal(X_new[:, 0], idx)
