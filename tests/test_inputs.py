"""How arrays and frames enter nnfast (issue 11): one conversion, with the same rules at
every public entry point that takes data.

Converted: pandas frames of booleans next to numbers (``pd.get_dummies``), nullable
``Float64``/``Int64``/``boolean`` columns without NA, object arrays of numbers. Refused:
missing values (NA, None, NaN) by column and number of rows; categorical, string and date
columns by name, saying what to do. Labels: missing and mixed ones refused by position,
pandas Series (categorical too) read by their values. Finite values beyond the model's
dtype: "outside float32's range". Each rule is checked through every entry point:
nf.train, Sequential.fit/predict/predict_proba/forward/evaluate, nf.losses, nf.data,
nnfast.sklearn and nnfast.tune.
"""

import contextlib
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnfast as nf
from nnfast import _convert

tune = pytest.importorskip("nnfast.tune")
sklearn_estimators = pytest.importorskip("nnfast.sklearn")

N = 48
HP = nf.Hyperparameters(hidden=(8,), epochs=3, batch_size=16, seed=0)


def _table():
    r = np.random.default_rng(0)
    return pd.DataFrame({"size": r.normal(size=N), "count": r.integers(0, 5, N),
                         "colour": r.choice(["blue", "red"], N)})


#: the numbers every good form below holds: size, count, colour_blue, colour_red
REF = np.ascontiguousarray(pd.get_dummies(_table(), dtype=float).to_numpy())
Y = np.random.default_rng(1).integers(0, 3, N)
YR = np.random.default_rng(2).normal(size=N)
W = np.random.default_rng(3).uniform(0.5, 2.0, N)


def get_dummies():
    return pd.get_dummies(_table())  # float64 and int64 columns next to bool ones


def nullable():
    t = _table()
    return pd.DataFrame({"size": pd.array(t["size"], dtype="Float64"), "count": pd.array(t["count"], dtype="Int64"),
                         "colour_blue": pd.array(t["colour"] == "blue", dtype="boolean"),
                         "colour_red": pd.array(t["colour"] == "red", dtype="boolean")})


def objects():
    return np.asarray(get_dummies())  # what NumPy makes of that frame: Python floats, ints and bools


def nullable_with_na():
    X = nullable()
    X.loc[7, "count"] = pd.NA
    return X


def objects_with_none():
    X = objects()
    X[7, 1] = None
    return X


def category_column():
    t = _table()
    return t.assign(colour=t["colour"].astype("category"))


GOOD = {"get_dummies": get_dummies, "nullable": nullable, "objects": objects}
BAD = {
    "nullable_with_na": (nullable_with_na, ValueError, r"missing values \(NaN, NA or None\) in column 'count' "
                                                       r"\(1 of 48 rows\): fill them or drop those rows"),
    "objects_with_none": (objects_with_none, ValueError, r"missing values \(NaN, NA or None\) in column 1 "
                                                         r"\(1 of 48 rows\)"),
    "category_column": (category_column, TypeError, r"column 'colour' is categorical: one-hot encode categories "
                                                    r"\(pd.get_dummies\(X\) or scikit-learn's OneHotEncoder\)"),
}


@pytest.fixture(scope="module")
def trained():
    return nf.train(HP, REF, Y, verbose=False)[0]


def _fresh():
    return nf.Sequential([nf.Dense(8, "relu"), nf.Dense(3, "softmax")], seed=0)


def _search(X, y, validation=None, hp=HP):
    study = tune.search(hp, {"lr": tune.choice([1e-2])}, train=(X, y), validation=validation, strategy="grid",
                        progress=False)
    trial = study.trials[0]
    assert trial.state == "complete", trial.error
    return trial.score


