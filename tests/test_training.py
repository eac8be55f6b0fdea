"""The training workflow end to end: learning, reproducibility, stopping, schedules, divergence."""

import math
import warnings

import numpy as np
import pytest

import nnfast as nf
from conftest import regression_data


def test_digits_reach_97_percent_validation_accuracy(digits):
    X_tr, X_val, X_te, y_tr, y_val, y_te = digits
    hp = nf.Hyperparameters(hidden=(128,), epochs=60, lr=2e-3, batch_size=32, standardize=True, patience=8,
                            seed=0)
    model, history = nf.train(hp, X_tr, y_tr, validation=(X_val, y_val), verbose=False)
    assert max(history["val_accuracy"]) >= 0.97
    assert model.evaluate(X_val, y_val)["accuracy"] >= 0.97
    assert history.stop_reason in ("early_stopped", "max_epochs")
    assert sum(history["time"]) < 10  # seconds on any machine we run on; speed is measured in bench/


def test_regression_reaches_r2_of_095():
    X, y = regression_data(1500, seed=0)
    X_tr, X_te, y_tr, y_te = nf.data.train_test_split(X, y, test_size=0.2, seed=0)
    hp = nf.Hyperparameters(hidden=(64, 64), activation="tanh", epochs=150, lr=3e-3, batch_size=32, patience=15,
                            validation_split=0.15, seed=0)
    model, history = nf.train(hp, X_tr, y_tr, verbose=False)
    assert model.loss == "mse" and history.metric == "r2"
    r2 = model.evaluate(X_te, y_te)["r2"]
    assert r2 >= 0.95, r2
    assert model.predict(X_te).shape == y_te.shape


def test_same_seed_same_weights_and_run(digits):
    X_tr, X_val, _, y_tr, y_val, _ = digits
    hp = nf.Hyperparameters(hidden=(32, 16), epochs=3, dropout=0.2, seed=7)
    m1, h1 = nf.train(hp, X_tr, y_tr, validation=(X_val, y_val), verbose=False)
    m2, h2 = nf.train(hp, X_tr, y_tr, validation=(X_val, y_val), verbose=False)
    m3, _ = nf.train(hp.replace(seed=8), X_tr, y_tr, validation=(X_val, y_val), verbose=False)
    for key, value in m1.parameters().items():
        np.testing.assert_array_equal(value, m2.parameters()[key])
    assert h1["loss"] == h2["loss"] and h1["val_loss"] == h2["val_loss"]
    assert not np.array_equal(m1.parameters()["W1"], m3.parameters()["W1"])


def test_initial_weights_depend_only_on_seed_and_shape():
    a = nf.Sequential([nf.Dense(8, "relu"), nf.Dense(3, "softmax")], inputs=5, seed=3)
    b = nf.Sequential([nf.Dense(8, "relu"), nf.Dense(3, "softmax")], inputs=5, seed=3)
    np.testing.assert_array_equal(a.parameters()["W1"], b.parameters()["W1"])
    assert np.all(a.parameters()["b1"] == 0)


@pytest.mark.parametrize("init,expected_std", [("he_normal", math.sqrt(2 / 400)), ("xavier_normal", math.sqrt(2 / 600)),
                                               ("lecun_normal", math.sqrt(1 / 400)),
                                               ("he_uniform", math.sqrt(6 / 400) / math.sqrt(3)),
                                               ("xavier_uniform", math.sqrt(6 / 600) / math.sqrt(3)),
                                               ("lecun_uniform", math.sqrt(3 / 400) / math.sqrt(3)),
                                               ("normal", 0.01), ("uniform", 0.05 / math.sqrt(3))])
def test_initialisers_have_their_documented_spread(init, expected_std):
    net = nf.Sequential([nf.Dense(200, "relu", init=init)], inputs=400, seed=0)
    W = net.parameters()["W1"]
    assert abs(W.mean()) < 0.05 * expected_std
    assert W.std() == pytest.approx(expected_std, rel=0.02)


def test_auto_init_fits_the_activation():
    relu = nf.Sequential([nf.Dense(200, "relu")], inputs=400, seed=0).parameters()["W1"].std()
    tanh = nf.Sequential([nf.Dense(200, "tanh")], inputs=400, seed=0).parameters()["W1"].std()
    assert relu == pytest.approx(math.sqrt(2 / 400), rel=0.02)  # He
    assert tanh == pytest.approx(math.sqrt(2 / 600), rel=0.02)  # Xavier


