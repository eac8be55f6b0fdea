"""Fitting a fitted model continues its training; reset=True starts afresh; nothing changes silently."""

import numpy as np
import pytest

import nnfast as nf


@pytest.fixture(scope="module")
def data():
    r = np.random.default_rng(0)
    X = r.normal(size=(300, 6)) * 3 + 5
    labels = np.array(["a", "b", "c"])[np.argmax(X[:, :3], axis=1)]
    return X, labels


def net(dropout=0.0, dtype="float32", seed=4):
    layers = [nf.Dense(16, "relu")] + ([nf.Dropout(dropout)] if dropout else []) + [nf.Dense(3, "softmax")]
    return nf.Sequential(layers, seed=seed, dtype=dtype)


def same_weights(a, b):
    for key, value in a.parameters().items():
        np.testing.assert_array_equal(value, b.parameters()[key], err_msg=key)


def test_new_labels_on_a_fitted_model_are_an_error_naming_them(data):
    """fit(X, ["a","b","c"]...) then fit(X, ["b","c","d"]...) renamed the output units."""
    X, labels = data
    model = net()
    model.fit(X, labels, epochs=1, verbose=False)
    shifted = np.array(["b", "c", "d"])[np.searchsorted(["a", "b", "c"], labels)]
    weights = model.parameters()["W1"].copy()
    with pytest.raises(ValueError, match=r"labels not seen in training: \['d'\]; known: \['a', 'b', 'c'\]; fitting a "
                                         r"fitted model continues .*reset=True"):
        model.fit(X, shifted, epochs=1, verbose=False)
    assert list(model.classes_) == ["a", "b", "c"]
    np.testing.assert_array_equal(model.parameters()["W1"], weights)
    model.fit(X[labels != "a"], labels[labels != "a"], epochs=1, verbose=False)  # a subset of the classes is fine
    assert list(model.classes_) == ["a", "b", "c"]
    model.fit(X, shifted, epochs=1, reset=True, verbose=False)  # said: a fresh start with new classes
    assert list(model.classes_) == ["b", "c", "d"]


def test_the_fitted_scaling_is_kept_and_a_different_one_refused(data):
    """A second fit(standardize=False) kept the old mean and std without a word."""
    X, labels = data
    model = net()
    model.fit(X, labels, standardize=True, epochs=1, verbose=False)
    mean, std = (a.copy() for a in model._net.standardization())
    with pytest.raises(ValueError, match="fitted with standardize=True, not False.*reset=True"):
        model.fit(X, labels, standardize=False, epochs=1, verbose=False)
    model.fit(X * 10 + 3, labels, epochs=1, verbose=False)  # standardize=None: as fitted; not learnt again
    np.testing.assert_array_equal(model._net.standardization()[0], mean)
    np.testing.assert_array_equal(model._net.standardization()[1], std)
    model.fit(X, labels, standardize=False, reset=True, epochs=1, verbose=False)
    assert model._net.standardization() is None
    fresh = net()
    fresh.fit(X, labels, epochs=1, verbose=False)
    same_weights(model, fresh)  # reset: the very run a new model with the same seed makes
    with pytest.raises(ValueError, match="fitted with standardize=False, not True"):
        model.fit(X, labels, standardize=True, epochs=1, verbose=False)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer,schedule", [(nf.Adam(lr=3e-3), "constant"),
                                                (nf.SGD(lr=0.02, momentum=0.9), nf.schedules.Step(3, 0.5)),
                                                (nf.RMSProp(lr=1e-3), nf.schedules.Exponential(0.8))])
def test_five_and_five_epochs_are_ten_bit_for_bit(data, dtype, optimizer, schedule):
    """Optimizer state, step count, shuffling and dropout streams and the schedule's epoch go on."""
    X, labels = data
    kwargs = dict(optimizer=optimizer, schedule=schedule, batch_size=32, validation_split=0.2, l2=1e-4,
                  verbose=False)
    once = net(dropout=0.3, dtype=dtype)
    whole = once.fit(X, labels, epochs=10, **kwargs)
    twice = net(dropout=0.3, dtype=dtype)
    first = twice.fit(X, labels, epochs=5, **kwargs)
    second = twice.fit(X, labels, epochs=5, **kwargs)
    same_weights(once, twice)
    assert first["loss"] + second["loss"] == whole["loss"]
    assert first["val_loss"] + second["val_loss"] == whole["val_loss"]
    assert first["lr"] + second["lr"] == whole["lr"]
    assert twice._net.steps == once._net.steps
    third = net(dropout=0.3, dtype=dtype)
    third.fit(X, labels, epochs=5, **kwargs)
    third.fit(X, labels, epochs=5, **{**kwargs, "optimizer": None})  # None: the previous fit's optimizer
    same_weights(once, third)