#: entry point -> f(X, trained model): something computed from X, compared against X = REF
X_ENTRIES = {
    "train": lambda X, m: nf.train(HP, X, Y, verbose=False)[0].forward(REF),
    "train_validation": lambda X, m: nf.train(HP, REF, Y, validation=(X, Y), verbose=False)[1]["val_loss"],
    "fit": lambda X, m: _fresh().fit(X, Y, epochs=2, verbose=False)["loss"],
    "predict": lambda X, m: m.predict(X),
    "predict_proba": lambda X, m: m.predict_proba(X),
    "forward": lambda X, m: m.forward(X),
    "evaluate": lambda X, m: list(m.evaluate(X, Y).values()),
    "losses": lambda X, m: [nf.losses.mse(X, np.ones(X.shape)), nf.losses.mae(np.ones(X.shape), X),
                            nf.losses.gradient("mse", np.ones(X.shape), X)],
    "data_train_test_split": lambda X, m: nf.data.train_test_split(X, Y, seed=0)[:2],
    "data_train_val_test_split": lambda X, m: nf.data.train_val_test_split(X, Y, seed=0)[:3],
    "data_standardizer": lambda X, m: [nf.data.Standardizer().fit(X).transform(X),
                                       nf.data.Standardizer().fit(REF).inverse_transform(X)],
    "sklearn_classifier": lambda X, m: sklearn_estimators.NNClassifier(hidden=(8,), epochs=3).fit(X, Y)
                                                                                            .predict_proba(X),
    "sklearn_regressor": lambda X, m: sklearn_estimators.NNRegressor(hidden=(8,), epochs=3).fit(X, YR).predict(X),
    "tune_search": lambda X, m: _search(X, Y, validation=(X, Y)),
    "tune_lr_range_test": lambda X, m: tune.lr_range_test(HP, X, Y, steps=20).costs,
}


def _same(got, expected):
    if isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            _same(g, e)
    else:
        got, expected = np.asarray(got), np.asarray(expected)
        assert got.dtype == expected.dtype  # numbers, not objects that compare equal to them
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("form", GOOD)
@pytest.mark.parametrize("entry", X_ENTRIES)
def test_frames_and_object_arrays_of_numbers_are_converted_everywhere(trained, entry, form):
    """Each form holds REF's numbers; every entry point gives exactly what it gives on REF."""
    call = X_ENTRIES[entry]
    _same(call(GOOD[form](), trained), call(REF, trained))


@pytest.mark.parametrize("form", BAD)
@pytest.mark.parametrize("entry", X_ENTRIES)
def test_missing_values_and_categories_are_refused_everywhere_by_column(trained, entry, form):
    make, error, message = BAD[form]
    before = trained._flat_params().copy()
    with pytest.raises(error, match=message):
        X_ENTRIES[entry](make(), trained)
    np.testing.assert_array_equal(trained._flat_params(), before)


def test_the_refused_column_is_named_for_validation_data_too():
    with pytest.raises(ValueError, match=r"^X_val has missing values \(NaN, NA or None\) in column 'count'"):
        nf.train(HP, REF, Y, validation=(nullable_with_na(), Y), verbose=False)
    with pytest.raises(TypeError, match=r"^X must hold real numbers, but column 'colour' is categorical"):
        tune.search(HP, {"lr": tune.choice([1e-2])}, train=(category_column(), Y), progress=False)


def test_a_search_reads_its_data_once_whatever_form_it_comes_in():
    """The study records the data it ran on, converted once to the run's dtype: the same
    numbers give the same fingerprint whether they come as an array, a frame around it, a
    get_dummies frame or an object array (a resume finds its data)."""
    from nnfast.tune.storage import data_fingerprint

    def fingerprint(X, y):
        study = tune.search(HP, {"lr": tune.choice([1e-2])}, train=(X, y), progress=False, seed=0)
        return study.attrs["data"]

    X32 = REF.astype(np.float32)
    assert fingerprint(X32, Y) == fingerprint(pd.DataFrame(X32), pd.Series(Y))
    assert fingerprint(get_dummies(), Y) == fingerprint(REF, Y) == fingerprint(objects(), list(Y))
    train, val = nf.data.split_indices(N, [0.2], seed=0, stratify=Y)
    assert fingerprint(X32, Y) == data_fingerprint(X32[train], Y[train], X32[val], Y[val])


