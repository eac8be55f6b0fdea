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


def crafted_study(trials, name=None, **settings):
    """An in-memory nnfast study of completed trials given as (score, score_se, seconds),
    maximising val_accuracy (``settings`` added to its recorded settings)."""
    import optuna

    from nnfast.tune.study import RESULT_ATTR, SETTINGS_ATTR, Study

    study = optuna.create_study(direction="maximize", study_name=name)
    study.set_user_attr(SETTINGS_ATTR, {"objective": "val_accuracy", "sign": 1.0, "strategy": "random",
                                        "n_trials": len(trials), **settings})
    for number, (score, se, seconds) in enumerate(trials):
        study.add_trial(optuna.trial.create_trial(
            value=score, params={}, distributions={},
            user_attrs={RESULT_ATTR: {"searched": {"lr": 0.01 * (number + 1)}, "score": score, "score_se": se,
                                      "seconds": seconds, "epochs": 10, "stop_reason": "max_epochs",
                                      "history": {}}}))
    return Study(study)
