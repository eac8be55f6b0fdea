import numpy as np
import pytest

import nnfast as nf


@pytest.fixture(scope="session")
def digits():
    """(X_train, X_val, X_test, y_train, y_val, y_test) of the bundled digits, split once."""
    X, y = nf.data.load_digits()
    return nf.data.train_val_test_split(X, y, val_size=0.2, test_size=0.2, seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def regression_data(n=600, seed=0, dtype=np.float64):
    """A smooth nonlinear target of 4 features, with a little noise."""
    r = np.random.default_rng(seed)
    X = r.uniform(-2, 2, size=(n, 4))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - X[:, 2] * X[:, 3] + 0.05 * r.normal(size=n)
    return X.astype(dtype), y.astype(dtype)