def test_every_kind_of_column_that_is_not_numbers_is_named_with_what_to_do():
    t = _table()
    X = pd.DataFrame({"size": t["size"], "colour": t["colour"].astype("category"), "name": t["colour"],
                      "when": pd.date_range("2024-01-01", periods=N, freq="h"), "z": t["size"] * 1j})
    with pytest.raises(TypeError) as info:
        nf.train(HP, X, Y, verbose=False)
    message = str(info.value)
    for part in ("column 'colour' is categorical", "column 'name' holds strings", "column 'when' holds dates or times",
                 "column 'z' holds complex numbers", "pd.get_dummies(X) or scikit-learn's OneHotEncoder",
                 "pd.to_numeric", "turn dates and times into numbers", "or drop those columns"):
        assert part in message, (part, message)
    assert "'size'" not in message
    # the same in an object array, by index, with the first offending value
    with pytest.raises(TypeError, match=r"column 1 holds strings \('\w+' in row 0\), column 2 holds dates or times"):
        nf.train(HP, np.array(X[["size", "name", "when"]], dtype=object), Y, verbose=False)
    with pytest.raises(TypeError, match=r"must hold real numbers, not strings \(<U4\): one-hot encode"):
        nf.train(HP, np.array([["blue", "red"]] * N), Y, verbose=False)


def test_missing_values_are_counted_per_column_and_listed():
    X = nullable()
    X.loc[[3, 5], "size"] = pd.NA
    X.loc[9, "colour_red"] = pd.NA
    expected = (r"^X has missing values \(NaN, NA or None\) in column 'size' \(2 of 48 rows\), column 'colour_red' "
                r"\(1 of 48 rows\): fill them or drop those rows$")
    with pytest.raises(ValueError, match=expected):
        nf.train(HP, X, Y, verbose=False)
    A = REF.copy()
    A[[1, 2, 4], 0] = np.nan  # a plain array: by index, NaN being a missing value too
    A[6, 3] = np.inf
    with pytest.raises(ValueError, match=r"missing values \(NaN, NA or None\) in column 0 \(3 of 48 rows\); "
                                         r"infinite values in column 3 \(1 of 48 rows\)"):
        nf.train(HP, A, Y, verbose=False)
    many = np.full((N, 8), np.nan)
    with pytest.raises(ValueError, match=r"column 4 \(48 of 48 rows\) and 3 more"):
        nf.Sequential([nf.Dense(2, "softmax")], inputs=8).forward(many)


def test_masked_entries_of_numpy_masked_arrays_are_missing_values():
    X = np.ma.masked_array(REF, mask=np.arange(REF.size).reshape(REF.shape) == 9)  # row 2, column 1
    for call in (lambda: nf.train(HP, X, Y, verbose=False), lambda: nf.data.Standardizer().fit(X),
                 lambda: nf.data.train_test_split(X, Y)):
        with pytest.raises(ValueError, match=r"^X has missing values \(NaN, NA or None\) in column 1 \(1 of 48 rows\)"):
            call()
    with pytest.raises(ValueError, match=r"^y has missing values .* \(the first at position 4\)"):
        nf.train(HP, REF, np.ma.masked_array(Y, mask=np.arange(N) == 4), verbose=False)
    with pytest.raises(ValueError, match=r"^sample_weight has missing values .* \(the first at position 5\)"):
        nf.train(HP, REF, Y, sample_weight=np.ma.masked_array(W, mask=np.arange(N) == 5), verbose=False)
    unmasked = nf.train(HP, np.ma.masked_array(REF), np.ma.masked_array(Y), verbose=False)[0]
    np.testing.assert_array_equal(unmasked.forward(REF), nf.train(HP, REF, Y, verbose=False)[0].forward(REF))


def test_single_values_and_rows_of_images_get_errors_not_crashes():
    with pytest.raises(ValueError, match=r"^y_true has missing values .* in 1 of 1 rows"):
        nf.losses.mse(np.nan, 1.0)
    with pytest.raises(ValueError, match=r"^y must be 1-D or 2-D, got shape \(\)"):
        nf.train(HP, REF, np.nan, verbose=False)
    images = np.ones((5, 2, 3))
    images[1, 1, 2] = np.nan  # the sixth value of row 1
    with pytest.raises(ValueError, match=r"^X has missing values .* in column 5 \(1 of 5 rows\)"):
        nf.data.train_test_split(images, np.arange(5) % 2, test_size=0.4)


