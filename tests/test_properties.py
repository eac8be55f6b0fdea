"""Property tests of every public entry point: whatever goes in, a call either succeeds with
finite results or raises ValueError or TypeError with a message. Never another exception,
never a crash, never NaN (or an unannounced infinity) from a call that succeeded.

Each property runs a few dozen examples in the default run; its ``_slow`` twin (marked
slow) runs many more.
"""

import functools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnfast as nf

EXAMPLES = 30
SLOW_EXAMPLES = 200

# values that sit on the edges of float32 and float64
EDGES = [0.0, -0.0, 1e-45, 1e-40, 1e-310, 1.0, -1.0, 16.0, 1e30, 3e38, -3e38, 3.5e38, 1e300, -1e300, 1.7e308,
         math.nan, math.inf, -math.inf]
floats_any = st.one_of(st.floats(-20, 20), st.sampled_from(EDGES), st.floats(allow_nan=True, allow_infinity=True))
floats_mostly_fine = st.one_of(st.floats(-20, 20, width=32), st.floats(-20, 20, width=32),
                               st.floats(-20, 20, width=32), floats_any)
# anything a careless caller could pass where a setting goes
# Integers where a careless caller puts a size, a count or a seed: small ones, negative ones, and
# ones far beyond any machine (2**45 rows, units or epochs: refused by the memory budget or the
# bounds). The integers in between are honest sizes that allocate or loop over that many
# things, which a property cannot afford: a slow twin once drew n = 2e9 for split_indices
# (16 GB of indices, and copies) and the run was killed for memory. The int32/int64 edges of
# the core's sizes are tested one by one in test_sizes.py.
ints_any = st.one_of(st.integers(-2**80, 1000), st.integers(2**45, 2**80))
junk = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), ints_any, floats_any,
                 st.text(max_size=4), st.sampled_from([(), [], (1,), [0.5], {"a": 1}, 1j, b"x", object()]),
                 st.tuples(st.integers(-3, 300)), st.lists(floats_any, max_size=3))


def properties(*strategies, examples=EXAMPLES):
    """The test body as a property over `strategies`, plus a slow-marked twin with more examples."""

    def wrap(body):
        def build(n):
            return settings(max_examples=n, deadline=None, derandomize=n == examples,
                            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                   HealthCheck.data_too_large])(given(*strategies)(body))

        return build(examples), pytest.mark.slow(build(SLOW_EXAMPLES))

    return wrap


def outcome(call):
    """(True, result) or (False, None) when call raised ValueError/TypeError with a message;
    any other exception, or a warning other than DivergenceWarning, fails the test."""
    outcome.divergence_warnings = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error")
        warnings.simplefilter("always", nf.DivergenceWarning)
        try:
            result = call()
        except (ValueError, TypeError) as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            return False, None
    outcome.divergence_warnings = [w for w in caught if issubclass(w.category, nf.DivergenceWarning)]
    return True, result


def assert_no_nan(value):
    """Numbers in value (arrays, dicts, tuples, floats) are finite."""
    if isinstance(value, dict):
        for v in value.values():
            assert_no_nan(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            assert_no_nan(v)
    elif isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            assert np.isfinite(value).all(), value
    elif isinstance(value, float):
        assert math.isfinite(value), value


# --- data ---------------------------------------------------------------------------------

DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int64, np.uint8, np.bool_, np.complex64, np.str_, object]


@st.composite
def arrays(draw, rows=None, cols=None, values=floats_mostly_fine):
    """An array-like: mostly 2-D numbers of some dtype and memory order, sometimes anything else."""
    shape_kind = draw(st.sampled_from(["2d"] * 8 + ["1d", "3d", "scalar", "none", "list", "pandas", "ragged"]))
    if shape_kind == "none":
        return None
    if shape_kind == "scalar":
        return draw(floats_any)
    if shape_kind == "ragged":
        return [[1.0, 2.0], [3.0]]
    n = draw(st.integers(0, 9)) if rows is None else rows
    m = draw(st.integers(0, 5)) if cols is None else cols
    shape = {"2d": (n, m), "list": (n, m), "pandas": (n, m), "1d": (n,), "3d": (n, m, 2)}[shape_kind]
    flat = draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    base = np.array(flat, dtype=np.float64).reshape(shape)
    dtype = draw(st.sampled_from(DTYPES[:3] * 4 + DTYPES))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        arr = base.astype(dtype)
    order = draw(st.sampled_from(["C", "F", "strided"]))
    if order == "F":
        arr = np.asfortranarray(arr)
    elif order == "strided" and arr.ndim == 2:
        arr = np.repeat(arr, 2, axis=1)[:, ::2]
    if shape_kind == "list":
        return arr.tolist()
    if shape_kind == "pandas":
        return pd.DataFrame(arr)
    return arr