def test_constant_and_zero_init():
    net = nf.Sequential([nf.Dense(3, "relu", init="constant"), nf.Dense(2, "identity", init="zeros")], inputs=2,
                        init_scale=0.5)
    assert np.all(net.parameters()["W1"] == 0.5) and np.all(net.parameters()["W2"] == 0)


def test_early_stopping_restores_the_best_weights(digits):
    X_tr, X_val, _, y_tr, y_val, _ = digits
    # a large network with a high rate overfits the small training part quickly
    hp = nf.Hyperparameters(hidden=(256,), epochs=200, lr=1e-2, patience=3, standardize=True, seed=1)
    model, history = nf.train(hp, X_tr[:300], y_tr[:300], validation=(X_val, y_val), verbose=False)
    assert history.stop_reason == "early_stopped"
    assert history.epochs < 200
    best = int(np.argmin(history["val_loss"]))
    assert history.best_epoch == best
    assert history.epochs - 1 - best == 3  # stopped after `patience` epochs without improvement
    assert model.evaluate(X_val, y_val)["loss"] == pytest.approx(history["val_loss"][best], rel=1e-5)


def test_early_stopping_without_validation_watches_the_training_cost():
    X, y = regression_data(200)
    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4)
    history = model.fit(X, y, epochs=500, optimizer=nf.SGD(lr=0.05), callbacks=[nf.EarlyStopping(patience=2,
                        min_delta=1e-4)], verbose=False)
    assert history.stop_reason == "early_stopped" and history.epochs < 500


class _ScriptedLoss(nf.Callback):
    """Replaces each epoch's recorded training cost by the next value of a script."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, model, epoch, history):
        history["loss"][-1] = self.values[epoch]


def _epochs_until_stopped(values, **stopping):
    X, y = regression_data(50)
    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4)
    history = model.fit(X, y, epochs=len(values), optimizer=nf.SGD(lr=1e-3), verbose=False,
                        callbacks=[_ScriptedLoss(values), nf.EarlyStopping(**stopping)])
    return history.epochs, history.best_epoch


def _sklearn_epochs_until_stopped(values, n_iter_no_change, tol):
    """scikit-learn's own rule (MLPClassifier without early_stopping: the training loss must
    beat the best so far by tol; it stops when more than n_iter_no_change epochs did not),
    run through its method on a stand-in estimator."""
    from types import SimpleNamespace

    from sklearn.neural_network import MLPClassifier

    mlp = SimpleNamespace(loss_curve_=[], best_loss_=np.inf, tol=tol, _no_improvement_count=0)
    for epoch, value in enumerate(values):
        mlp.loss_curve_.append(value)
        MLPClassifier._update_no_improvement_count(mlp, False, None, None, None)
        if mlp._no_improvement_count > n_iter_no_change:
            return epoch + 1
    return len(values)


@pytest.mark.parametrize("seed", range(6))
def test_improvement_over_best_is_scikit_learns_stopping_rule(seed):
    """improvement_over="best" with patience n + 1 stops where MLPClassifier(n_iter_no_change=n)
    does, on slow, noisy decreases; Keras's rule (the default) never stops sooner."""
    pytest.importorskip("sklearn")
    r = np.random.default_rng(seed)
    values = list(2.0 - np.cumsum(r.uniform(0.0, 1.6e-4, 300)) + r.normal(0, 5e-5, 300))
    sklearn_epochs = _sklearn_epochs_until_stopped(values, n_iter_no_change=4, tol=1e-4)
    epochs, best = _epochs_until_stopped(values, patience=5, min_delta=1e-4, improvement_over="best")
    assert epochs == sklearn_epochs < len(values)
    assert best == int(np.argmin(values[:epochs]))  # the best value, even when it did not count
    keras_epochs, _ = _epochs_until_stopped(values, patience=5, min_delta=1e-4)
    assert keras_epochs >= epochs


