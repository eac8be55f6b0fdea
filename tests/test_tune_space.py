"""Search spaces are checked against the hyperparameters before any trial runs."""

import sys

import numpy as np
import pytest

import nnfast as nf

tune = pytest.importorskip("nnfast.tune")

BASE = nf.Hyperparameters(hidden=(16,), epochs=6, standardize=True, batch_size=64)


@pytest.fixture(scope="module")
def small():
    X, y = nf.data.load_digits()
    return X[:300], y[:300]


@pytest.mark.parametrize("space,message", [
    ({"learning_rate": tune.uniform(0, 1)}, "unknown hyperparameter 'learning_rate' in the search space"),
    ({"optimiser": tune.choice(["sgd"])}, "did you mean 'optimizer'"),
    ({}, "empty"),
    ({"lr": 0.1}, "distribution"),
    ({"momentum": tune.uniform(0.1, 0.9).when(optimizer="sgd"),
      "optimizer": tune.choice(["sgd"]).when(momentum=0.5)}, "cycle"),
    # each value checked as a hyperparameter given by hand would be
    ({"optimizer": tune.choice(["adam", "sgdd"])}, "search entry 'optimizer': unknown optimizer 'sgdd'; valid: "),
    ({"dropout": tune.uniform(0, 1.5)}, r"search entry 'dropout': dropout must be in \[0.0, 1.0\), got 1.5"),
    ({"lr": tune.uniform(0, 0.1)}, "lr must be > 0.0, got 0.0"),
    ({"batch_size": tune.int(0, 64)}, "batch_size must be >= 1, got 0"),
    ({"activation": ["relu", "tanhh"]}, "unknown activation 'tanhh'"),
    ({"hidden": tune.layers(depth=tune.int(1, 2), width=tune.int(0, 8))}, "width must be integers >= 1, got 0"),
    ({"lr": tune.choice([0.1, -1.0])}, "lr must be > 0.0, got -1.0"),
    # conditions name fields and values that exist and can happen
    ({"momentum": tune.uniform(0.5, 0.9).when(optimiser="sgd")},
     "unknown hyperparameter 'optimiser' in the condition of search entry 'momentum'; did you mean 'optimizer'"),
    ({"momentum": tune.uniform(0.5, 0.9).when(optimizer="sgdd"), "optimizer": tune.choice(["adam", "sgd"])},
     "the condition of search entry 'momentum': unknown optimizer 'sgdd'"),
    ({"momentum": tune.uniform(0.5, 0.9).when(optimizer="sgd")},
     "searched only when optimizer is 'sgd', which never happens: optimizer takes 'adam'"),
    # a setting searched where the field it belongs to can refuse it
    ({"optimizer": tune.choice(["adam", "sgd"]), "momentum": tune.uniform(0.5, 0.9)},
     r"'momentum' applies to optimizer 'sgd', but this search also tries optimizer 'adam'.*when\(optimizer='sgd'\)"),
    ({"decay_rate": tune.uniform(0.1, 0.9)}, "applies to schedule"),
    ({"init_scale": tune.choice([0.1])}, "applies to init"),
    ({"nesterov": tune.choice([True, False]), "optimizer": tune.choice(["sgd"])}, "needs momentum > 0"),
    ({"dropout": tune.choice([(0.1, 0.2)]), "hidden": tune.choice([(8,), (8, 8)])}, "a rate for each of 2"),
    # a condition on a value of a continuous range never holds: the entry was never searched
    ({"lr": tune.loguniform(1e-3, 1e-1), "batch_size": tune.choice([16, 32]).when(lr=0.01)},
     "searched only when lr is 0.01, but lr is searched over a continuous range"),
    # a searched loss or task checked against the targets: trials used to fail one by one
    ({"loss": ["cross_entropy", "mse"]}, "search entry 'loss': 'mse' makes a regression of these targets, where "
                                         "the study's base configuration makes a classification"),
    ({"task": ["classification", "regression"]}, "search entry 'task': 'regression' makes a regression"),
    ({"loss": ["cross_entropy", "binary_cross_entropy"]},
     "search entry 'loss': 'binary_cross_entropy' cannot train on these targets: binary_cross_entropy needs exactly "
     "two classes in y, got 10"),
    ({"class_weight": tune.choice([None, {99: 2.0}])},
     r"search entry 'class_weight': \{99: 2.0\} cannot train on these targets: class_weight names labels"),
])
def test_bad_spaces_are_refused_before_any_trial(small, space, message, monkeypatch):
    ran = []
    monkeypatch.setattr(sys.modules["nnfast._ship"], "run_trial", lambda spec: ran.append(spec))
    with pytest.raises((ValueError, TypeError), match=message):
        tune.search(BASE, space, train=small, n_trials=1, progress=False)
    assert ran == []


def test_a_space_with_conditions_that_can_hold_is_accepted(small):
    space = {"optimizer": tune.choice(["adam", "sgd"]), "momentum": tune.uniform(0.5, 0.9).when(optimizer="sgd"),
             "nesterov": tune.choice([True, False]).when(optimizer="sgd"),
             "schedule": tune.choice(["constant", "step"]), "decay_rate": tune.uniform(0.1, 0.9).when(schedule="step"),
             "dropout": tune.choice([0.0, (0.1, 0.2)]).when(hidden=[(8, 8)]), "hidden": tune.choice([(8,), (8, 8)])}
    study = tune.search(BASE.replace(epochs=2), space, train=small, strategy="random", n_trials=6, seed=0,
                        progress=False)
    assert all(t.state == "complete" for t in study.trials), study.summary()




