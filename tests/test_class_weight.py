"""class_weight: per-class weights multiplied into the sample weights, for classification only."""

import json

import numpy as np
import pytest

import nnfast as nf


@pytest.fixture(scope="module")
def imbalanced():
    """Two overlapping blobs, 450 rows of class "a" and 50 of class "b"."""
    r = np.random.default_rng(0)
    y = np.array(["a"] * 450 + ["b"] * 50)
    X = r.normal(size=(500, 2)) + np.where(y == "b", 1.2, 0.0)[:, None]
    order = r.permutation(500)
    return X[order], y[order]


def fit(X, y, **kwargs):
    model = nf.Sequential([nf.Dense(8), nf.Dense(2, "softmax")], seed=3)
    history = model.fit(X, y, epochs=4, batch_size=16, verbose=False, **kwargs)
    return model, history


def test_class_weight_is_a_multiplied_sample_weight(imbalanced):
    X, y = imbalanced
    by_class, _ = fit(X, y, class_weight={"b": 4.5})
    by_row, _ = fit(X, y, sample_weight=np.where(y == "b", 4.5, 1.0))
    np.testing.assert_array_equal(by_class.parameters()["W1"], by_row.parameters()["W1"])
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    both, _ = fit(X, y, class_weight={"a": 0.5, "b": 3.0}, sample_weight=w)
    product, _ = fit(X, y, sample_weight=w * np.where(y == "b", 3.0, 0.5))
    np.testing.assert_allclose(both.parameters()["W1"], product.parameters()["W1"], rtol=1e-6)


def test_balanced_weights_are_scikit_learns(imbalanced):
    utils = pytest.importorskip("sklearn.utils")
    X, y = imbalanced
    expected = utils.compute_class_weight("balanced", classes=np.array(["a", "b"]), y=y)
    targets = nf.Sequential([nf.Dense(2, "softmax")])._prepare(X, y, None, "cross_entropy")[3]
    Y = targets.transform(y, np.float32)
    np.testing.assert_allclose(targets.class_weights(Y, "balanced"), expected[(y == "b").astype(int)])
    balanced, _ = fit(X, y, class_weight="balanced")
    same, _ = fit(X, y, sample_weight=expected[(y == "b").astype(int)])
    np.testing.assert_array_equal(balanced.parameters()["W1"], same.parameters()["W1"])


def test_balanced_weights_recover_the_minority_class(imbalanced):
    X, y = imbalanced
    plain, _ = fit(X, y, optimizer=nf.Adam(lr=1e-2))
    balanced, _ = fit(X, y, optimizer=nf.Adam(lr=1e-2), class_weight="balanced")
    recall = lambda m: np.mean(m.predict(X[y == "b"]) == "b")  # noqa: E731
    assert recall(balanced) > recall(plain) + 0.3


def test_the_validation_cost_is_not_class_weighted(imbalanced):
    X, y = imbalanced
    model, history = fit(X[:400], y[:400], class_weight={"b": 10.0}, validation=(X[400:], y[400:]))
    assert history["val_loss"][-1] == pytest.approx(model.evaluate(X[400:], y[400:])["loss"], rel=1e-6)


def test_class_weight_with_binary_and_one_hot_targets():
    r = np.random.default_rng(2)
    X = r.normal(size=(200, 3))
    labels = (X[:, 0] > 0.5).astype(int)
    binary = nf.Sequential([nf.Dense(4), nf.Dense(1, "sigmoid")], seed=0)
    binary.fit(X, labels, class_weight={1: 2.0}, epochs=2, verbose=False)
    rows = nf.Sequential([nf.Dense(4), nf.Dense(1, "sigmoid")], seed=0)
    rows.fit(X, labels, sample_weight=np.where(labels == 1, 2.0, 1.0), epochs=2, verbose=False)
    np.testing.assert_array_equal(binary.parameters()["W1"], rows.parameters()["W1"])
    one_hot = nf.Sequential([nf.Dense(4), nf.Dense(2, "softmax")], seed=0)
    one_hot.fit(X, np.eye(2)[labels], class_weight={1: 2.0}, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="one class per row; y holds class probabilities"):
        one_hot.fit(X, np.full((200, 2), 0.5), class_weight={1: 2.0}, reset=True, verbose=False)