def test_improvement_over_the_last_improvement_adds_up_small_gains():
    """Keras's rule (the default): gains of 0.6 min_delta count every second epoch, so a
    steady slow decrease never stops; over the best, none counts and it stops after patience."""
    values = [1.0 - 0.6e-3 * e for e in range(40)]
    assert _epochs_until_stopped(values, patience=3, min_delta=1e-3) == (40, 38)
    assert _epochs_until_stopped(values, patience=3, min_delta=1e-3, improvement_over="best") == (4, 3)
    flat = [1.0, 0.5] + [0.5] * 10  # without min_delta the two rules are one
    for rule in ("last_improvement", "best"):
        assert _epochs_until_stopped(flat, patience=3, improvement_over=rule) == (5, 1)


def test_improvement_over_is_checked_by_name():
    with pytest.raises(ValueError, match="improvement_over 'sklearn'; valid: best, last_improvement"):
        nf.EarlyStopping(improvement_over="sklearn")
    with pytest.raises(ValueError, match="improvement_over"):
        nf.Hyperparameters(improvement_over="keras")


SCHEDULE_CASES = [
    ("constant", {}, lambda e: 0.1),
    ("step", {"decay_rate": 0.5, "decay_steps": 2}, lambda e: 0.1 * 0.5 ** (e // 2)),
    ("exponential", {"decay_rate": 0.9}, lambda e: 0.1 * 0.9**e),
    ("inverse_time", {"decay_rate": 0.5, "decay_steps": 1}, lambda e: 0.1 / (1 + 0.5 * e)),
    ("cosine", {"min_lr": 0.01}, lambda e: 0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * e / 6))),
]


@pytest.mark.parametrize("name,settings,expected", SCHEDULE_CASES, ids=[c[0] for c in SCHEDULE_CASES])
def test_schedules_set_the_rate_each_epoch(name, settings, expected):
    X, y = regression_data(100)
    hp = nf.Hyperparameters(hidden=(8,), optimizer="sgd", lr=0.1, epochs=6, schedule=name, **settings)
    _, history = nf.train(hp, X, y, verbose=False)
    np.testing.assert_allclose(history["lr"], [expected(e) for e in range(6)], rtol=1e-12)


def test_reduce_on_plateau_cuts_the_rate_after_patience_epochs():
    class Scripted(nf.Callback):  # replaces the recorded cost: improves twice, then stays flat
        def on_epoch_end(self, model, epoch, history):
            history["loss"][-1] = [3.0, 2.0, 1.0][min(epoch, 2)]

    X, y = regression_data(100)
    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4)
    history = model.fit(X, y, epochs=9, optimizer=nf.SGD(lr=0.01), callbacks=[Scripted()],
                        schedule=nf.schedules.ReduceOnPlateau(factor=0.5, patience=2), verbose=False)
    # flat epochs 3 and 4 -> halved from epoch 5; flat 5 and 6 -> halved again from epoch 7
    np.testing.assert_allclose(history["lr"], [0.01] * 5 + [0.005] * 2 + [0.0025] * 2)


def test_divergence_stops_training_and_keeps_the_last_good_weights():
    X, y = regression_data(300)
    model = nf.Sequential([nf.Dense(32, "relu"), nf.Dense(1, "identity")], inputs=4, seed=0)
    with pytest.warns(nf.DivergenceWarning, match="diverged"):
        history = model.fit(X, y * 100, optimizer=nf.SGD(lr=5.0), epochs=20, verbose=False)
    assert history.stop_reason == "diverged"
    assert history.diverged_epoch == history.epochs - 1
    for value in model.parameters().values():
        assert np.isfinite(value).all()
    assert np.isfinite(model.predict(X)).all()


def test_divergence_in_the_first_epoch_restores_the_initial_weights():
    X, y = regression_data(300)
    model = nf.Sequential([nf.Dense(32, "relu"), nf.Dense(1, "identity")], inputs=4, seed=0)
    before = {k: v.copy() for k, v in model.parameters().items()}
    with pytest.warns(nf.DivergenceWarning):
        history = model.fit(X, y * 1e3, optimizer=nf.SGD(lr=100.0), batch_size=8, epochs=5, verbose=False)
    assert history.diverged_epoch == 0
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[key])


def test_a_callback_can_stop_training_and_sees_every_epoch():
    seen = []

    class StopAtThree(nf.Callback):
        def on_epoch_end(self, model, epoch, history):
            seen.append((epoch, history.epochs))
            return epoch == 2

    X, y = regression_data(100)
    history = nf.train(nf.Hyperparameters(hidden=(4,), epochs=10), X, y, callbacks=[StopAtThree()],
                       verbose=False)[1]
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert history.stop_reason == "callback" and history.epochs == 3


