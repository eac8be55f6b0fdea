"""Bad input gets a clear error naming the problem, and leaves the model as it was."""

import numpy as np
import pytest

import nnfast as nf
from conftest import regression_data


@pytest.fixture
def data():
    r = np.random.default_rng(0)
    return r.normal(size=(40, 5)).astype(np.float32), r.integers(0, 3, 40)


@pytest.fixture
def model(data):
    X, y = data
    m = nf.Sequential([nf.Dense(8, "relu"), nf.Dense(3, "softmax")], inputs=5, seed=0)
    m.fit(X, y, epochs=1, verbose=False)
    return m


BAD_X = [
    ("1-D", lambda X: X[:, 0], ValueError, "2-D.*reshape"),
    ("3-D", lambda X: X[None], ValueError, "2-D"),
    ("empty", lambda X: X[:0], ValueError, "no samples"),
    ("no features", lambda X: X[:, :0], ValueError, "no features"),
    ("NaN", lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), ValueError,
     r"missing values \(NaN, NA or None\) in column 2 \(1 of 40 rows\)"),
    ("inf", lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), ValueError,
     r"infinite values in column 3 \(1 of 40 rows\)"),
    ("strings", lambda X: X.astype(str), TypeError, "real numbers"),
    ("objects", lambda X: X.astype(str).astype(object), TypeError, "column 0 holds strings"),
    ("complex", lambda X: X.astype(complex), TypeError, "real numbers"),
    ("None", lambda X: None, TypeError, "None"),
    ("ragged", lambda X: [[1.0, 2.0], [3.0]], ValueError, "cannot be read|2-D"),
    ("wrong width", lambda X: X[:, :4], ValueError, "4 features but the model expects 5"),
]


@pytest.mark.parametrize("name,mutate,error,message", BAD_X, ids=[b[0] for b in BAD_X])
def test_bad_X_is_refused_everywhere(model, data, name, mutate, error, message):
    X, y = data
    before = model._flat_params().copy()
    bad = mutate(X)
    for call in (lambda: model.predict(bad), lambda: model.fit(bad, y, epochs=1, verbose=False),
                 lambda: model.evaluate(bad, y)):
        with pytest.raises(error, match=message):
            call()
    np.testing.assert_array_equal(model._flat_params(), before)


def test_mismatched_lengths(model, data):
    X, y = data
    with pytest.raises(ValueError, match="40 samples but y has 39"):
        model.fit(X, y[:-1], epochs=1, verbose=False)
    with pytest.raises(ValueError, match="samples but y has"):
        model.evaluate(X, y[:-1])
    with pytest.raises(ValueError, match="X_val has 40 samples but y_val has 10"):
        model.fit(X, y, validation=(X, y[:10]), epochs=1, verbose=False)


def test_bad_targets(model, data):
    X, y = data
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X, np.where(np.arange(40) == 2, np.nan, y), loss="cross_entropy", epochs=1, verbose=False)
    with pytest.raises(ValueError, match="None"):
        model.fit(X, np.array([None] + ["a"] * 39, dtype=object), epochs=1, verbose=False)
    # a fitted model continues with its classes: these are fresh starts (reset=True)
    with pytest.raises(ValueError, match="at least two classes"):
        model.fit(X, np.zeros(40, dtype=int), epochs=1, reset=True, verbose=False)
    with pytest.raises(ValueError, match="output layer has 3 units but y needs 4"):
        model.fit(X, np.arange(40) % 4, epochs=1, reset=True, verbose=False)
    with pytest.raises(ValueError, match="must sum to 1"):
        model.fit(X, np.ones((40, 3)), epochs=1, reset=True, verbose=False)
    reg = nf.Sequential([nf.Dense(1, "identity")], inputs=5)
    with pytest.raises(ValueError, match="infinite"):
        reg.fit(X, np.full(40, np.inf), epochs=1, verbose=False)
    with pytest.raises(TypeError, match="numbers"):
        reg.fit(X, np.array(["a"] * 40), epochs=1, verbose=False)


def test_labels_unseen_at_fit_time(model, data):
    X, y = data
    with pytest.raises(ValueError, match=r"not seen in training: \[7\]"):
        model.evaluate(X, np.where(np.arange(40) == 5, 7, y))
    with pytest.raises(ValueError, match=r"not seen in training: \['a'\]"):
        model.evaluate(X, np.array(["a"] * 40))
    with pytest.raises(ValueError, match="not seen in training"):
        model.fit(X, y, validation=(X, y + 10), epochs=1, verbose=False)


def test_bad_sample_weights(model, data):
    X, y = data
    for w, message in [(np.ones(39), "shape"), (-np.ones(40), "non-negative"), (np.zeros(40), "all zero"),
                       (np.full(40, np.nan), "missing values"), (np.array(["a"] * 40), "real numbers")]:
        with pytest.raises((ValueError, TypeError), match=message):
            model.fit(X, y, sample_weight=w, epochs=1, verbose=False)