@pytest.mark.parametrize("space", [
    {"epochs": tune.int(2, 4), "lr": tune.loguniform(1e-3, 1e-2).when(epochs=3)},
    # hidden=(32,) is one value of hidden, not the alternatives 32 ("hidden is 32, which never happens")
    {"hidden": [(16,), (32,)], "lr": tune.choice([1e-2, 1e-3]).when(hidden=(32,))},

    {"hidden": tune.layers(depth=tune.int(1, 3), width=tune.choice([16])),
     "dropout": tune.choice([(0.1, 0.2)]).when(hidden=[(16, 16)])},
    # momentum=0.9 holds only where momentum is searched, under sgd: Nesterov is never tried with adam
    {"optimizer": ["adam", "sgd"], "momentum": tune.choice([0.5, 0.9]).when(optimizer="sgd"),
     "nesterov": tune.choice([True, False]).when(momentum=0.9)},
    {"hidden": tune.choice(np.array([8, 16])), "batch_size": tune.choice(np.arange(32, 97, 32))},
])
def test_conditions_inside_ranges_implied_conditions_and_numpy_values_are_accepted(small, space):
    # ranges were judged by their ends only ("epochs takes 2 or 4"), and NumPy values failed as JSON
    study = tune.search(BASE.replace(epochs=2), space, train=small, strategy="random", n_trials=3, progress=False)
    assert all(t.state == "complete" for t in study.trials), study.summary()


def test_a_condition_outside_a_range_says_what_the_range_is(small):
    with pytest.raises(ValueError, match="searched only when epochs is 5, which never happens: epochs takes an "
                                         "integer from 2 to 4"):
        tune.search(BASE, {"epochs": tune.int(2, 4), "lr": tune.loguniform(1e-3, 1e-2).when(epochs=5)},
                    train=small, n_trials=1, progress=False)


def test_each_value_is_checked_in_every_dtype_the_search_tries(small):
    with pytest.raises(ValueError, match="search entry 'eps': eps=1e-60 is 0 in float32"):
        tune.search(BASE.replace(dtype="float64"), {"dtype": ["float32", "float64"],
                                                    "eps": tune.loguniform(1e-60, 1e-8)},
                    train=small, n_trials=1, progress=False)


@pytest.mark.parametrize("name,field", [("learning_rate", "lr"), ("lr_rate", "lr"), ("hidden_layer_sizes", "hidden"),
                                        ("layers", "hidden"), ("n_epochs", "epochs"), ("max_iter", "epochs")])
def test_names_from_other_libraries_point_to_ours(small, name, field):
    with pytest.raises(ValueError, match=f"did you mean '{field}'"):
        tune.search(BASE, {name: [1, 2]}, train=small, n_trials=1, progress=False)


def test_a_constant_regression_target_is_refused_before_any_trial():
    # every trial scored R^2 0.0 with a NaN standard error
    X = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(ValueError, match=r"the regression target is constant in the training data \(every value 2.5\)"):
        tune.search(BASE, {"lr": [1e-2]}, train=(X, np.full(100, 2.5)), progress=False)
    with pytest.raises(ValueError, match="constant"):
        tune.search(BASE, {"lr": [1e-2]}, train=(X, np.full((100, 2), 1.0)), progress=False)
    with pytest.raises(ValueError, match=r"constant in the validation data \(every value 0.7\)"):
        tune.search(BASE, {"lr": [1e-2]}, train=(X, X[:, 0]), validation=(X[:50], np.full(50, 0.7)), progress=False)
    nearly = np.full(50, 3.0)
    nearly[0] += 1e-12  # constant once in float32, which the trials train in
    with pytest.raises(ValueError, match="constant in the validation data"):
        tune.search(BASE, {"lr": [1e-2]}, train=(X, X[:, 0]), validation=(X[:50], nearly), progress=False)


def test_class_weights_searched_as_dicts_keep_their_labels(small, tmp_path):
    # a dict travelled through Optuna as JSON, whose keys are strings: {0: 2.0} came back as
    # {'0': 2.0}, which no class of integer labels matches, and every such trial failed
    study = tune.search(BASE.replace(epochs=1), {"class_weight": [None, {0: 2.0}, "balanced"]}, train=small,
                        strategy="grid", progress=False, storage=str(tmp_path / "s.db"))
    assert tune.load_study(str(tmp_path / "s.db")).trials[1].params == {"class_weight": {0: 2.0}}  # read back
    assert [t.state for t in study.trials] == ["complete"] * 3
    assert study.trials[1].hyperparameters.class_weight == ((0, 2.0),) and study.trials[1].params == {
        "class_weight": {0: 2.0}}


def test_a_condition_on_a_grid_point_of_a_range_is_for_grid_search_only(small):
    # random and Bayesian search draw the whole range: the condition never held, batch_size was never searched
    space = {"lr": tune.loguniform(1e-3, 1e-1, points=[1e-3, 1e-2]), "batch_size": tune.choice([16, 32]).when(lr=1e-2)}
    grid = tune.search(BASE.replace(epochs=1), space, train=small, strategy="grid", progress=False)
    assert sorted(t.hyperparameters.batch_size for t in grid.trials) == [16, 32, 64]
    for strategy in ("random", "bayes"):
        with pytest.raises(ValueError, match=f"a {strategy} search draws lr from its whole range"):
            tune.search(BASE, space, train=small, strategy=strategy, n_trials=2, progress=False)


@pytest.mark.parametrize("size", [7, 0, 1.0])
def test_validation_size_is_checked_even_where_it_is_not_used(small, size):
    # with cv= or validation= it was ignored without a word, whatever its value
    with pytest.raises(ValueError, match=r"validation_size must be in \(0.0, 1.0\)"):
        tune.search(BASE, {"lr": [1e-2]}, train=small, cv=3, validation_size=size, progress=False)
