"""nnfast.sklearn: the estimators inside scikit-learn's own machinery."""

import dataclasses
import inspect
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import nnfast as nf  # noqa: E402
from nnfast.sklearn import NNClassifier, NNRegressor, expected_failed_checks  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = nf.data.load_digits()
    return X[:600], y[:600]


def test_parameters_are_the_hyperparameter_fields():
    est = NNClassifier(hidden=(32,), lr=3e-3)
    params = est.get_params()
    assert set(params) == {f.name for f in dataclasses.fields(nf.Hyperparameters)} | {"random_state", "warm_start"}
    assert params["random_state"] is None and params["warm_start"] is False
    assert params["hidden"] == (32,) and params["lr"] == 3e-3 and params["epochs"] == nf.Hyperparameters().epochs
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    assert est.set_params(epochs=7).epochs == 7
    with pytest.raises(TypeError, match="unexpected keyword argument .learning_rate."):
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
    back.set_params(warm_start=True).fit(X, y)  # the model goes on; its optimizer state was not pickled
    assert back.model_._net.steps == 5 * 19 and list(back.classes_) == list(est.classes_)


# --- scikit-learn's conventions in full -------------------------------------------------------

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def frame(digits):
    X, y = digits
    return pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])]), y


def test_feature_names_are_recorded_and_reordered_or_renamed_columns_refused(frame):
    """Predicting on the digits frame with its columns reversed ran silently (26% agreement)."""
    X, y = frame
    est = NNClassifier(hidden=(16,), epochs=3).fit(X, y)
    assert list(est.feature_names_in_) == list(X.columns) and est.n_features_in_ == 64
    with pytest.raises(ValueError, match="Feature names must be in the same order as they were in fit"):
        est.predict(X[X.columns[::-1]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        est.predict_proba(X.rename(columns={"px0": "pixel0"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names, but NNClassifier was fitted with"):
        est.predict(X.to_numpy())
    plain = NNRegressor(hidden=(8,), epochs=2).fit(X.to_numpy(), y.astype(float))
    assert not hasattr(plain, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but NNRegressor was fitted without feature names"):
        plain.predict(X)


def test_nnfasts_reading_of_frames_and_its_messages_stay(frame):
    X, y = frame
    nullable = X.astype("Float64").assign(px0=X["px0"] > 0)  # a bool column next to nullable floats
    est = NNClassifier(hidden=(8,), epochs=2).fit(nullable, y)
    np.testing.assert_array_equal(est.predict_proba(nullable),
                                  NNClassifier(hidden=(8,), epochs=2).fit(nullable.astype(float), y)
                                  .predict_proba(nullable.astype(float)))
    missing = nullable.copy()
    missing.loc[3, "px5"] = pd.NA
    with pytest.raises(ValueError, match=r"^X has missing values \(NaN, NA or None\) in column 'px5'"):
        NNClassifier(epochs=1).fit(missing, y)
    with pytest.raises(ValueError, match=r"^X has missing values \(NaN, NA or None\) in column 'px5'"):
        est.predict(missing)
    with pytest.raises(TypeError, match="column 'px1' is categorical"):
        est.predict(nullable.assign(px1=nullable["px1"].astype("category")))


def test_warm_start_continues_with_the_optimizer_state(digits):
    """warm_start=True: 5 + 5 epochs are one 10-epoch run bit for bit, Adam's moments and step
    count kept (scikit-learn's MLP starts its optimizer again)."""
    X, y = digits
    settings = dict(hidden=(16,), batch_size=64, standardize=True, dropout=0.1, seed=3)
    warm = NNClassifier(epochs=5, warm_start=True, **settings).fit(X, y)
    first = warm.model_
    assert first._net.steps == 5 * 10  # 600 rows in batches of 64
    costs = list(warm.history_["loss"])
    warm.fit(X, y)
    assert warm.model_ is first and first._net.steps == 10 * 10  # the step count behind the bias correction went on
    whole = NNClassifier(epochs=10, **settings).fit(X, y)
    np.testing.assert_array_equal(warm.model_._flat_params(), whole.model_._flat_params())
    assert costs + list(warm.history_["loss"]) == list(whole.history_["loss"])  # the same trajectory, epoch by epoch
    cold = NNClassifier(epochs=5, **settings).fit(X, y)
    cold.fit(X, y)  # without warm_start, a fit starts afresh
    assert cold.model_._net.steps == 5 * 10
    restarted = NNClassifier(epochs=5, **settings).fit(X, y)
    np.testing.assert_array_equal(cold.model_._flat_params(), restarted.model_._flat_params())
    with pytest.raises(ValueError, match="labels not seen in training: \\[10\\]"):
        warm.fit(X, np.where(y == 9, 10, y))
    with pytest.raises(ValueError, match="X has 10 features, but NNClassifier is expecting 64"):
        warm.fit(X[:, :10], y)
    with pytest.raises(ValueError, match=r"fit with warm_start=True continues the fitted network, but hidden=\(8,\) "
                                         r"\(fitted with \(16,\)\), standardize=False \(fitted with True\); set "
                                         r"warm_start=False"):
        warm.set_params(hidden=(8,), standardize=False).fit(X, y)
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        NNClassifier(warm_start="yes").fit(X, y)


def test_partial_fit_is_one_epoch_of_one_run(digits):
    X, y = digits
    settings = dict(hidden=(16,), batch_size=64, seed=2)
    parts = NNClassifier(**settings)
    for _ in range(3):
        parts.partial_fit(X, y, classes=np.arange(10))
    whole = NNClassifier(epochs=3, **settings).fit(X, y)
    np.testing.assert_array_equal(parts.model_._flat_params(), whole.model_._flat_params())
    assert parts.history_.epochs == 1 and parts.n_features_in_ == 64

    reg = NNRegressor(**settings)
    for _ in range(3):
        reg.partial_fit(X, y.astype(float))
    np.testing.assert_array_equal(reg.predict(X), NNRegressor(epochs=3, **settings).fit(X, y.astype(float)).predict(X))
    with pytest.raises(ValueError, match="X has 10 features, but NNRegressor is expecting 64"):
        reg.partial_fit(X[:, :10], y.astype(float))


def test_partial_fit_on_parts_holding_some_classes(digits):
    """partial_fit on a part with 2 of 10 classes re-guessed a binary loss and failed."""
    X, y = digits
    est = NNClassifier(hidden=(16,), lr=1e-2, seed=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        est.partial_fit(X, y)
    for pair in np.arange(10).reshape(5, 2):
        part = np.isin(y, pair)
        est.partial_fit(X[part], y[part], classes=np.arange(10) if pair[0] == 0 else None)
    assert list(est.classes_) == list(range(10)) and est.model_.loss == "cross_entropy"
    assert est.predict_proba(X).shape == (600, 10)
    with pytest.raises(ValueError, match=r"labels not seen in training: \[11\]"):
        est.partial_fit(X[:5], [1, 2, 11, 3, 4])
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] are not the model's classes"):
        est.partial_fit(X, y, classes=[0, 1, 2])
    two = NNClassifier(hidden=(8,)).partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    assert two.model_.loss == "binary_cross_entropy"
    with pytest.raises(ValueError, match=r"labels not seen in training: \[2\]"):
        NNClassifier().partial_fit(X[y < 3], y[y < 3], classes=[0, 1])
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported for partial_fit"):
        NNClassifier(class_weight="balanced").partial_fit(X, y, classes=np.arange(10))


def test_class_weight_is_a_weight_per_row(digits):
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = digits
    settings = dict(hidden=(16,), epochs=3, dtype="float64")
    weighted = NNClassifier(class_weight={0: 3.0, 7: 0.5}, **settings).fit(X, y)
    rows = NNClassifier(**settings).fit(X, y, sample_weight=np.select([y == 0, y == 7], [3.0, 0.5], 1.0))
    np.testing.assert_array_equal(weighted.predict_proba(X), rows.predict_proba(X))
    balanced = NNClassifier(class_weight="balanced", **settings).fit(X[:500], y[:500])
    as_rows = NNClassifier(**settings).fit(X[:500], y[:500], sample_weight=compute_sample_weight("balanced", y[:500]))
    np.testing.assert_allclose(balanced.predict_proba(X), as_rows.predict_proba(X), rtol=1e-12)
    assert not np.array_equal(balanced.predict_proba(X), NNClassifier(**settings).fit(X[:500], y[:500])
                              .predict_proba(X))
    with pytest.raises(ValueError, match="class_weight applies to classification"):
        NNRegressor(class_weight="balanced").fit(X, y.astype(float))


def test_predict_log_proba_and_the_regressors_float64(digits):
    X, y = digits
    est = NNClassifier(hidden=(16,), epochs=3).fit(X, y)
    log = est.predict_log_proba(X)
    assert log.dtype == np.float64 and log.shape == (600, 10)
    np.testing.assert_array_equal(log, np.log(est.predict_proba(X).astype(np.float64)))
    reg = NNRegressor(hidden=(8,), epochs=2).fit(X, y.astype(float))
    assert reg.model_.dtype == "float32" and reg.predict(X).dtype == np.float64
    np.testing.assert_array_equal(reg.predict(X), reg.model_.predict(X).astype(np.float64))
    two = NNRegressor(hidden=(8,), epochs=2).fit(X, np.c_[y, -y].astype(float))
    assert two.predict(X).dtype == np.float64 and two.predict(X).shape == (600, 2)


def test_random_state_is_the_seed(digits):
    X, y = digits
    settings = dict(hidden=(16,), epochs=2)
    by_seed = NNClassifier(seed=5, **settings).fit(X, y)
    by_state = NNClassifier(random_state=5, **settings).fit(X, y)
    np.testing.assert_array_equal(by_seed.predict_proba(X), by_state.predict_proba(X))
    assert by_state.model_.seed == 5 and NNClassifier(**settings).fit(X, y).model_.seed == 0  # None: seed says
    # a RandomState gives each fit a seed of its own, the same sequence from the same state
    drawn = NNClassifier(random_state=np.random.RandomState(1), **settings)
    seeds = [drawn.fit(X, y).model_.seed for _ in range(2)]
    again = NNClassifier(random_state=np.random.RandomState(1), **settings)
    assert seeds[0] != seeds[1] and [again.fit(X, y).model_.seed for _ in range(2)] == seeds
    with pytest.raises(ValueError, match="random_state=3 and seed=4 both set the seed"):
        NNClassifier(random_state=3, seed=4).fit(X, y)
    with pytest.raises(ValueError, match="random_state"):
        NNClassifier(random_state=-1).fit(X, y)
    with pytest.raises(ValueError, match="cannot be used to seed"):
        NNClassifier(random_state="zero").fit(X, y)
    search = GridSearchCV(NNClassifier(**settings), {"random_state": [0, 1]}, cv=2).fit(X, y)
    assert search.best_estimator_.model_.seed == search.best_params_["random_state"]


# --- scikit-learn's own estimator checks ---------------------------------------------------------

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

_ESTIMATORS = [NNClassifier(), NNRegressor(), NNClassifier(dtype="float64"), NNRegressor(dtype="float64")]

# scikit-learn >= 1.6 (older ones take no expected_failed_checks: the checks are not run there)
if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters:
    @parametrize_with_checks(_ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
    def test_scikit_learn_estimator_checks(estimator, check):
        """Every check passes or is listed, with its reason, by expected_failed_checks; strict: a
        listed check that passes fails here, so the list (and the README's count) stays true."""
        check(estimator)


@pytest.mark.parametrize("Estimator", [NNClassifier, NNRegressor])
def test_a_scalar_sample_weight_weighs_every_sample_and_np_matrix_is_refused(Estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int) if Estimator is NNClassifier else X[:, 0]
    params = dict(epochs=3, hidden=(4,), seed=0)
    scalar = Estimator(**params).fit(X, y, sample_weight=2.0)
    full = Estimator(**params).fit(X, y, sample_weight=np.full(60, 2.0))
    np.testing.assert_array_equal(scalar.predict(X), full.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # NumPy's, on making a matrix
        matrix = np.asmatrix(X)
    with pytest.raises(TypeError, match="np.matrix is not supported"):
        Estimator(**params).fit(matrix, y)
    with pytest.raises(TypeError, match="np.matrix is not supported"):
        full.predict(matrix)
