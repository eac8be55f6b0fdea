"""Data helpers: the bundled digits, seeded stratified splits, standardisation, one-hot."""

import numpy as np
import pytest

import nnfast as nf


def test_bundled_digits():
    X, y = nf.data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.shape == (1797,)
    assert X.min() == 0 and X.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_split_is_seeded_disjoint_complete_and_stratified():
    X, y = nf.data.load_digits()
    parts = nf.data.train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=5)
    again = nf.data.train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=5)
    for a, b in zip(parts, again):
        np.testing.assert_array_equal(a, b)
    X_tr, X_val, X_te, y_tr, y_val, y_te = parts
    assert len(X_tr) + len(X_val) + len(X_te) == len(X)
    rows = {r.tobytes() for r in X_tr} & {r.tobytes() for r in X_te}
    assert len(rows) <= 5  # the digits data holds a few duplicate images; no row is reused
    whole = np.bincount(y) / len(y)
    for part in (y_tr, y_val, y_te):
        np.testing.assert_allclose(np.bincount(part, minlength=10) / len(part), whole, atol=0.02)
    other = nf.data.train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=6)
    assert not np.array_equal(other[3], y_tr)


def test_split_indices_partition_the_rows():
    train, val = nf.data.split_indices(10, [0.3], seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(10)) and len(val) == 3
    with pytest.raises(ValueError, match="leave nothing"):
        nf.data.split_indices(10, [0.5, 0.5])
    with pytest.raises(ValueError, match="empty"):
        nf.data.split_indices(2, [0.1])


def test_regression_targets_are_not_stratified():
    X = np.arange(100, dtype=float)[:, None]
    y = np.linspace(0, 1, 100)
    X_tr, X_te, y_tr, y_te = nf.data.train_test_split(X, y, test_size=0.2)
    assert len(y_te) == 20


