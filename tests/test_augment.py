"""skal.augment: shape-preserving, seeded, weak weaker than strong."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from skal.augment import ImageAugment, SignalAugment, TabularAugment

SHAPES = {
    SignalAugment: st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(8, 64)),
    ImageAugment: st.tuples(
        st.integers(1, 4), st.integers(1, 3), st.integers(8, 16), st.integers(8, 16)
    ),
    TabularAugment: st.tuples(st.integers(1, 8), st.integers(1, 10)),
}


@pytest.mark.parametrize("cls", list(SHAPES))
@pytest.mark.parametrize("strength", ["weak", "strong"])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_shape_dtype_and_seeding(cls, strength, data):
    shape = data.draw(SHAPES[cls])
    X = torch.randn(shape)
    aug = cls(strength)
    a = aug(X, generator=torch.Generator().manual_seed(5))
    b = aug(X, generator=torch.Generator().manual_seed(5))
    assert a.shape == X.shape and a.dtype == X.dtype
    torch.testing.assert_close(a, b)  # same generator state: same batch
    assert torch.isfinite(a).all()


@pytest.mark.parametrize("cls", list(SHAPES))
def test_random_state_makes_the_sequence_reproducible(cls):
    X = torch.rand((4, 1, 16, 16) if cls is ImageAugment else (4, 1, 32))
    if cls is TabularAugment:
        X = torch.rand(16, 6)
    one, two = cls("strong", random_state=3), cls("strong", random_state=3)
    first = [one(X), one(X)]
    second = [two(X), two(X)]
    for x, y in zip(first, second):
        torch.testing.assert_close(x, y)
    assert not torch.equal(first[0], first[1])  # the sequence moves on


@pytest.mark.parametrize("cls", list(SHAPES))
def test_strong_moves_the_batch_further_than_weak(cls):
    gen = torch.Generator().manual_seed(0)
    if cls is ImageAugment:
        X = torch.rand(64, 1, 16, 16, generator=gen)
    elif cls is SignalAugment:  # smooth signals: a shift of white noise is new noise
        freq = 1 + torch.rand(64, 1, 1, generator=gen)
        X = torch.sin(torch.linspace(0, 6.28, 40) * freq)
    else:
        X = torch.randn(64, 12, generator=gen)
    weak = (cls("weak", random_state=0)(X) - X).pow(2).mean()
    strong = (cls("strong", random_state=0)(X) - X).pow(2).mean()
    assert 0 < weak < strong


def test_signal_shift_is_a_circular_roll():
    X = torch.arange(10.0).reshape(1, 10)
    aug = SignalAugment(shift=3, scale=0.0, noise=0.0, time_warp=0.0, cutout=0.0)
    out = aug(X, generator=torch.Generator().manual_seed(0))
    k = int((out[0, 0] - X[0, 0]).item()) % 10
    torch.testing.assert_close(out, torch.roll(X, shifts=-k % 10 if k else 0, dims=1))
    assert sorted(out[0].tolist()) == X[0].tolist()


@settings(max_examples=20, deadline=None)
@given(rate=st.floats(0, 1), n=st.integers(2, 30), d=st.integers(1, 8))
def test_scarf_draws_from_each_features_marginal(rate, n, d):
    X = torch.randn(n, d)
    out = TabularAugment(corruption=rate, random_state=0)(X)
    for j in range(d):
        assert torch.isin(out[:, j], X[:, j]).all()
    if rate == 0:
        torch.testing.assert_close(out, X)


def test_parameters_are_validated_and_named():
    with pytest.raises(ValueError, match="'strength' parameter of SignalAugment"):
        SignalAugment("medium")(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="'corruption' parameter"):
        TabularAugment(corruption=2.0)(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="takes a torch.Tensor"):
        SignalAugment()(np.zeros((2, 8)))


def test_clone_and_empty_batch():
    aug = SignalAugment("strong", noise=0.5, random_state=1)
    c = clone(aug)
    assert c.get_params() == aug.get_params()
    assert SignalAugment()(torch.zeros(0, 8)).shape == (0, 8)