def test_nullable_and_object_values_are_exact():
    X = pd.DataFrame({"f": pd.array([0.1, -2.5, 1e30], dtype="Float64"), "i": pd.array([1, -7, 2**40], dtype="Int64"),
                      "b": pd.array([True, False, True], dtype="boolean"), "u": np.array([1, 2, 3], dtype=np.uint8),
                      "o": np.array([1, 2.5, True], dtype=object)})
    expected = np.array([[0.1, 1, 1, 1, 1], [-2.5, -7, 0, 2, 2.5], [1e30, 2**40, 1, 3, 1]])
    model = nf.Sequential([nf.Dense(1)], inputs=5, dtype="float64")
    np.testing.assert_array_equal(model.forward(X), model.forward(expected))
    from decimal import Decimal
    from fractions import Fraction

    odd_numbers = np.array([[Decimal("0.1"), Fraction(1, 4), np.float32(2), np.int8(-3), np.bool_(True)]] * 3,
                           dtype=object)
    np.testing.assert_array_equal(model.forward(odd_numbers), model.forward(np.array([[0.1, 0.25, 2, -3, 1.0]] * 3)))


# --- targets where numbers are expected (regression) and sample weights ---------------------------

Y_FORMS = {
    "Float64": lambda v: pd.Series(v, dtype="Float64"),
    "objects": lambda v: np.array(list(v), dtype=object),
    "Series": lambda v: pd.Series(v, index=np.arange(N) * 3),  # an index that is not 0..n-1
}
Y_BAD = {
    "Float64_with_na": (lambda v: pd.Series(v, dtype="Float64").mask(np.arange(N) == 7), ValueError,
                        r"has missing values \(NaN, NA or None\) in 1 of 48 rows \(the first at position 7\)"),
    "objects_with_none": (lambda v: np.array([*v[:5], None, *v[6:]], dtype=object), ValueError,
                          r"has missing values \(NaN, NA or None\) in 1 of 48 rows \(the first at position 5\)"),
    "category": (lambda v: pd.Series(np.round(v)).astype("category"), TypeError,
                 r"must hold real numbers( for loss 'mse')?, but it is categorical"),
}
REGRESSION = nf.Hyperparameters(hidden=(8,), epochs=3, batch_size=16, seed=0, loss="mse")


@pytest.fixture(scope="module")
def regressor():
    return nf.train(REGRESSION, REF, YR, verbose=False)[0]


#: entry point -> f(y, trained regressor), compared against y = YR
Y_ENTRIES = {
    "train": lambda y, m: nf.train(REGRESSION, REF, y, verbose=False)[0].forward(REF),
    "train_auto_loss": lambda y, m: nf.train(HP, REF, y, verbose=False)[0].forward(REF),
    "train_validation": lambda y, m: nf.train(REGRESSION, REF, YR, validation=(REF, y), verbose=False)[1]["val_r2"],
    "fit": lambda y, m: nf.Sequential([nf.Dense(1)], seed=0).fit(REF, y, epochs=2, verbose=False)["loss"],
    "evaluate": lambda y, m: list(m.evaluate(REF, y).values()),
    "losses": lambda y, m: [nf.losses.mse(y, np.zeros(N)), nf.losses.gradient("mae", np.zeros(N), y)],
    "sklearn_regressor": lambda y, m: sklearn_estimators.NNRegressor(hidden=(8,), epochs=3).fit(REF, y).predict(REF),
    "tune_search": lambda y, m: _search(REF, y, hp=REGRESSION),
}


@pytest.mark.parametrize("form", Y_FORMS)
@pytest.mark.parametrize("entry", Y_ENTRIES)
def test_real_targets_from_series_and_object_arrays(regressor, entry, form):
    call = Y_ENTRIES[entry]
    _same(call(Y_FORMS[form](YR), regressor), call(YR, regressor))


# a categorical y is refused where numbers are expected; left to "auto" it means classes
Y_REFUSED = [(entry, form) for entry in Y_ENTRIES for form in Y_BAD
             if not (form == "category" and entry == "train_auto_loss")]


@pytest.mark.parametrize("entry,form", Y_REFUSED)
def test_real_targets_with_missing_values_or_categories_are_refused(regressor, entry, form):
    make, error, message = Y_BAD[form]
    with pytest.raises(error, match=message):
        Y_ENTRIES[entry](make(YR), regressor)


