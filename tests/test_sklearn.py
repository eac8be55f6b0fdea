"""nnfast.sklearn: the estimators inside scikit-learn's own machinery."""

import dataclasses
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import nnfast as nf  # noqa: E402
from nnfast.sklearn import NNClassifier, NNRegressor  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = nf.data.load_digits()
    return X[:600], y[:600]


def test_parameters_are_the_hyperparameter_fields():
    est = NNClassifier(hidden=(32,), lr=3e-3)
    params = est.get_params()
    assert set(params) == {f.name for f in dataclasses.fields(nf.Hyperparameters)}
    assert params["hidden"] == (32,) and params["lr"] == 3e-3 and params["epochs"] == nf.Hyperparameters().epochs
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    assert est.set_params(epochs=7).epochs == 7
    with pytest.raises(TypeError, match="unknown parameter"):
        NNClassifier(learning_rate=0.1)
    with pytest.raises(ValueError):
        est.set_params(no_such_thing=1)


def test_grid_search_over_a_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), NNClassifier(epochs=15, batch_size=32, seed=0))
    search = GridSearchCV(pipe, {"nnclassifier__lr": [1e-3, 1e-2], "nnclassifier__hidden": [(16,), (64,)]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.85
    assert len(search.cv_results_["params"]) == 4
    assert search.score(X, y) > 0.9


def test_classifier_labels_probabilities_and_score(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    est = NNClassifier(hidden=(64,), epochs=20, standardize=True).fit(X, names)
    assert list(est.classes_) == sorted(set(names))
    assert est.n_features_in_ == 64
    assert set(est.predict(X[:20])) <= set(names)
    proba = est.predict_proba(X[:20])
    assert proba.shape == (20, 10) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert est.score(X, names) > 0.95
    assert est.history_.epochs == 20


def test_a_column_of_labels_warns_and_fits_as_1d(digits):
    from sklearn.exceptions import DataConversionWarning

    X, y = digits
    flat = NNClassifier(hidden=(16,), epochs=3).fit(X, y)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = NNClassifier(hidden=(16,), epochs=3).fit(X, y[:, None])
    np.testing.assert_array_equal(column.predict_proba(X), flat.predict_proba(X))
    with pytest.warns(DataConversionWarning):  # a list of one-element lists too
        NNClassifier(hidden=(16,), epochs=1).fit(X, [[label] for label in y])


def test_binary_float_labels_still_classify():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)  # 0.0 / 1.0: "auto" alone would call this regression
    est = NNClassifier(hidden=(16,), epochs=30, lr=1e-2).fit(X, y)
    assert est.hyperparameters(y).loss == "binary_cross_entropy"
    assert list(est.classes_) == [0.0, 1.0] and est.score(X, y) > 0.9


def test_regressor_in_cross_validation():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 4))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2]
    scores = cross_val_score(NNRegressor(hidden=(64,), epochs=60, lr=3e-3, seed=1), X, y, cv=3)
    assert scores.mean() > 0.8


def test_bad_values_raise_at_fit_and_unfitted_use_is_refused(digits):
    X, y = digits
    est = NNClassifier(lr=-1.0)  # made without checks, as scikit-learn expects
    with pytest.raises(ValueError, match="lr"):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        NNClassifier().predict(X)
    with pytest.raises(ValueError, match="continuous"):
        NNClassifier().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="target y is None"):
        NNRegressor().fit(X, None)
    fitted = NNClassifier(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 10 features, but NNClassifier is expecting 64"):
        fitted.predict(X[:, :10])


def test_fitted_estimator_pickles_through_the_model_file(digits):
    X, y = digits
    est = NNClassifier(hidden=(32,), epochs=5, standardize=True).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.get_params() == est.get_params()