def test_continuing_is_not_restarting(data):
    """The second fit's first epoch is epoch 6 of one run, not epoch 1 again."""
    X, labels = data
    model = net(dropout=0.3)
    first = model.fit(X, labels, epochs=3, verbose=False)
    again = model.fit(X, labels, epochs=3, verbose=False)
    assert again["loss"][0] < first["loss"][0]
    restart = net(dropout=0.3)
    restart.fit(X, labels, epochs=3, verbose=False)
    restarted = restart.fit(X, labels, epochs=3, reset=True, verbose=False)
    assert restarted["loss"] == first["loss"]


def test_a_larger_batch_later_keeps_the_dropout_streams_going(data):
    X, labels = data
    model = net(dropout=0.5)
    model.fit(X, labels, epochs=1, batch_size=8, verbose=False)
    masks_after = model._net.params.copy()
    model.fit(X, labels, epochs=1, batch_size=64, verbose=False)  # workspaces grow
    other = net(dropout=0.5)
    other.fit(X, labels, epochs=1, batch_size=8, verbose=False)
    np.testing.assert_array_equal(other._net.params, masks_after)
    other._net.reseed(other.seed)  # what growing the workspaces used to do: replay the masks
    other.fit(X, labels, epochs=1, batch_size=64, verbose=False)
    assert not np.array_equal(other._net.params, model._net.params)


def test_other_settings_than_the_fitted_ones_are_refused(data):
    X, labels = data
    model = net()
    model.fit(X, labels, optimizer=nf.Adam(), epochs=1, verbose=False)
    before = model._net.params.copy()
    with pytest.raises(ValueError, match="fitted with loss 'cross_entropy', not 'mse'"):
        model.fit(X, np.eye(3)[np.searchsorted(["a", "b", "c"], labels)], loss="mse", epochs=1, verbose=False)
    with pytest.raises(ValueError, match="trained with optimizer 'adam', not 'sgd'.*reset=True"):
        model.fit(X, labels, optimizer="sgd", epochs=1, verbose=False)
    np.testing.assert_array_equal(model._net.params, before)
    model.fit(X, labels, optimizer=nf.Adam(lr=1e-4), epochs=1, verbose=False)  # other settings: fine
    model.fit(X, labels, optimizer="sgd", reset=True, epochs=1, verbose=False)
    assert model._net.optimizer.kind == nf._core.Optimizer.sgd


def test_a_refused_reset_leaves_the_model_as_it_was(data):
    """reset=True re-initialises in place; when the data then overflows the network, all is put back."""
    X, labels = data
    model = net()
    model.fit(X, labels, standardize=True, epochs=2, verbose=False)
    params, scaling, steps = model._net.params.copy(), model._net.standardization(), model._net.steps
    predictions = model.predict_proba(X)
    huge = np.full_like(X, 3e38)
    with pytest.raises(ValueError, match="cannot train on X"):
        model.fit(huge, labels, reset=True, standardize=False, epochs=1, verbose=False)
    np.testing.assert_array_equal(model._net.params, params)
    np.testing.assert_array_equal(model._net.standardization()[0], scaling[0])
    np.testing.assert_array_equal(model.predict_proba(X), predictions)
    assert list(model.classes_) == ["a", "b", "c"] and model._net.steps == steps
    continued = net()
    continued.fit(X, labels, standardize=True, epochs=2, verbose=False)
    continued.fit(X, labels, epochs=1, verbose=False)
    model.fit(X, labels, epochs=1, verbose=False)  # the optimizer state survived the refused reset
    same_weights(model, continued)


def test_a_loaded_model_continues_with_its_classes_and_scaling(data, tmp_path):
    X, labels = data
    hp = nf.Hyperparameters(hidden=(16,), epochs=2, standardize=True, optimizer="sgd", lr=0.05)
    model, _ = nf.train(hp, X, labels, verbose=False)
    model.save(tmp_path / "m.nnf")
    loaded = nf.load(tmp_path / "m.nnf")
    mean = loaded._net.standardization()[0].copy()
    history = loaded.fit(X, labels, epochs=1, verbose=False)  # sgd from its hyperparameters, scaling as fitted
    assert history.task == "classification" and loaded._net.optimizer.kind == nf._core.Optimizer.sgd
    np.testing.assert_array_equal(loaded._net.standardization()[0], mean)
    with pytest.raises(ValueError, match=r"not seen in training: \['z'\]"):
        loaded.fit(X, np.where(labels == "a", "z", labels), epochs=1, verbose=False)
    # its streams were not saved: they start from the model's seed (they all started from 0)
    path = tmp_path / "dropout.nnf"
    nf.train(hp.replace(dropout=0.3), X, labels, verbose=False)[0].save(path)
    first, again, other_seed = nf.load(path), nf.load(path), nf.load(path)
    other_seed.seed = 6
    for m in (first, again, other_seed):
        m.fit(X, labels, epochs=2, verbose=False)
    same_weights(first, again)
    assert not np.array_equal(first.parameters()["W1"], other_seed.parameters()["W1"])