def test_standardizer_fits_on_training_rows_only():
    r = np.random.default_rng(0)
    X_tr = r.normal(5, 3, size=(10000, 3)).astype(np.float32)
    X_tr[:, 2] = 7.0  # constant feature keeps scale 1
    s = nf.data.Standardizer().fit(X_tr)
    np.testing.assert_allclose(s.mean_, X_tr.astype(np.float64).mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(s.scale_[:2], X_tr[:, :2].astype(np.float64).std(axis=0), rtol=1e-10)
    assert s.scale_[2] == 1.0
    Z = s.transform(X_tr)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(s.inverse_transform(Z), X_tr, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError):
        nf.data.Standardizer().transform(X_tr)


def test_one_hot():
    Y, classes = nf.data.one_hot(["b", "a", "b"])
    assert classes.tolist() == ["a", "b"]
    np.testing.assert_array_equal(Y, [[0, 1], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="not in classes"):
        nf.data.one_hot([3], classes=[1, 2])


def test_class_labels_of_any_kind(digits):
    X_tr, X_val, _, y_tr, y_val, _ = digits
    names = np.array(list("abcdefghij"), dtype=object)
    hp = nf.Hyperparameters(hidden=(32,), epochs=10, standardize=True)
    model, _ = nf.train(hp, X_tr, names[y_tr], verbose=False)
    assert model.classes_.tolist() == list("abcdefghij")
    assert set(model.predict(X_val)) <= set("abcdefghij")
    proba = model.predict_proba(X_val)
    assert proba.shape == (len(X_val), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_binary_and_multilabel_classification(digits):
    X_tr, X_val, _, y_tr, y_val, _ = digits
    hp = nf.Hyperparameters(hidden=(32,), epochs=10, standardize=True)
    binary, history = nf.train(hp, X_tr, np.where(y_tr < 5, "low", "high"), verbose=False)
    assert binary.loss == "binary_cross_entropy" and binary.n_outputs == 1
    proba = binary.predict_proba(X_val)
    assert proba.shape == (len(X_val), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert binary.evaluate(X_val, np.where(y_val < 5, "low", "high"))["accuracy"] > 0.85
    multi = np.column_stack([y_tr % 2, y_tr > 4]).astype(np.float32)
    model, _ = nf.train(hp.replace(loss="binary_cross_entropy"), X_tr, multi, verbose=False)
    assert model.predict(X_val).shape == (len(X_val), 2)
    assert model.evaluate(X_val, np.column_stack([y_val % 2, y_val > 4]))["accuracy"] > 0.7


def test_one_hot_targets_train_a_classifier(digits):
    X_tr, X_val, _, y_tr, y_val, _ = digits
    Y_tr, _ = nf.data.one_hot(y_tr)
    model, _ = nf.train(nf.Hyperparameters(hidden=(32,), epochs=10, standardize=True), X_tr, Y_tr, verbose=False)
    assert model.loss == "cross_entropy"
    assert (model.predict(X_val) == y_val).mean() > 0.9


@pytest.mark.parametrize("args,kwargs,error,message", [
    ((4.9e16, [0.2]), {}, TypeError, "n must be an integer, got 4.9e"),
    ((10.0, [0.2]), {}, TypeError, "n must be an integer"),
    ((0, [0.2]), {}, ValueError, "n must be >= 1"),
    ((2**60, [0.2]), {}, ValueError, "too many"),
    ((10, 0.2), {}, TypeError, "sizes must be a sequence"),
    ((10, None), {}, TypeError, "sizes must be a sequence"),
    ((10, [0.2]), {"seed": -1}, ValueError, "seed must be >= 0"),
    ((10, [0.2]), {"seed": 1.5}, TypeError, "seed must be an integer"),
    ((10, [0.2]), {"stratify": [0, 1]}, ValueError, r"stratify must hold one label per row, shape \(10,\)"),
    ((10, [0.2]), {"stratify": np.zeros((10, 2))}, ValueError, "one label per row"),
    ((10, [0.2]), {"stratify": np.array([1, "a"] * 5, dtype=object)}, TypeError, "mixes numbers and strings"),
])
def test_split_indices_refuses_bad_arguments_by_name(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        nf.data.split_indices(*args, **kwargs)


@pytest.mark.parametrize("call", [lambda n: nf.data.split_indices(n, [0.2]), lambda n: nf.data.fold_indices(n, 5)])
def test_split_and_folds_of_an_n_beyond_memory_are_refused_before_allocating(call):
    # 10**15 rows' indices are 32 PB: asked of the memory budget first (under overcommit an
    # allocation may be granted and kill the process when touched); 2**62 overflows the count
    with pytest.raises(ValueError, match=r"n=1000000000000000 rows would need \d+ MiB, more than the \d+ MiB this process"):
        call(10**15)
    with pytest.raises(ValueError, match=r"n=4611686018427387904 rows are too many to index in memory"):
        call(2**62)


@pytest.mark.parametrize("call,error,message", [
    (lambda X, y: nf.data.train_test_split(X, y, test_size=None), TypeError, "test_size must be a number"),
    (lambda X, y: nf.data.train_test_split(X, y, test_size=1.5), ValueError, "test_size"),
    (lambda X, y: nf.data.train_val_test_split(X, y, val_size="a"), TypeError, "val_size must be a number"),
    (lambda X, y: nf.data.train_test_split(None, y), TypeError, "X is None"),
    (lambda X, y: nf.data.train_test_split(X, None), TypeError, "y is None"),
    (lambda X, y: nf.data.train_test_split(3, 3), ValueError, "one entry per sample"),
    (lambda X, y: nf.data.train_test_split(X, y, stratify="yes"), ValueError, "stratify must be 'auto'"),
    (lambda X, y: nf.data.train_test_split(X, y, stratify=y), TypeError, "stratify must be 'auto'"),
])
def test_split_helpers_name_their_bad_arguments(call, error, message):
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
    with pytest.raises(error, match=message):
        call(X, y)


def test_standardizer_checks_what_it_transforms():
    s = nf.data.Standardizer().fit(np.arange(12.0).reshape(4, 3))
    for bad, error, message in [(np.ones((2, 2)), ValueError, "2 features but the model expects 3"),
                                (np.full((2, 3), np.nan), ValueError, "NaN"), (None, TypeError, "None"),
                                (np.ones(3), ValueError, "2-D")]:
        for call in (s.transform, s.inverse_transform):
            with pytest.raises(error, match=message):
                call(bad)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        nf.data.Standardizer().fit(np.array([[0.0], [1.0]])).transform(np.array([[3e38]], dtype=np.float32))
    with pytest.raises(TypeError, match="X is None"):
        nf.data.Standardizer().fit(None)


def test_standardizer_of_values_whose_squares_overflow():
    X = np.array([[1e300], [-1e300], [3e300]])
    s = nf.data.Standardizer().fit(X)
    np.testing.assert_allclose(s.mean_, [1e300], rtol=1e-12)
    np.testing.assert_allclose(s.scale_, [np.sqrt(8 / 3) * 1e300], rtol=1e-12)
    np.testing.assert_allclose(s.transform(X).ravel(), (X.ravel() - 1e300) / s.scale_[0], rtol=1e-12)


def test_one_hot_labels_and_classes():
    Y, classes = nf.data.one_hot([1, 2], classes=[2, 1, 0])  # columns in the given order
    np.testing.assert_array_equal(Y, [[0, 1, 0], [1, 0, 0]])
    assert classes.tolist() == [2, 1, 0]
    for args, error, message in [(([1.0, np.nan],), ValueError, "NaN"), (([1, 1], [1, 1]), ValueError, "repeated"),
                                 ((None,), TypeError, "y is None"), (([[1, 2]],), ValueError, "1-D"),
                                 (([1, 2], None, "U3"), TypeError, "numeric dtype"),
                                 ((np.array([1, "a"], dtype=object),), TypeError, "mixes numbers and strings")]:
        with pytest.raises(error, match=message):
            nf.data.one_hot(*args)


def test_part_sizes_are_fixed_on_the_whole_then_shared_between_classes():
    # each class was rounded on its own: 100 classes of 3 rows gave a test part of 200 of 300,
    # 30 classes of 5 rows at 10% an empty test part (round(0.5) == 0), diabetes' integer
    # targets (a regression target by the task rule) were stratified into 62 test rows, not 88
    rng = np.random.default_rng(0)
    cases = [(np.repeat(np.arange(100), 3), 0.5, 150), (np.repeat(np.arange(30), 5), 0.1, 15),
             (rng.integers(25, 346, 442), 0.2, 88), (np.array([0] * 90 + [1] * 10), 0.25, 25)]
    for y, size, expected in cases:
        X = rng.normal(size=(len(y), 2))
        _, X_te, _, y_te = nf.data.train_test_split(X, y, test_size=size, seed=1)
        assert len(X_te) == expected, (size, len(X_te))
    # stratified: classes keep their shares within one row
    y = np.array([0] * 90 + [1] * 10)
    _, _, _, y_te = nf.data.train_test_split(np.zeros((100, 1)), y, test_size=0.25, seed=3)
    assert abs((y_te == 1).sum() - 2.5) <= 0.5
    parts = nf.data.split_indices(300, [0.2, 0.3], seed=2, stratify=np.repeat(np.arange(60), 5))
    assert [len(p) for p in parts] == [150, 60, 90]
    assert sorted(np.concatenate(parts).tolist()) == list(range(300))


def test_auto_stratifies_exactly_when_the_task_rule_sees_classes():
    from nnfast._targets import looks_like_labels
    rng = np.random.default_rng(0)
    assert looks_like_labels(rng.integers(0, 10, 400))
    assert not looks_like_labels(rng.integers(25, 346, 442))  # 200+ distinct integers: a quantity
    assert not looks_like_labels(rng.normal(size=50)) and looks_like_labels(np.array(["a", "b"]))
    assert not looks_like_labels(np.array([], dtype=np.int64))
