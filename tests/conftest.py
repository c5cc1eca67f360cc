import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification

from skal.utils._testing import MLP, SmallCNN, make_net


@pytest.fixture(autouse=True)
def _seed_everything():
    import torch

    np.random.seed(0)  # noqa: NPY002 - tests that use the legacy global RNG
    torch.manual_seed(0)


@pytest.fixture
def tabular():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    return X.astype(np.float32), y


@pytest.fixture
def digits_images():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)[:600], y[:600]


@pytest.fixture
def small_net():
    return make_net(MLP, n_classes=3, max_epochs=5)


@pytest.fixture
def small_cnn():
    return make_net(SmallCNN, n_classes=10, max_epochs=3)