def test_train_continues_a_model_it_describes(data):
    X, labels = data
    hp = nf.Hyperparameters(hidden=(16,), dropout=0.2, epochs=4, seed=2, validation_split=0.1)
    whole, _ = nf.train(hp.replace(epochs=8), X, labels, verbose=False)
    part, _ = nf.train(hp, X, labels, verbose=False)
    again, history = nf.train(hp, X, labels, model=part, verbose=False)
    assert again is part and history.epochs == 4
    same_weights(whole, part)
    with pytest.raises(ValueError, match="the model is float32 but hp.dtype is 'float64'"):
        nf.train(hp.replace(dtype="float64"), X, labels, model=part, verbose=False)
    with pytest.raises(ValueError, match="layers"):
        nf.train(hp.replace(hidden=(8,)), X, labels, model=part, verbose=False)
    with pytest.raises(ValueError, match="fitted with standardize=False, not True"):
        nf.train(hp.replace(standardize=True), X, labels, model=part, verbose=False)
    with pytest.raises(ValueError, match="seed"):
        nf.train(hp.replace(seed=3), X, labels, model=part, verbose=False)


def test_build_forgets_the_fit(data):
    X, labels = data
    model = net()
    model.fit(X, labels, epochs=1, verbose=False)
    model.build(6)
    assert model.classes_ is None and model.task is None
    model.fit(X, np.where(labels == "a", "z", labels), epochs=1, verbose=False)
    assert list(model.classes_) == ["b", "c", "z"]


def test_the_core_continues_or_resets_its_optimizer():
    X = np.random.default_rng(0).normal(size=(64, 4))
    Y = np.eye(2)[np.arange(64) % 2]
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=4, dtype="float64")
    net = model._net
    net.configure(nf.Adam(lr=1e-2).config())
    net.train_epoch(X, Y, None, 16, True, nf._core.Loss.cross_entropy, nf._core.Metric.accuracy)
    assert net.steps == 4
    net.configure(nf.Adam(lr=1e-3).config(), reset=False)  # new settings, the state and step count kept
    assert net.steps == 4 and net.optimizer.lr == 1e-3
    with pytest.raises(ValueError, match="continuing training needs the optimizer it started with"):
        net.configure(nf.SGD().config(), reset=False)
    net.configure(nf.SGD().config())  # reset (the default): a fresh optimizer of any kind
    assert net.steps == 0


@pytest.mark.parametrize("n_classes", [2, 3])
def test_continuing_on_a_subset_of_the_classes_keeps_the_models_loss(n_classes):
    """nf.train(hp, X_part, y_part, model=m) with 2 of 10 classes in y_part re-guessed the loss
    from the part (binary cross-entropy) and refused the model's softmax layers."""
    X, y = nf.data.load_digits()
    hp = nf.Hyperparameters(hidden=(16,), epochs=2, seed=1)
    model, _ = nf.train(hp, X, y, verbose=False)
    part = np.isin(y, np.arange(n_classes) + 3)
    model, history = nf.train(hp, X[part], y[part], model=model, verbose=False)
    assert model.loss == "cross_entropy" and list(model.classes_) == list(range(10)) and history.task == "classification"
    whole, _ = nf.train(hp.replace(epochs=4), X, y, verbose=False)  # the record still starts afresh as before
    assert whole.loss == "cross_entropy"
    with pytest.raises(ValueError, match="fitted for classification .* not task='regression'"):
        nf.train(hp.replace(task="regression"), X[part], y[part].astype(float), model=model, verbose=False)


def test_classes_given_apart_from_y_decide_the_outputs_and_refuse_others():
    X, y = nf.data.load_digits()
    part = np.isin(y, [3, 5])
    hp = nf.Hyperparameters(hidden=(8,), epochs=1)
    model, _ = nf.train(hp, X[part], y[part], classes=np.arange(10), verbose=False)
    assert model.loss == "cross_entropy" and model.n_outputs == 10 and list(model.classes_) == list(range(10))
    two, _ = nf.train(hp, X[part], y[part], classes=[5, 3], verbose=False)
    assert two.loss == "binary_cross_entropy" and list(two.classes_) == [3, 5]
    with pytest.raises(ValueError, match=r"labels not seen in training: \[0, 1, 2, 4, 6, 7, 8, 9\].*classes given"):
        nf.train(hp, X, y, classes=[3, 5], verbose=False)
    with pytest.raises(ValueError, match=r"classes=\[3, 4\] are not the model's classes"):
        model.fit(X[part], y[part], classes=[3, 4], epochs=1, verbose=False)
    model.fit(X[part], y[part], classes=list(range(10)), epochs=1, verbose=False)  # its own classes: fine
    with pytest.raises(ValueError, match="classes applies to classification, not to loss 'mse'"):
        nf.train(hp.replace(task="regression"), X, y.astype(float), classes=[3, 5], verbose=False)
    with pytest.raises(ValueError, match="names a label twice"):
        nf.train(hp, X[part], y[part], classes=[3, 5, 5], verbose=False)
    with pytest.raises(ValueError, match="at least two classes"):
        nf.train(hp, X[part], y[part], classes=[3], verbose=False)