def test_a_nullable_or_object_float_target_means_regression_when_left_to_auto():
    for y in (pd.Series(YR, dtype="Float64"), np.array(list(YR), dtype=object)):
        model, history = nf.train(HP, REF, y, verbose=False)
        assert model.loss == "mse" and "r2" in history.to_dict()
        assert HP.resolve_task(y).task == "regression"
    for y in (pd.Series(pd.Categorical(YR.round(1))), pd.Series(pd.Categorical(Y * 1000))):  # categories: classes
        assert HP.resolve_task(y).task == "classification"
    model, _ = nf.train(HP, REF, np.array(list(Y), dtype=object), verbose=False)  # object integers: classes
    assert model.loss == "cross_entropy" and model.classes_.dtype == np.int64


W_FORMS = {"Float64": lambda w: pd.Series(w, dtype="Float64"), "objects": lambda w: np.array(list(w), dtype=object)}
W_BAD = {
    "Float64_with_na": (lambda w: pd.Series(w, dtype="Float64").mask(np.arange(N) == 7), ValueError,
                        r"has missing values \(NaN, NA or None\) in 1 of 48 rows \(the first at position 7\)"),
    "category": (lambda w: pd.Series(np.round(w)).astype("category"), TypeError,
                 r"must hold real numbers, but it is categorical \(category\)$"),
    "strings": (lambda w: np.array([str(v) for v in w], dtype=object), TypeError,
                r"must hold real numbers, but it holds strings \('[\d.]+' at position 0\): "
                r"numbers written as strings: pd.to_numeric$"),
}
#: entry point -> (f(weights, trained model), the name its errors give the weights)
W_ENTRIES = {
    "train": (lambda w, m: nf.train(HP, REF, Y, sample_weight=w, verbose=False)[0].forward(REF), "sample_weight"),
    "fit_validation": (lambda w, m: _fresh().fit(REF, Y, validation=(REF, Y, w), epochs=2, verbose=False)["val_loss"],
                       "sample_weight_val"),
    "evaluate": (lambda w, m: list(m.evaluate(REF, Y, sample_weight=w).values()), "sample_weight"),
    "losses": (lambda w, m: nf.losses.cross_entropy(np.eye(3)[Y], np.full((N, 3), 1 / 3), sample_weight=w),
               "sample_weight"),
    "sklearn_classifier": (lambda w, m: sklearn_estimators.NNClassifier(hidden=(8,), epochs=3).fit(
        REF, Y, sample_weight=w).predict_proba(REF), "sample_weight"),
}


@pytest.mark.parametrize("form", W_FORMS)
@pytest.mark.parametrize("entry", W_ENTRIES)
def test_sample_weights_from_series_and_object_arrays(trained, entry, form):
    call = W_ENTRIES[entry][0]
    _same(call(W_FORMS[form](W), trained), call(W, trained))


@pytest.mark.parametrize("form", W_BAD)
@pytest.mark.parametrize("entry", W_ENTRIES)
def test_sample_weights_with_missing_values_or_categories_are_refused(trained, entry, form):
    make, error, message = W_BAD[form]
    call, name = W_ENTRIES[entry]
    with pytest.raises(error, match=f"^{name} {message}"):
        call(make(W), trained)


def test_weights_that_are_zero_on_a_whole_part_of_the_data():
    """Zero weights are allowed; a part of the data that weighs nothing in all is not (its cost is 0/0).
    The cost before training is measured on the first rows: it moves on to the rest when those weigh nothing."""
    r = np.random.default_rng(0)
    X, y = r.normal(size=(5000, 3)), np.arange(5000) % 2
    w = np.r_[np.zeros(4200), np.ones(800)]
    history = nf.Sequential([nf.Dense(2, "softmax")], seed=0).fit(X, y, sample_weight=w, batch_size=None,
                                                                   epochs=2, verbose=False)
    assert np.isfinite(history.initial_loss) and history.stop_reason == "max_epochs"
    X, y, w = np.zeros((2, 2)), np.eye(3)[[0, 0]], np.array([0.0, 1.0])
    with pytest.raises(ValueError, match=r"sample_weight is zero on all 1 training rows that validation_split=0.3 "
                                         r"leaves"):
        nf.train(HP.replace(validation_split=0.3), X, y, sample_weight=w, verbose=False)


# --- class labels ---------------------------------------------------------------------------------

def _repeat(values):
    return (values * N)[:N]