@st.composite
def targets(draw, n):
    """y for n rows: class labels of several kinds, real values, one-hot rows, or junk."""
    kind = draw(st.sampled_from(["int", "int", "str", "binary", "float", "float", "onehot", "junk", "wrong_len"]))
    if kind == "int":
        return np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    if kind == "str":
        return np.array(draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)))
    if kind == "binary":
        return np.array(draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n)))
    if kind == "float":
        return np.array(draw(st.lists(floats_mostly_fine, min_size=n, max_size=n)))
    if kind == "onehot":
        return np.eye(3)[np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=int)]
    if kind == "wrong_len":
        return np.zeros(n + 1)
    return draw(junk)


def rows_of(X) -> int:
    try:
        return len(X)
    except TypeError:
        return 0


# --- models to predict with ---------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def trained(kind: str, dtype: str):
    r = np.random.default_rng(0)
    X = r.normal(size=(60, 4))
    y = {"classifier": r.integers(0, 3, 60), "binary": np.where(r.random(60) < 0.5, "no", "yes"),
         "regressor": X @ [1.0, -2.0, 0.5, 0.0]}[kind]
    model, _ = nf.train(nf.Hyperparameters(hidden=(8,), epochs=2, dtype=dtype, seed=0), X, y, verbose=False)
    return model, y


# --- the properties -----------------------------------------------------------------------

HP_FIELDS = [f for f in nf.Hyperparameters.__dataclass_fields__]


def _hyperparameters(changes):
    ok, hp = outcome(lambda: nf.Hyperparameters(**changes))
    if ok:
        assert nf.Hyperparameters.from_json(hp.to_json()) == hp
        assert_no_nan([v for v in hp.to_dict().values() if isinstance(v, float)])


test_hyperparameters, test_hyperparameters_slow = properties(
    st.dictionaries(st.sampled_from(HP_FIELDS), junk, max_size=3))(_hyperparameters)


numbers = st.one_of(floats_any, st.integers(-5, 500))
test_hyperparameter_numbers, test_hyperparameter_numbers_slow = properties(
    st.fixed_dictionaries({}, optional={
        "lr": numbers, "eps": numbers, "l1": numbers, "l2": numbers, "momentum": numbers, "beta1": numbers,
        "beta2": numbers, "rho": numbers, "weight_decay": numbers, "clip_norm": numbers, "init_scale": numbers,
        "min_delta": numbers, "min_lr": numbers, "decay_rate": numbers, "dropout": numbers,
        "validation_split": numbers, "batch_size": numbers, "epochs": numbers, "patience": numbers,
        "optimizer": st.sampled_from(["sgd", "adam", "adamw", "rmsprop", "adagrad"]),
        "schedule": st.sampled_from(["constant", "cosine", "plateau", "step"]),
        "init": st.sampled_from(["auto", "normal", "constant"]), "dtype": st.sampled_from(["float32", "float64"]),
    }))(_hyperparameters)


def _model_specs(units, activation, alpha, inputs, init, init_scale, seed, dtype, rate):
    ok, layers = outcome(lambda: [nf.Dense(units, activation, alpha=alpha), nf.Dropout(rate), nf.Dense(2, "softmax")])
    if not ok:
        layers = [nf.Dense(3), nf.Dense(2, "softmax")]
    ok, model = outcome(lambda: nf.Sequential(layers, inputs=inputs, init=init, init_scale=init_scale, seed=seed,
                                              dtype=dtype))
    if ok and model.built:
        assert_no_nan(list(model.parameters().values()))
        assert model.summary()


test_model_specs, test_model_specs_slow = properties(
    st.one_of(st.integers(1, 4), junk), st.one_of(st.sampled_from(["relu", "elu", "leaky_relu", "tanh"]), junk),
    st.one_of(st.none(), floats_any), st.one_of(st.integers(1, 5), junk),
    st.one_of(st.sampled_from(["auto", "normal", "uniform", "constant"]), junk), st.one_of(st.none(), numbers),
    st.one_of(st.integers(0, 2**64), junk), st.one_of(st.sampled_from(["float32", "float64"]), junk),
    st.one_of(st.floats(0, 1), junk))(_model_specs)