@pytest.mark.parametrize("kwargs,message", [
    (dict(epochs=0), "epochs"), (dict(epochs=2.5), "integer"), (dict(batch_size=0), "batch_size"),
    (dict(l2=-1), "l2"), (dict(l1=float("inf")), "l1"), (dict(clip_norm=0), "clip_norm"),
    (dict(loss="hinge"), "unknown loss 'hinge'; valid: binary_cross_entropy, cross_entropy, mae, mse"),
    (dict(optimizer="lbfgs"), "unknown optimizer"), (dict(schedule="warmup"), "unknown schedule"),
    (dict(validation_split=1.0), "validation_split"), (dict(validation=([1],)), "validation must be a tuple"),
    (dict(callbacks=[print]), "Callback"), (dict(optimizer=42), "optimizer must be"),
])
def test_bad_fit_settings(model, data, kwargs, message):
    X, y = data
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(X, y, **{"verbose": False, **kwargs})


def test_bad_layers():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nf.Dense(3, "swish")
    with pytest.raises(ValueError, match="units"):
        nf.Dense(0)
    with pytest.raises(ValueError, match="Dropout rate"):
        nf.Dropout(1.0)
    with pytest.raises(ValueError, match="softmax is for the output"):
        nf.Sequential([nf.Dense(4, "softmax"), nf.Dense(2, "softmax")])
    with pytest.raises(ValueError, match="last layer must be Dense"):
        nf.Sequential([nf.Dense(4), nf.Dropout(0.5)])
    with pytest.raises(ValueError, match="two Dropout"):
        nf.Sequential([nf.Dropout(0.1), nf.Dropout(0.5), nf.Dense(2)])
    with pytest.raises(TypeError, match="nnfast.Dense"):
        nf.Sequential(["dense"])
    with pytest.raises(ValueError, match="at least one"):
        nf.Sequential([])


def test_using_an_untrained_model():
    m = nf.Sequential([nf.Dense(2, "softmax")])
    with pytest.raises(RuntimeError, match="not built"):
        m.parameters()
    m.build(3)
    with pytest.raises(RuntimeError, match="not been trained"):
        m.predict(np.ones((1, 3)))
    assert m.forward(np.ones((1, 3))).shape == (1, 2)


def test_predict_proba_refuses_regression():
    X, y = regression_data(30)
    model, _ = nf.train(nf.Hyperparameters(hidden=(), epochs=1), X, y, verbose=False)
    with pytest.raises(TypeError, match="classifiers"):
        model.predict_proba(X)


def test_train_needs_hyperparameters():
    with pytest.raises(TypeError, match="Hyperparameters"):
        nf.train({"lr": 0.1}, np.ones((3, 2)), np.ones(3))


def test_set_num_threads_validates():
    with pytest.raises(ValueError):
        nf.set_num_threads(0)
    nf.set_num_threads(nf.get_num_threads())


def test_none_means_nothing_for_callbacks_and_a_constant_schedule(data):
    X, y = data
    model = nf.Sequential([nf.Dense(8, "relu"), nf.Dense(3, "softmax")], inputs=5, seed=0)
    history = model.fit(X, y, epochs=2, callbacks=None, schedule=None, verbose=None)
    assert history.epochs == 2 and history["lr"] == [0.001, 0.001]
    _, history = nf.train(nf.Hyperparameters(hidden=(4,), epochs=1), X, y, callbacks=None, verbose=None)
    assert history.epochs == 1


BAD_FLAGS = [
    (dict(callbacks=nf.EarlyStopping()), TypeError, r"a list of nnfast.Callback instances, not one callback"),
    (dict(callbacks=3), TypeError, "callbacks must be a list"),
    (dict(verbose="loud"), TypeError, "verbose must be True, False or 'auto'"),
    (dict(shuffle=None), TypeError, "shuffle must be True or False"),
    (dict(shuffle="no"), TypeError, "shuffle must be True or False"),
    (dict(standardize=1), TypeError, "standardize must be True or False"),
    (dict(divergence_factor=1.0), ValueError, "divergence_factor"),
]


@pytest.mark.parametrize("kwargs,error,message", BAD_FLAGS)
def test_bad_fit_flags(model, data, kwargs, error, message):
    X, y = data
    with pytest.raises(error, match=message):
        model.fit(X, y, **{"verbose": False, **kwargs})


@pytest.mark.parametrize("kwargs,error,message", BAD_FLAGS[:3])
def test_bad_train_flags(data, kwargs, error, message):
    X, y = data
    with pytest.raises(error, match=message):
        nf.train(nf.Hyperparameters(hidden=(4,), epochs=1), X, y, **{"verbose": False, **kwargs})


def test_none_data_is_named(model, data):
    X, y = data
    with pytest.raises(TypeError, match="y is None"):
        model.fit(X, None, epochs=1, verbose=False)
    with pytest.raises(TypeError, match="y is None"):
        model.evaluate(X, None)
    with pytest.raises(TypeError, match="layers must be a list"):
        nf.Sequential(None)
    with pytest.raises(TypeError, match="layers must be a list"):
        nf.Sequential(nf.Dense(3))


def test_huge_batch_sizes_mean_the_whole_set(data):
    X, y = data
    model, history = nf.train(nf.Hyperparameters(hidden=(4,), epochs=2, batch_size=2**70), X, y, verbose=False)
    assert model._net.steps == 2


def test_sample_weights_beyond_the_dtype_or_summing_to_infinity(model, data):
    X, y = data
    with pytest.raises(ValueError, match="outside float32's range.*use dtype='float64' or rescale sample_weight"):
        model.fit(X, y, sample_weight=np.full(40, 1e300), epochs=1, verbose=False)
    with pytest.raises(ValueError, match="sum overflows float64"):
        nf.losses.mse(np.zeros(2), np.ones(2), sample_weight=[1e308, 1e308])