LABEL_BAD = {
    "None": (_repeat([1, None, 2]), ValueError,
             r"has missing values \(NaN, NA or None\) in 16 of 48 rows \(the first at position 1\)"),
    "pd.NA": (_repeat([1, pd.NA, 2]), ValueError,
              r"has missing values \(NaN, NA or None\) in 16 of 48 rows \(the first at position 1\)"),
    "nan_in_objects": (np.array(_repeat(["a", "b", np.nan]), dtype=object), ValueError,
                       r"has missing values \(NaN, NA or None\) in 16 of 48 rows \(the first at position 2\)"),
    "nan_in_floats": (np.array(_repeat([1.0, 2.0, np.nan])), ValueError,
                      r"has missing values \(NaN, NA or None\) in 16 of 48 rows \(the first at position 2\)"),
    "mixed": (_repeat([1, "a"]), TypeError, r"mixes numbers and strings \(1 at position 0, 'a' at position 1\)"),
    "mixed_objects": (np.array(_repeat(["a", 2.5]), dtype=object), TypeError,
                      r"mixes numbers and strings \('a' at position 0, 2\.5 at position 1\)"),
    "categorical_with_na": (pd.Series(pd.Categorical(_repeat(["a", None, "b"]))), ValueError,
                            r"has missing values \(NaN, NA or None\) in 16 of 48 rows \(the first at position 1\)"),
    "Int64_with_na": (pd.Series(_repeat([1, None, 2]), dtype="Int64"), ValueError,
                      r"has missing values \(NaN, NA or None\) in 16 of 48 rows \(the first at position 1\)"),
}
CROSS_ENTROPY = HP.replace(loss="cross_entropy")
#: entry point -> (f(labels, trained model), the name its errors give the labels)
LABEL_ENTRIES = {
    "train": (lambda y, m: nf.train(HP, REF, y, verbose=False), "y"),
    "train_cross_entropy": (lambda y, m: nf.train(CROSS_ENTROPY, REF, y, verbose=False), "y"),
    "fit": (lambda y, m: _fresh().fit(REF, y, verbose=False), "y"),
    "fit_validation": (lambda y, m: _fresh().fit(REF, Y, validation=(REF, y), verbose=False), "y_val"),
    "evaluate": (lambda y, m: m.evaluate(REF, y), "y"),
    "one_hot": (lambda y, m: nf.data.one_hot(y), "y"),
    "train_test_split": (lambda y, m: nf.data.train_test_split(REF, y), "y"),
    "split_indices_stratify": (lambda y, m: nf.data.split_indices(N, [0.25], stratify=y), "stratify"),
    "sklearn_classifier": (lambda y, m: sklearn_estimators.NNClassifier(hidden=(8,), epochs=1).fit(REF, y), "y"),
    "tune_search": (lambda y, m: tune.search(HP, {"lr": tune.choice([1e-2])}, train=(REF, y), progress=False), "y"),
    "tune_lr_range_test": (lambda y, m: tune.lr_range_test(HP, REF, y, steps=20), "y"),
    "resolve_task": (lambda y, m: HP.resolve_task(y), "y"),
}


@pytest.mark.parametrize("case", LABEL_BAD)
@pytest.mark.parametrize("entry", LABEL_ENTRIES)
def test_missing_and_mixed_labels_are_refused_with_their_first_position(trained, entry, case):
    y, error, message = LABEL_BAD[case]
    call, name = LABEL_ENTRIES[entry]
    with pytest.raises(error, match=f"^{name} {message}"):
        call(y, trained)


def test_categorical_labels_are_their_categories():
    names = np.array(["cat", "dog", "emu"])[Y]
    y = pd.Series(pd.Categorical(names, categories=["emu", "dog", "cat"], ordered=True))
    model, _ = nf.train(HP, REF, y, verbose=False)
    plain, _ = nf.train(HP, REF, names, verbose=False)
    assert model.classes_.tolist() == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(model.predict(REF), plain.predict(REF))
    assert model.evaluate(REF, y) == plain.evaluate(REF, names)
    numbers = pd.Series(pd.Categorical(Y * 10))  # integer categories: the labels are the numbers, not the codes
    model, _ = nf.train(HP, REF, numbers, verbose=False)
    assert model.classes_.tolist() == [0, 10, 20] and set(model.predict(REF)) <= {0, 10, 20}
    binary = pd.Series(pd.Categorical(np.where(Y > 0, "yes", "no")))
    est = sklearn_estimators.NNClassifier(hidden=(8,), epochs=3).fit(REF, binary)
    assert est.classes_.tolist() == ["no", "yes"] and est.score(REF, binary) > 0
    Yh, classes = nf.data.one_hot(y)
    assert classes.tolist() == ["cat", "dog", "emu"] and Yh.shape == (N, 3)