TRAIN_SETTINGS = st.fixed_dictionaries({
    "hidden": st.sampled_from([(), (3,), (4, 3)]),
    "activation": st.sampled_from(["relu", "tanh", "elu", "sigmoid", "leaky_relu"]),
    "optimizer": st.sampled_from(["sgd", "adam", "rmsprop", "adagrad", "adamw"]),
    "lr": st.sampled_from([1e-3, 0.1, 10.0, 1e10, 1e30, 3e38]),
    "batch_size": st.sampled_from([None, 1, 3, 32]),
    "epochs": st.integers(1, 3),
    "dtype": st.sampled_from(["float32", "float64"]),
    "standardize": st.booleans(),
    "validation_split": st.sampled_from([0.0, 0.0, 0.3]),
    "l2": st.sampled_from([0.0, 1e-3, 1e30]),
    "patience": st.sampled_from([None, 1]),
})


def _train(settings_, X, data):
    y = data.draw(targets(rows_of(X)))
    w = data.draw(st.one_of(st.none(), st.none(), arrays(rows=rows_of(X), values=floats_any).map(
        lambda a: a[:, 0] if isinstance(a, np.ndarray) and a.ndim == 2 and a.shape[1] else a)))
    ok, hp = outcome(lambda: nf.Hyperparameters(**settings_))
    if not ok:
        return
    ok, result = outcome(lambda: nf.train(hp, X, y, sample_weight=w, verbose=False))
    if not ok:
        return
    model, history = result
    assert (history.stop_reason == "diverged") == bool(outcome.divergence_warnings)
    assert_no_nan(list(model.parameters().values()))
    # whatever training returns has finite outputs on its training data
    out = model.forward(X)
    assert_no_nan(out)
    for method in ("predict", "predict_proba", "forward"):
        ok, value = outcome(lambda: getattr(model, method)(X))
        assert ok or method == "predict_proba"  # predict_proba is for classifiers only
        assert_no_nan(value)
    ok, scores = outcome(lambda: model.evaluate(X, y, sample_weight=w))
    assert_no_nan(scores)


test_train, test_train_slow = properties(TRAIN_SETTINGS, arrays(), st.data())(_train)


def _fit_settings(kwargs, data):
    X = data.draw(arrays(cols=3))
    y = data.draw(targets(rows_of(X)))
    model = nf.Sequential([nf.Dense(4, "tanh"), nf.Dense(1, "identity")], inputs=3, seed=0)
    ok, history = outcome(lambda: model.fit(X, y, verbose=False, **kwargs))
    if ok:
        assert (history.stop_reason == "diverged") == bool(outcome.divergence_warnings)
        assert_no_nan(list(model.parameters().values()))
        assert_no_nan(model.forward(X))


FIT_KWARGS = st.fixed_dictionaries({}, optional={
    name: junk for name in ("loss", "optimizer", "epochs", "batch_size", "validation", "validation_split",
                            "sample_weight", "l1", "l2", "clip_norm", "schedule", "callbacks", "shuffle",
                            "standardize", "divergence_factor", "verbose")
})
test_fit_settings, test_fit_settings_slow = properties(FIT_KWARGS, st.data())(_fit_settings)


OPTIMIZER_SPECS = st.one_of(
    st.builds(nf.SGD, lr=numbers, momentum=numbers), st.builds(nf.Adam, lr=numbers, beta1=numbers, eps=numbers),
    st.builds(nf.RMSProp, rho=numbers, eps=numbers), st.builds(nf.AdamW, weight_decay=numbers, beta2=numbers),
    st.builds(nf.Adagrad, eps=numbers))


def _fit_optimizer(dtype, data):
    ok, optimizer = outcome(lambda: data.draw(OPTIMIZER_SPECS))
    if not ok:
        return
    r = np.random.default_rng(0)
    X, y = r.normal(size=(20, 3)), r.normal(size=20)
    model = nf.Sequential([nf.Dense(4, "relu"), nf.Dense(1, "identity")], inputs=3, dtype=dtype, seed=0)
    ok, history = outcome(lambda: model.fit(X, y, optimizer=optimizer, epochs=2, verbose=False))
    if ok:
        assert (history.stop_reason == "diverged") == bool(outcome.divergence_warnings)
        assert_no_nan(model.forward(X))