def test_full_batch_and_stochastic_gradient_descent():
    X, y = regression_data(64)
    for batch in (None, 1, 7):
        model, history = nf.train(nf.Hyperparameters(hidden=(8,), optimizer="sgd", lr=0.01, epochs=5,
                                                     batch_size=batch), X, y, verbose=False)
        steps = {None: 1, 1: 64, 7: 10}[batch] * 5
        assert model._net.steps == steps
        assert history["loss"][-1] < history.initial_loss


def test_sample_weight_two_equals_a_duplicated_row():
    X, y = regression_data(20)
    hp = nf.Hyperparameters(hidden=(5,), optimizer="sgd", lr=0.05, epochs=10, batch_size=None, shuffle=False,
                            dtype="float64")
    w = np.ones(20)
    w[3] = 2.0
    weighted, _ = nf.train(hp, X, y, sample_weight=w, verbose=False)
    duplicated, _ = nf.train(hp, np.vstack([X, X[3:4]]), np.append(y, y[3]), verbose=False)
    for key, value in weighted.parameters().items():
        np.testing.assert_allclose(value, duplicated.parameters()[key], rtol=1e-12, atol=1e-14)


def test_standardize_learns_scaling_on_training_rows_and_applies_it_inside(digits):
    X_tr, X_val, _, y_tr, y_val, _ = digits
    hp = nf.Hyperparameters(hidden=(64,), epochs=15, standardize=True, seed=0)
    plain, _ = nf.train(hp, X_tr, y_tr, verbose=False)
    shifted, _ = nf.train(hp, X_tr * 1000 + 5, y_tr, verbose=False)
    mean, std = shifted._net.standardization()
    np.testing.assert_allclose(mean, X_tr.mean(axis=0) * 1000 + 5, rtol=1e-4)
    np.testing.assert_allclose(plain.predict_proba(X_val), shifted.predict_proba(X_val * 1000 + 5), atol=1e-3)


def test_workspaces_are_allocated_once_not_per_batch(digits):
    X_tr, _, _, y_tr, _, _ = digits
    model = nf.Sequential([nf.Dense(32, "relu"), nf.Dropout(0.1), nf.Dense(10, "softmax")], inputs=64)
    model.fit(X_tr, y_tr, epochs=3, batch_size=16, verbose=False)
    assert model._net.workspace_allocations == 1
    model.fit(X_tr, y_tr, epochs=2, batch_size=8, verbose=False)  # smaller batches reuse it
    assert model._net.workspace_allocations == 1


def test_training_cost_includes_the_penalty():
    X, y = regression_data(100)
    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4, seed=0)
    model.fit(X, y, epochs=1, l2=0.5, optimizer=nf.SGD(lr=1e-9), batch_size=None, verbose=False)
    W = model.parameters()["W1"].astype(np.float64)
    data_cost = np.mean((model.predict(X) - y) ** 2)
    assert model.evaluate(X, y)["loss"] == pytest.approx(data_cost + 0.25 * (W**2).sum(), rel=1e-5)


def test_float64_training_works():
    X, y = regression_data(200)
    model, history = nf.train(nf.Hyperparameters(hidden=(16,), epochs=20, dtype="float64"), X, y, verbose=False)
    assert model.parameters()["W1"].dtype == np.float64
    assert history["loss"][-1] < history["loss"][0]


def test_progress_lines_when_verbose(capsys):
    X, y = regression_data(50)
    nf.train(nf.Hyperparameters(hidden=(4,), epochs=3), X, y, verbose=True)
    err = capsys.readouterr().err
    assert err.count("epoch") == 3 and "loss" in err


def test_gradient_clipping_bounds_every_step():
    X, y = regression_data(50)
    model = nf.Sequential([nf.Dense(1, "identity")], inputs=4, seed=0)
    before = model._flat_params().copy()
    model.fit(X, y * 1000, epochs=1, batch_size=None, optimizer=nf.SGD(lr=1.0), clip_norm=0.01, verbose=False)
    assert np.linalg.norm(model._flat_params() - before) == pytest.approx(0.01, rel=1e-4)


def test_no_warning_or_output_in_a_quiet_run(capsys):
    X, y = regression_data(50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nf.train(nf.Hyperparameters(hidden=(4,), epochs=2), X, y, verbose=False)
    assert capsys.readouterr() == ("", "")
