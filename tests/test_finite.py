"""Nothing non-finite comes back silently: diverging runs say so and restore weights whose
cost was measured finite, settings that vanish or overflow in the model's dtype are refused,
and rows whose outputs overflow are refused by every prediction method."""

import warnings

import numpy as np
import pytest

import nnfast as nf
from conftest import regression_data


@pytest.fixture(scope="module")
def digits_all():
    return nf.data.load_digits()


def train_recording(hp, X, y, **kwargs):
    """nf.train, returning also the DivergenceWarnings it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, history = nf.train(hp, X, y, verbose=False, **kwargs)
    other = [w for w in caught if not issubclass(w.category, nf.DivergenceWarning)]
    assert not other, [str(w.message) for w in other]
    return model, history, [str(w.message) for w in caught]


def assert_finite_on(model, X):
    assert all(np.isfinite(v).all() for v in model.parameters().values())
    assert np.isfinite(model.forward(X)).all()  # forward raises if a row's outputs are not finite


# --- divergence ---------------------------------------------------------------------------


def test_one_epoch_that_blows_the_weights_up_is_reported_and_undone(digits_all):
    # the single update gives outputs that are NaN on 724 of the rows; its cost is never measured
    X, y = digits_all
    hp = nf.Hyperparameters(hidden=(8,), epochs=1, batch_size=None, optimizer="sgd", lr=1e30)
    model, history, messages = train_recording(hp, X, y)
    assert history.stop_reason == "diverged" and history.diverged_epoch == 0
    assert len(messages) == 1 and "NaN or infinite on" in messages[0] and "from before training" in messages[0]
    assert np.isfinite(model.predict_proba(X)).all()
    assert_finite_on(model, X)


def test_restored_weights_are_ones_whose_cost_was_measured(digits_all):
    # epoch 2's first batch measures the weights epoch 1 left, NaN: those must not be restored
    X, y = digits_all
    hp = nf.Hyperparameters(hidden=(8,), epochs=3, batch_size=None, optimizer="sgd", lr=1e30)
    model, history, messages = train_recording(hp, X, y)
    assert history.stop_reason == "diverged" and history.diverged_epoch == 1
    assert "batch 1" in messages[0] and "from before training" in messages[0]
    assert np.isfinite(model.predict_proba(X)).all()
    initial = nf.Sequential(hp.layers(10, "cross_entropy"), inputs=64, seed=hp.seed)
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(value, initial.parameters()[key])


def test_the_restored_weights_are_the_latest_measured_below_the_threshold():
    # full-batch gradient descent a little past stability: the cost of each epoch is that of
    # the weights it starts from, 4.6, 10.2, 29.3, 95.3 > 10 x 4.6: the weights epoch 4
    # started from are the exploded ones, those epoch 3 started from the last good ones
    X, y = regression_data(300)
    snapshots = {}

    class Snapshot(nf.Callback):
        def on_epoch_end(self, model, epoch, history):
            snapshots[epoch + 1] = model._flat_params().copy()

    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4, seed=0)
    with pytest.warns(nf.DivergenceWarning, match=r"epoch 4 \(the cost 95.3.*restored the weights after epoch 2,"):
        history = model.fit(X, y, optimizer=nf.SGD(lr=1.0), batch_size=None, epochs=20, callbacks=[Snapshot()],
                            verbose=False)
    assert history.diverged_epoch == 3
    np.testing.assert_array_equal(model._flat_params(), snapshots[2])
    cost = model.evaluate(X, y)["loss"]
    assert cost == pytest.approx(history["loss"][2], rel=1e-5) and cost < 10 * history.initial_loss


def test_divergence_in_a_later_mini_batch_epoch_restores_that_epochs_start():
    X, y = regression_data(300)
    snapshots = {}

    class Snapshot(nf.Callback):
        def on_epoch_end(self, model, epoch, history):
            snapshots[epoch + 1] = model._flat_params().copy()

    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4, seed=0)
    with pytest.warns(nf.DivergenceWarning, match=r"restored the weights after epoch (\d+)") as record:
        history = model.fit(X, y, optimizer=nf.SGD(lr=0.95), batch_size=150, epochs=20, callbacks=[Snapshot()],
                            verbose=False)
    restored = int(str(record[0].message).split("after epoch ")[1].split(",")[0])
    assert 0 < restored <= history.diverged_epoch
    np.testing.assert_array_equal(model._flat_params(), snapshots[restored])
    assert_finite_on(model, X)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 1e30), ("sgd", 3e38), ("sgd", 1e6), ("adam", 1e30), ("adam", 1e6),
                                          ("rmsprop", 1e20), ("adagrad", 1e25)])
@pytest.mark.parametrize("batch_size", [None, 512, 64])
@pytest.mark.parametrize("epochs", [1, 3])
def test_training_never_returns_non_finite_outputs_unannounced(digits_all, optimizer, lr, batch_size, epochs):
    X, y = digits_all
    hp = nf.Hyperparameters(hidden=(16,), epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, seed=1)
    model, history, messages = train_recording(hp, X, y)
    assert (history.stop_reason == "diverged") == bool(messages)
    assert_finite_on(model, X)
    assert np.isfinite(model.evaluate(X, y)["loss"])


def test_parameters_that_overflow_in_the_last_update_are_caught(digits_all):
    X, y = digits_all
    hp = nf.Hyperparameters(hidden=(8,), epochs=1, batch_size=None, optimizer="sgd", lr=3e38)
    model, history, messages = train_recording(hp, X, y)
    assert history.stop_reason == "diverged"
    assert "parameters became NaN or infinite" in messages[0]
    assert_finite_on(model, X)


def test_a_validation_cost_that_overflows_stops_training():
    X, y = regression_data(200, dtype=np.float32)
    X_val = X[:20].copy()
    X_val[0] = 1e30  # finite at the starting weights, not once they have grown

    class Grow(nf.Callback):
        def on_epoch_end(self, model, epoch, history):
            model.parameters()["W1"][:] *= 1e10

    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4, seed=0)
    with pytest.warns(nf.DivergenceWarning, match="validation rows"):
        history = model.fit(X, y, validation=(X_val, y[:20]), optimizer=nf.SGD(lr=1e-6), epochs=5,
                            divergence_factor=1e300, callbacks=[Grow()], verbose=False)
    assert history.stop_reason == "diverged" and history.diverged_epoch == 1
    assert_finite_on(model, X)


def test_weights_a_callback_restores_are_checked_too():
    X, y = regression_data(100)

    class Spoil(nf.Callback):
        def on_train_end(self, model, history):
            model.parameters()["W1"][0, 0] = np.inf

    model = nf.Sequential([nf.Dense(4, "relu"), nf.Dense(1, "identity")], inputs=4, seed=0)
    with pytest.warns(nf.DivergenceWarning, match="with the weights a callback restored.*NaN or infinite"):
        history = model.fit(X, y, epochs=2, callbacks=[Spoil()], verbose=False)
    assert history.stop_reason == "diverged"
    assert_finite_on(model, X)


def test_early_stopping_restores_its_best_weights_after_divergence():
    X, y = regression_data(300)
    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4, seed=0)
    with pytest.warns(nf.DivergenceWarning, match="then a callback .* put in the weights it kept"):
        history = model.fit(X, y, validation=(X, y), optimizer=nf.SGD(lr=1.0), batch_size=None, epochs=20,
                            callbacks=[nf.EarlyStopping(patience=10)], verbose=False)
    assert history.stop_reason == "diverged" and history.best_epoch == 0
    assert model.evaluate(X, y)["loss"] == pytest.approx(history["val_loss"][0], rel=1e-5)
    assert_finite_on(model, X)


def test_a_normal_run_is_untouched_by_the_checks(digits_all):
    X, y = digits_all
    hp = nf.Hyperparameters(hidden=(32,), epochs=4, validation_split=0.2, standardize=True, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, history = nf.train(hp, X, y, verbose=False)
    assert history.stop_reason == "max_epochs" and history.diverged_epoch is None


# --- data on which the network overflows --------------------------------------------------


def test_inputs_that_overflow_at_the_starting_weights_are_refused(digits_all):
    X, y = digits_all
    X = X.copy()
    X[5] = 3e38
    model = nf.Sequential([nf.Dense(16, "relu"), nf.Dense(10, "softmax")], inputs=64, seed=0)
    before = model._flat_params().copy()
    with pytest.raises(ValueError, match=r"cannot train on X: .*NaN or infinite on 1 of 1797 rows.*standardize"):
        model.fit(X, y, epochs=1, verbose=False)
    np.testing.assert_array_equal(model._flat_params(), before)
    assert model.loss is None and model._net.standardization() is None
    model.fit(X, y, epochs=1, standardize=True, verbose=False)  # the advice works
    assert_finite_on(model, X)


def test_validation_inputs_that_overflow_are_refused(digits_all):
    X, y = digits_all
    X_val = overflowing(X[:8], 2)
    model = nf.Sequential([nf.Dense(16, "relu"), nf.Dense(10, "softmax")], inputs=64, seed=0)
    with pytest.raises(ValueError, match="cannot train on X_val"):
        model.fit(X, y, validation=(X_val, y[:10]), epochs=1, verbose=False)
    unbuilt = nf.Sequential([nf.Dense(16, "relu"), nf.Dense(10, "softmax")], seed=0)
    with pytest.raises(ValueError, match="cannot train on X_val: at the model's initial weights .* 2 of 10 rows"):
        unbuilt.fit(X, y, validation=(X_val, y[:10]), epochs=1, verbose=False)
    assert not unbuilt.built


def test_values_beyond_the_dtype_are_named_not_turned_into_infinities(digits_all):
    X, y = digits_all
    big = X.astype(np.float64)
    big[3, 7] = 1e300
    model, _ = nf.train(nf.Hyperparameters(hidden=(8,), epochs=1), X, y, verbose=False)
    for call in (lambda: model.predict(big), lambda: model.fit(big, y, epochs=1, verbose=False),
                 lambda: model.evaluate(big, y)):
        with pytest.raises(ValueError, match=r"outside float32's range .* in column 7 \(1 of 1797 rows\): "
                                             r"use dtype='float64' or rescale X"):
            call()


@pytest.fixture(scope="module")
def trained(digits_all):
    X, y = digits_all
    classifier, _ = nf.train(nf.Hyperparameters(hidden=(32,), epochs=3, seed=0), X, y, verbose=False)
    binary, _ = nf.train(nf.Hyperparameters(hidden=(32,), epochs=3, seed=0), X, y % 2, verbose=False)
    Xr, yr = regression_data(200, dtype=np.float32)
    regressor, _ = nf.train(nf.Hyperparameters(hidden=(), epochs=3, seed=0), Xr, yr, verbose=False)
    return X, y, classifier, binary, regressor


def overflowing(X, rows):
    """X with `rows` rows of alternating +-3e38 appended (the arg-max of a NaN row used to be class 0)."""
    huge = np.float32(3e38) * np.where(np.arange(X.shape[1]) % 2, 1, -1).astype(np.float32)
    return np.vstack([X, np.tile(huge, (rows, 1))]).astype(np.float32)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "forward", "evaluate"])
@pytest.mark.parametrize("which", ["classifier", "binary"])
def test_predictions_refuse_rows_whose_outputs_overflow(trained, method, which):
    X, y, classifier, binary, _ = trained
    model = classifier if which == "classifier" else binary
    X_bad = overflowing(X[:5], 2)
    y_bad = np.concatenate([y[:5], y[:2]]) % (10 if which == "classifier" else 2)
    call = (lambda: model.evaluate(X_bad, y_bad)) if method == "evaluate" else (lambda: getattr(model, method)(X_bad))
    expected = r"NaN or infinite for 2 of 7 rows of X.*scale the inputs or use dtype float64"
    with pytest.raises(ValueError, match=expected):
        call()
    one = overflowing(X[:0], 1)  # the one-row path of a service
    with pytest.raises(ValueError, match="1 of 1 rows"):
        if method == "evaluate":
            model.evaluate(one, y[:1] % 2)
        else:
            getattr(model, method)(one)


def test_regression_predictions_refuse_overflowing_rows(trained):
    *_, regressor = trained
    regressor.parameters()["W1"][:] = 1.0  # a linear model: 4 x 3e38 is infinite in float32
    X_bad = np.vstack([np.ones((2, 4)), np.full((3, 4), 3e38)]).astype(np.float32)
    for call in (regressor.predict, regressor.forward, lambda X: regressor.evaluate(X, np.zeros(5))):
        with pytest.raises(ValueError, match="3 of 5 rows"):
            call(X_bad)


# --- settings that vanish or overflow in the model's dtype --------------------------------

DTYPE_LIMITED = [
    (dict(optimizer="adam", eps=1e-300), "eps=1e-300 is 0 in float32; use float64 or eps >= 1.18e-38"),
    (dict(optimizer="adam", eps=1e-40), "eps=1e-40 is subnormal"),
    (dict(optimizer="rmsprop", eps=1e-300), "eps=1e-300 is 0"),
    (dict(optimizer="adagrad", eps=1e-300), "eps=1e-300 is 0"),
    (dict(lr=1e-50), "lr=1e-50 is 0"),
    (dict(lr=1e39), "lr=1e\\+39 is infinite in float32"),
    (dict(l1=1e-50), "l1=1e-50 is 0"),
    (dict(l2=1e39), "l2=1e\\+39 is infinite"),
    (dict(optimizer="sgd", momentum=1e-50), "momentum=1e-50 is 0"),
    (dict(optimizer="sgd", momentum=1 - 1e-10), "momentum=0.9999999999 rounds to 1 in float32"),
    (dict(optimizer="adam", beta1=1 - 1e-9), "beta1=0.999999999 rounds to 1"),
    (dict(optimizer="adam", beta2=1 - 1e-10), "beta2=0.9999999999 rounds to 1"),
    (dict(optimizer="rmsprop", rho=1 - 1e-10), "rho=0.9999999999 rounds to 1"),
    (dict(optimizer="adamw", weight_decay=1e-50), "weight_decay=1e-50 is 0"),
    (dict(optimizer="adamw", lr=1e-20, weight_decay=1e-20), "lr \\* weight_decay=1e-40 is subnormal"),
    (dict(optimizer="adam", lr=1e38, beta1=0.99), "first Adam step"),
    (dict(clip_norm=1e-50), "clip_norm=1e-50 is 0"),
    (dict(init="normal", init_scale=1e-50), "init_scale=1e-50 is 0"),
    (dict(schedule="cosine", min_lr=1e-50), "min_lr=1e-50 is 0"),
]


@pytest.mark.parametrize("settings,message", DTYPE_LIMITED, ids=[str(s) for s, _ in DTYPE_LIMITED])
def test_hyperparameters_refuse_settings_the_dtype_cannot_hold(settings, message):
    with pytest.raises(ValueError, match=message):
        nf.Hyperparameters(**settings)
    nf.Hyperparameters(**settings, dtype="float64")  # each is a normal float64 number


def test_float64_has_its_own_limits():
    with pytest.raises(ValueError, match=r"eps=1e-320 is subnormal in float64 \(too few digits\); eps >= 2.23e-308"):
        nf.Hyperparameters(eps=1e-320, dtype="float64")


@pytest.mark.parametrize("dtype,ok", [("float32", False), ("float64", True)])
def test_fit_refuses_optimizer_specs_the_model_dtype_cannot_hold(dtype, ok):
    X, y = regression_data(50)
    cases = [dict(optimizer=nf.Adam(eps=1e-300)), dict(optimizer=nf.SGD(momentum=1 - 1e-10)),
             dict(optimizer=nf.RMSProp(rho=1 - 1e-10)), dict(optimizer=nf.AdamW(weight_decay=1e-50)),
             dict(l2=1e-50), dict(l1=1e-300), dict(clip_norm=1e-50),
             dict(schedule=nf.schedules.Cosine(min_lr=1e-50))]
    for kwargs in cases:
        model = nf.Sequential([nf.Dense(1, "identity")], inputs=4, dtype=dtype)
        before = model._flat_params().copy()
        if ok:
            with warnings.catch_warnings():  # accepted; whether training then goes well is another matter
                warnings.simplefilter("ignore", nf.DivergenceWarning)
                model.fit(X, y, epochs=1, verbose=False, **kwargs)
        else:
            with pytest.raises(ValueError, match="in float32; use float64"):
                model.fit(X, y, epochs=1, verbose=False, **kwargs)
            np.testing.assert_array_equal(model._flat_params(), before)


def test_layers_and_initialisers_the_dtype_cannot_hold():
    with pytest.raises(ValueError, match="alpha=1e-50 is 0 in float32"):
        nf.Sequential([nf.Dense(3, "leaky_relu", alpha=1e-50)])
    with pytest.raises(ValueError, match="init_scale=1e\\+39 is infinite"):
        nf.Sequential([nf.Dense(3)], init_scale=1e39)
    with pytest.raises(ValueError, match="infinite initial weights"):
        nf.Sequential([nf.Dense(300, init="normal")], inputs=300, init_scale=3e38)
    nf.Sequential([nf.Dense(3, "leaky_relu", alpha=1e-50)], inputs=2, dtype="float64")
