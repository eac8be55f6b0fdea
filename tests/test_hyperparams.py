"""Hyperparameters are plain data: validated, printable, comparable, serialisable."""

import json

import pytest

import nnfast as nf


def test_repr_shows_what_differs_from_the_defaults():
    assert repr(nf.Hyperparameters()) == "Hyperparameters()"
    assert repr(nf.Hyperparameters(hidden=[128, 64], lr=0.01)) == "Hyperparameters(hidden=(128, 64), lr=0.01)"


def test_equality_hashing_and_replace():
    a = nf.Hyperparameters(hidden=(32,), dropout=0.1)
    assert a == nf.Hyperparameters(hidden=[32], dropout=0.1)
    assert len({a, nf.Hyperparameters(hidden=(32,), dropout=0.1)}) == 1
    b = a.replace(lr=0.1)
    assert b.lr == 0.1 and a.lr == 0.001
    with pytest.raises(ValueError, match="did you mean 'lr'"):
        a.replace(lrate=0.1)


def test_dict_and_json_round_trip():
    hp = nf.Hyperparameters(hidden=(16, 8), optimizer="sgd", momentum=0.9, nesterov=True, schedule="step",
                            decay_rate=0.5, decay_steps=3, dropout=(0.1, 0.2), patience=4, dtype="float64")
    assert nf.Hyperparameters.from_dict(hp.to_dict()) == hp
    assert nf.Hyperparameters.from_json(hp.to_json()) == hp
    assert json.loads(hp.to_json())["hidden"] == [16, 8]
    with pytest.raises(ValueError, match="unknown hyperparameter 'layers'"):
        nf.Hyperparameters.from_dict({"layers": 3})


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(hidden=(0,)), ValueError, "hidden layer width"),
    (dict(hidden="64"), TypeError, "hidden"),
    (dict(activation="softmax"), ValueError, "unknown activation"),
    (dict(output="swish"), ValueError, "unknown output"),
    (dict(init="orthogonal"), ValueError, "unknown init"),
    (dict(init="he_normal", init_scale=0.1), ValueError, "init_scale applies"),
    (dict(loss="hinge"), ValueError, "unknown loss"),
    (dict(optimizer="lbfgs"), ValueError, "unknown optimizer"),
    (dict(lr=0), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr="fast"), TypeError, "lr"),
    (dict(momentum=0.9), ValueError, "momentum does not apply to optimizer 'adam'"),
    (dict(optimizer="sgd", rho=0.9), ValueError, "rho does not apply"),
    (dict(optimizer="sgd", nesterov=True), ValueError, "nesterov=True needs momentum"),
    (dict(optimizer="adamw", weight_decay=-1), ValueError, "weight_decay"),
    (dict(beta1=1.0), ValueError, "beta1"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size"),
    (dict(epochs=True), TypeError, "epochs"),
    (dict(l1=-0.1), ValueError, "l1"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(hidden=(8, 8), dropout=(0.1,)), ValueError, "2 hidden layers"),
    (dict(clip_norm=-1), ValueError, "clip_norm"),
    (dict(schedule="cyclic"), ValueError, "unknown schedule"),
    (dict(decay_rate=0.5), ValueError, "decay_rate does not apply to schedule 'constant'"),
    (dict(schedule="step", decay_rate=1.5), ValueError, "gamma"),
    (dict(patience=0), ValueError, "patience"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(standardize="yes"), TypeError, "standardize"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(dtype="float16"), ValueError, "unknown dtype"),
])
def test_out_of_range_or_unknown_values_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        nf.Hyperparameters(**kwargs)


def test_pieces_of_the_run():
    hp = nf.Hyperparameters(optimizer="adamw", lr=0.01, weight_decay=0.1, schedule="cosine", decay_steps=10)
    assert hp.optimizer_spec() == nf.AdamW(lr=0.01, weight_decay=0.1)
    assert hp.schedule_spec() == nf.schedules.Cosine(period=10)
    layers = nf.Hyperparameters(hidden=(8, 4), dropout=(0.0, 0.5)).layers(3, "cross_entropy")
    assert layers == [nf.Dense(8), nf.Dense(4), nf.Dropout(0.5), nf.Dense(3, "softmax")]


@pytest.mark.parametrize("y,loss", [([0, 1, 2, 1], "cross_entropy"), (["a", "b", "a", "b"], "binary_cross_entropy"),
                                    ([0.5, 1.5, 2.0, 3.0], "mse"), ([[0, 1], [1, 0], [1, 0], [0, 1]], "cross_entropy"),
                                    ([True, False, True, True], "binary_cross_entropy")])
def test_auto_loss_follows_the_targets(y, loss):
    assert nf.Hyperparameters().resolve_loss(y) == loss