test_fit_optimizer, test_fit_optimizer_slow = properties(st.sampled_from(["float32", "float64"]), st.data())(
    _fit_optimizer)


def _predict(kind, dtype, X, data):
    model, y_train = trained(kind, dtype)
    for method in ("predict", "predict_proba", "forward"):
        ok, value = outcome(lambda: getattr(model, method)(X))
        assert_no_nan(value)
        if ok:
            assert len(value) == rows_of(X)
    y = data.draw(st.one_of(st.just(y_train[:rows_of(X)]), targets(rows_of(X))))
    ok, scores = outcome(lambda: model.evaluate(X, y))
    assert_no_nan(scores)


test_predict, test_predict_slow = properties(st.sampled_from(["classifier", "binary", "regressor"]),
                                             st.sampled_from(["float32", "float64"]), arrays(cols=4), st.data())(
    _predict)


def _losses(name, y_true, data):
    like = [None]
    if isinstance(y_true, np.ndarray):  # predictions of y_true's shape: probabilities, or y_true's own values
        like = [np.full(y_true.shape, 0.5)]
        if y_true.dtype.kind in "biuf":
            with np.errstate(all="ignore"):
                like.append(np.abs(np.sin(y_true.astype(float))))
    y_pred = data.draw(st.one_of(arrays(), st.sampled_from(like)))
    w = data.draw(st.one_of(st.none(), arrays(values=floats_any)))
    for call in (lambda: nf.losses.loss(name, y_true, y_pred, w), lambda: nf.losses.gradient(name, y_true, y_pred, w),
                 lambda: getattr(nf.losses, name if name in nf.losses.LOSSES else "mse")(y_true, y_pred, w)):
        ok, value = outcome(call)
        assert_no_nan(value)


test_losses, test_losses_slow = properties(st.sampled_from([*nf.losses.LOSSES, "hinge", None]), arrays(),
                                           st.data())(_losses)


def _splits(n, sizes, seed, data):
    stratify = data.draw(st.one_of(st.none(), targets(n if isinstance(n, int) and 0 <= n < 50 else 3)))
    ok, parts = outcome(lambda: nf.data.split_indices(n, sizes, seed, stratify))
    if ok:
        joined = np.sort(np.concatenate(parts))
        np.testing.assert_array_equal(joined, np.arange(n))


test_split_indices, test_split_indices_slow = properties(
    st.one_of(st.integers(-2, 40), junk), st.one_of(st.lists(floats_any, max_size=3), junk),
    st.one_of(st.integers(0, 2**70), junk), st.data())(_splits)


def _train_test_splits(X, data):
    y = data.draw(targets(rows_of(X)))
    size = data.draw(st.one_of(floats_any, junk))
    stratify = data.draw(st.one_of(st.sampled_from(["auto", True, False, None]), junk))
    for call in (lambda: nf.data.train_test_split(X, y, test_size=size, stratify=stratify),
                 lambda: nf.data.train_val_test_split(X, y, val_size=size, stratify=stratify)):
        ok, parts = outcome(call)
        if ok:
            assert sum(len(p) for p in parts[:len(parts) // 2]) == rows_of(X)


test_train_test_split, test_train_test_split_slow = properties(arrays(), st.data())(_train_test_splits)


def _standardizer(X, X_new):
    ok, s = outcome(lambda: nf.data.Standardizer().fit(X))
    if not ok:
        return
    assert_no_nan([s.mean_, s.scale_])
    assert (s.scale_ > 0).all()
    for method in ("transform", "inverse_transform"):
        ok, Z = outcome(lambda: getattr(s, method)(X_new))
        assert_no_nan(Z)


test_standardizer, test_standardizer_slow = properties(arrays(), arrays())(_standardizer)


def _one_hot(y, classes, dtype):
    ok, result = outcome(lambda: nf.data.one_hot(y, classes, dtype))
    if ok:
        Y, found = result
        assert Y.shape == (rows_of(y), len(found))
        assert (Y.sum(axis=1) == 1).all()


test_one_hot, test_one_hot_slow = properties(
    st.one_of(targets(5), arrays()), st.one_of(st.none(), targets(3), junk),
    st.sampled_from([np.float32, np.float64, np.int64, "U3", None, "bogus"]))(_one_hot)