def test_label_series_of_every_kind_train_as_their_values():
    expected = nf.train(HP, REF, Y, verbose=False)[0].forward(REF)
    for y in (pd.Series(Y, dtype="Int64"), pd.Series(Y, index=np.arange(N)[::-1]), np.array(list(Y), dtype=object)):
        model, _ = nf.train(HP, REF, y, verbose=False)
        np.testing.assert_array_equal(model.forward(REF), expected)
        assert model.classes_.dtype == np.int64
    text = np.array(["a", "b", "c"])[Y]
    for y in (pd.Series(text, dtype="string"), pd.Series(text, dtype=object), list(text)):
        assert nf.train(HP, REF, y, verbose=False)[0].classes_.tolist() == ["a", "b", "c"]


# --- finite values beyond the model's dtype -----------------------------------------------------

def _huge_row(arr, row=3):
    arr = np.array(arr, dtype=np.float64)
    arr[row] = 1e39
    return arr


RANGE_CASES = {
    "X": (lambda: nf.train(REGRESSION, _huge_row(REF), YR, verbose=False), "X", r"in column 0 \(1 of 48 rows\)"),
    "y": (lambda: nf.train(REGRESSION, REF, _huge_row(YR), verbose=False), "y",
          r"in 1 of 48 rows \(the first at position 3\)"),
    "X_val": (lambda: nf.train(REGRESSION, REF, YR, validation=(_huge_row(REF), YR), verbose=False), "X_val",
              r"in column 0 \(1 of 48 rows\), column 1"),
    "y_val": (lambda: nf.train(REGRESSION, REF, YR, validation=(REF, _huge_row(YR)), verbose=False), "y_val",
              r"in 1 of 48 rows"),
    "sample_weight": (lambda: nf.train(REGRESSION, REF, YR, sample_weight=_huge_row(W), verbose=False),
                      "sample_weight", r"in 1 of 48 rows \(the first at position 3\)"),
    "sample_weight_val": (lambda: nf.Sequential([nf.Dense(1)]).fit(REF, YR, validation=(REF, YR, _huge_row(W)),
                                                                   verbose=False), "sample_weight_val",
                          "in 1 of 48 rows"),
    "X_predict": (lambda: nf.Sequential([nf.Dense(1)], inputs=4).forward(_huge_row(REF)), "X",
                  r"in column 0 \(1 of 48 rows\).*column 3"),
    "X_frame": (lambda: nf.Sequential([nf.Dense(1)], inputs=4).forward(
        pd.DataFrame(_huge_row(REF), columns=list("abcd")).astype({"b": "Float64"})), "X",
        r"in column 'a' \(1 of 48 rows\), column 'b'"),
    "X_objects": (lambda: nf.Sequential([nf.Dense(1)], inputs=4).forward(
        np.array([[10**39, 1, 2.0, True]], dtype=object)), "X", r"in column 0 \(1 of 1 rows\)"),
    "y_evaluate": (lambda: nf.train(REGRESSION, REF, YR, verbose=False)[0].evaluate(REF, _huge_row(YR)), "y",
                   "in 1 of 48 rows"),
}


@pytest.mark.parametrize("case", RANGE_CASES)
def test_values_beyond_float32_say_so_and_how_to_fix_it(case):
    call, name, where = RANGE_CASES[case]
    expected = (rf"^{name} has values outside float32's range \(\|x\| > 3.4e\+38\) {where}.*: "
                rf"use dtype='float64' or rescale {name}$")
    with pytest.raises(ValueError, match=expected):
        call()


def test_the_same_values_are_fine_in_float64_and_infinities_stay_infinities():
    model, _ = nf.train(REGRESSION.replace(dtype="float64"), REF, YR, sample_weight=_huge_row(W), verbose=False)
    assert np.isfinite(model.forward(_huge_row(REF))).all()
    A = REF.copy()
    A[3, 0] = -np.inf
    with pytest.raises(ValueError, match=r"^X has infinite values in column 0 \(1 of 48 rows\)$"):
        model.forward(A)
    with pytest.raises(ValueError, match=r"^y_true has values outside float64's range .* in 1 of 1 rows "
                                         r"\(the first at position 0\): rescale y_true$"):
        nf.losses.mse(np.array([np.longdouble("1e400")]), [0.0])