def test_class_weight_errors_name_the_problem(imbalanced):
    X, y = imbalanced
    model = nf.Sequential([nf.Dense(2, "softmax")])
    with pytest.raises(ValueError, match=r"labels that are not classes of y: \['c'\]; classes: \['a', 'b'\]"):
        model.fit(X, y, class_weight={"c": 2.0}, verbose=False)
    with pytest.raises(ValueError, match=r"give \[label, weight\] pairs"):
        model.fit(X, (y == "b").astype(int), class_weight={"1": 2.0}, verbose=False)
    with pytest.raises(ValueError, match=r"class_weight\['b'\] must be a finite, non-negative number"):
        model.fit(X, y, class_weight={"b": -1.0}, verbose=False)
    with pytest.raises(ValueError, match="class_weight must be 'balanced'"):
        model.fit(X, y, class_weight="balance", verbose=False)
    with pytest.raises(ValueError, match="weight of 0"):
        model.fit(X, y, class_weight={"a": 0.0, "b": 0.0}, verbose=False)
    regressor = nf.Sequential([nf.Dense(1)])
    with pytest.raises(ValueError, match="class_weight applies to single-label classification, and this run is a "
                                         "regression"):
        regressor.fit(X, np.linspace(0, 1, len(X)), class_weight="balanced", verbose=False)
    assert not regressor.built and model.classes_ is None  # refused before anything changed


def test_class_weight_in_the_record():
    hp = nf.Hyperparameters(class_weight={1: 2.0, 0: 0.5})
    assert hp.class_weight == ((0, 0.5), (1, 2.0))
    assert repr(hp) == "Hyperparameters(class_weight={0: 0.5, 1: 2.0})"
    assert hp == nf.Hyperparameters(class_weight=[[0, 0.5], [1, 2]]) and len({hp, hp.replace()}) == 1
    assert nf.Hyperparameters.from_json(hp.to_json()) == hp  # integer labels survive JSON as pairs
    assert json.loads(hp.to_json())["class_weight"] == [[0, 0.5], [1, 2.0]]
    assert nf.Hyperparameters.from_json(nf.Hyperparameters(class_weight="balanced").to_json()).class_weight == \
        "balanced"
    with pytest.raises(ValueError, match="class_weight applies to classification, not to a regression"):
        nf.Hyperparameters(task="regression", class_weight="balanced")
    with pytest.raises(ValueError, match="class_weight applies to classification"):
        nf.Hyperparameters(loss="mae", class_weight={0: 1.0})
    with pytest.raises(TypeError, match="class_weight must be 'balanced', a dict"):
        nf.Hyperparameters(class_weight=3)


def test_train_applies_the_records_class_weight(imbalanced):
    X, y = imbalanced
    hp = nf.Hyperparameters(hidden=(8,), epochs=3, class_weight={"b": 4.0}, seed=1)
    weighted, history = nf.train(hp, X, y, verbose=False)
    rows, _ = nf.train(hp.replace(class_weight=None), X, y, sample_weight=np.where(y == "b", 4.0, 1.0), verbose=False)
    np.testing.assert_array_equal(weighted.parameters()["W1"], rows.parameters()["W1"])
    with pytest.raises(ValueError, match="class_weight applies to single-label classification"):
        nf.train(hp.replace(class_weight="balanced"), X, np.linspace(0, 1, len(X)), verbose=False)


def test_balanced_weights_count_the_training_rows_only(imbalanced):
    """With validation_split, "balanced" is computed on the rows trained on."""
    X, y = imbalanced
    model = nf.Sequential([nf.Dense(2, "softmax")], seed=0)
    history = model.fit(X, y, class_weight="balanced", validation_split=0.2, epochs=1, verbose=False)
    rows, held = nf.data.split_indices(len(X), [0.2], 0, y)
    targets = model._targets
    weights = targets.class_weights(targets.transform(y, np.float32), "balanced", np.sort(rows))
    counts = {c: np.sum(y[rows] == c) for c in ("a", "b")}
    assert weights[y == "b"][0] == pytest.approx(len(rows) / (2 * counts["b"]))
    assert history["val_loss"][0] > 0


def test_scikit_learns_class_weight_check_passes():
    checks = pytest.importorskip("sklearn.utils.estimator_checks")
    from nnfast.sklearn import NNClassifier

    checks.check_class_weight_classifiers("NNClassifier", NNClassifier(epochs=30))