# --- what is not changed ---------------------------------------------------------------------------

def test_nnfast_works_without_pandas_and_never_imports_it(tmp_path):
    """pandas is an optional extra: nnfast reads frames when it is there, and never imports it."""
    code = textwrap.dedent("""
        import sys
        sys.modules["pandas"] = None  # `import pandas` now fails, as where it is not installed
        import numpy as np
        import nnfast as nf
        X = np.random.default_rng(0).normal(size=(40, 3))
        y = np.arange(40) % 2
        model, _ = nf.train(nf.Hyperparameters(hidden=(4,), epochs=2), X.astype(object), list(y), verbose=False)
        model.predict(X.tolist()); model.evaluate(X, y); nf.data.train_test_split(X, y); nf.losses.mse(y, y)
        try:
            model.predict(np.array([[1.0, None, 2.0]], dtype=object))
        except ValueError as exc:
            assert "missing values" in str(exc), exc
        del sys.modules["pandas"]
        assert "pandas" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    code = "import sys, nnfast, nnfast.data, nnfast.losses; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# --- a property over frames of every kind of numeric column ------------------------------------

COLUMN_KINDS = ["float64", "float32", "int64", "uint8", "bool", "Float64", "Int64", "boolean", "object"]


@st.composite
def frames(draw):
    """(frame, the float64 numbers it holds with NaN where it holds NA)."""
    n = draw(st.integers(1, 12))
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=9))
    columns, expected = {}, []
    for j, kind in enumerate(kinds):
        if kind in ("bool", "boolean"):
            values = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=float)
        elif kind in ("int64", "Int64", "uint8"):
            values = np.array(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)), dtype=float)
        else:
            values = np.array(draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=n, max_size=n)), dtype=float)
        missing = np.zeros(n, dtype=bool)
        if kind in ("Float64", "Int64", "boolean", "object", "float64", "float32"):
            missing = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))) & draw(st.booleans())
        numpy_type = {"float64": float, "float32": np.float32, "int64": np.int64, "uint8": np.uint8, "bool": bool,
                      "Float64": float, "Int64": np.int64, "boolean": bool, "object": float}[kind]
        if kind in ("Float64", "Int64", "boolean"):
            column = pd.array([None if m else numpy_type(v) for v, m in zip(values, missing)], dtype=kind)
        elif kind == "object":
            column = np.array([None if m else (int(v) if v.is_integer() else v) for v, m in zip(values, missing)],
                              dtype=object)
        else:
            column = np.where(missing, np.nan, values).astype(numpy_type)
        columns[f"c{j}"] = column
        expected.append(np.where(missing, np.nan, values))
    return pd.DataFrame(columns), np.column_stack(expected)


@contextlib.contextmanager
def column_by_column():
    """Frames converted column by column whatever their size (as large frames are)."""
    small, _convert._SMALL_FRAME = _convert._SMALL_FRAME, 0
    try:
        yield
    finally:
        _convert._SMALL_FRAME = small


@settings(max_examples=60, deadline=None)
@given(frames())
def test_any_frame_of_numbers_converts_exactly_or_names_its_missing_values(case):
    frame, expected = case
    missing = np.isnan(expected)
    model = nf.Sequential([nf.Dense(1)], inputs=frame.shape[1], dtype="float64")
    if not missing.any():
        for X in (frame, np.array(frame, dtype=object)):
            for way in (contextlib.nullcontext, column_by_column):
                with way():
                    converted = model._checked(X)
                np.testing.assert_array_equal(converted, expected)
                assert converted.flags.c_contiguous
        return
    counts = missing.sum(axis=0)
    named = [f"column 'c{j}' ({counts[j]} of {len(frame)} rows)" for j in np.flatnonzero(counts)]
    expected_text = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
    for way in (contextlib.nullcontext, column_by_column):
        with way(), pytest.raises(ValueError) as info:
            model._checked(frame)
        assert str(info.value) == (f"X has missing values (NaN, NA or None) in {expected_text}: "
                                   f"fill them or drop those rows")
