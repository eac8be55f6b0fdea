"""The task a run learns is said (task=, loss=) or guessed in the open, by one rule for every entry point."""

import json
import warnings

import numpy as np
import pytest

import nnfast as nf
from nnfast._targets import resolve_task

tune = pytest.importorskip("nnfast.tune")
from nnfast.tune.trial import objective_key  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = nf.data.load_digits()
    return X[:600], y[:600]


@pytest.fixture(scope="module")
def diabetes():
    """scikit-learn's diabetes regression data (442 rows), the target made integer: 214 distinct values."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_diabetes(return_X_y=True)
    return X, y.astype(int)


QUICK = nf.Hyperparameters(hidden=(16,), epochs=3, standardize=True)


# --- class labels as a column -----------------------------------------------------------------

def test_a_column_of_labels_trains_a_classifier_with_a_warning(digits):
    """y.reshape(-1, 1) of the digits trained a regressor (loss mse, predictions 0.30, 1.93)."""
    X, y = digits
    with pytest.warns(nf.LabelColumnWarning, match=r'column-vector y .* shape \(600, 1\) .*task="regression"'):
        model, history = nf.train(QUICK, X, y.reshape(-1, 1), verbose=False)
    flat, _ = nf.train(QUICK, X, y, verbose=False)
    assert model.loss == "cross_entropy" and history.task == model.task == "classification"
    assert history.metric == "accuracy"
    np.testing.assert_array_equal(model.predict_proba(X), flat.predict_proba(X))
    assert set(model.predict(X)) <= set(range(10))


def test_the_column_rule_holds_in_fit_evaluate_and_validation(digits):
    X, y = digits
    net = nf.Sequential([nf.Dense(16), nf.Dense(10, "softmax")], seed=0)
    with pytest.warns(nf.LabelColumnWarning):
        history = net.fit(X, y[:, None], validation=(X[:100], y[:100, None]), epochs=2, verbose=False)
    assert history.task == "classification"
    with pytest.warns(nf.LabelColumnWarning, match="column-vector y"):
        scores = net.evaluate(X, y[:, None])
    assert scores == net.evaluate(X, y)
    # a column of numbers for a regression stays a column: one output, predictions (n, 1), no warning
    reg = nf.Sequential([nf.Dense(1)], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert reg.fit(X, y[:, None].astype(float), epochs=1, verbose=False).task == "regression"
    assert reg.predict(X[:5]).shape == (5, 1)


def test_target_warnings_are_one_class_users_can_filter(digits):
    X, y = digits
    assert issubclass(nf.LabelColumnWarning, nf.TargetWarning) and issubclass(nf.AutoTaskWarning, nf.TargetWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=nf.TargetWarning)
        model, _ = nf.train(QUICK.replace(epochs=1), X, y[:, None], verbose=False)
    assert model.task == "classification"


def test_search_scores_a_column_of_labels_by_accuracy(digits):
    """tune.search on y.reshape(-1, 1) optimised val_r2 of a regressor."""
    X, y = digits
    with pytest.warns(nf.LabelColumnWarning):
        study = tune.search(QUICK, {"lr": tune.choice([1e-3, 1e-2])}, train=(X, y[:, None]), strategy="grid",
                            progress=False, pruning=False)
    assert study.objective == "val_accuracy"
    assert all(t.state == "complete" for t in study.trials) and study.best().score > 0.5
    assert objective_key(QUICK, y[:, None], "auto") == ("val_accuracy", 1.0)


def test_a_file_with_a_column_of_labels_trains_a_classifier(digits, tmp_path, capsys):
    """The same through a data file: an NPZ whose y is (n, 1) integers."""
    from nnfast import cli

    X, y = digits
    np.savez(tmp_path / "column.npz", X=X, y=y[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown, as outside the suite (which makes them errors)
        status = cli.main(["train", "--data", str(tmp_path / "column.npz"), "--set", "epochs=3",
                           "--set", "hidden=[16]", "--set", "standardize=true"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "nnfast train: warning: " in err and "column" in err  # the LabelColumnWarning, in one line
    assert "validation accuracy" in out and "test accuracy" in out


def test_scikit_learn_classifier_says_it_in_both_warning_classes(digits):
    sklearn_exceptions = pytest.importorskip("sklearn.exceptions")
    from nnfast.sklearn import NNClassifier

    X, y = digits
    with pytest.warns(nf.LabelColumnWarning) as caught:
        NNClassifier(hidden=(8,), epochs=1).fit(X, y[:, None])
    assert all(isinstance(w.message, sklearn_exceptions.DataConversionWarning) for w in caught)


# --- the task, said or guessed ----------------------------------------------------------------

def test_integer_regression_targets_are_guessed_a_regression_in_the_open(diabetes):
    """diabetes' target as int gave 214 classes and test accuracy 0.0."""
    X, y = diabetes
    hp = nf.Hyperparameters(hidden=(32,), epochs=5, standardize=True)
    with pytest.warns(nf.AutoTaskWarning, match=r"214 distinct integers in 442 rows.*task='regression'.*"
                                                r"task='classification'"):
        model, history = nf.train(hp, X, y, verbose=False)
    assert model.loss == "mse" and history.task == model.task == "regression" and history.metric == "r2"
    assert model.predict(X[:3]).dtype.kind == "f"
    with warnings.catch_warnings():  # said: no guess, no warning
        warnings.simplefilter("error")
        assert nf.train(hp.replace(task="regression"), X, y, verbose=False)[0].loss == "mse"
        forced, _ = nf.train(hp.replace(task="classification", epochs=1), X, y, verbose=False)
    assert forced.task == "classification" and len(forced.classes_) == 214


def test_a_count_column_with_many_values_is_a_regression():
    r = np.random.default_rng(0)
    X = r.normal(size=(400, 3))
    counts = r.poisson(np.exp(3 + X[:, 0]))  # dozens of distinct counts in 400 rows
    with pytest.warns(nf.AutoTaskWarning):
        model, history = nf.train(nf.Hyperparameters(hidden=(8,), epochs=2), X, counts, verbose=False)
    assert history.task == "regression" and "r2" in history


@pytest.mark.parametrize("rows,distinct,task", [
    (30, 20, "classification"),  # at most 20 distinct values: classes, whatever the rows
    (5000, 20, "classification"),
    (420, 21, "classification"),  # 21 values, 20 rows each on average: still classes
    (419, 21, "regression"),  # 21 values, under 20 rows each: quantities
    (100000, 300, "classification"),  # 300 classes with 333 rows each
    (3000, 300, "regression"),
])
def test_the_auto_rule_for_integers(rows, distinct, task):
    y = np.arange(rows) % distinct
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resolve_task(y).task == task
    assert [type(w.message) for w in caught] == ([nf.AutoTaskWarning] if task == "regression" else [])
    assert resolve_task(y.astype(np.uint8 if distinct < 256 else np.uint16), warn=False).task == task


@pytest.mark.parametrize("y,task", [
    (np.array([True, False] * 30), "classification"),
    (np.array([f"name{i}" for i in range(60)]), "classification"),  # strings are labels, however many
    (np.arange(60, dtype=float), "regression"),  # floats are values, even whole ones
    (np.eye(3)[np.arange(60) % 3], "classification"),  # one-hot rows
    (np.arange(120).reshape(60, 2), "regression"),
])
def test_auto_reads_the_kind_of_values(y, task):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_task(y).task == task


def test_task_is_a_plain_validated_searchable_field():
    hp = nf.Hyperparameters(task="regression")
    assert repr(hp) == "Hyperparameters(task='regression')"
    assert nf.Hyperparameters.from_json(hp.to_json()) == hp and json.loads(hp.to_json())["task"] == "regression"
    with pytest.raises(ValueError, match="unknown task 'classify'; valid: auto, classification, regression"):
        nf.Hyperparameters(task="classify")
    with pytest.raises(ValueError, match="loss 'mse' is a regression loss but task='classification'"):
        nf.Hyperparameters(task="classification", loss="mse")
    with pytest.raises(ValueError, match="loss 'cross_entropy' is a classification loss but task='regression'"):
        nf.Hyperparameters(task="regression", loss="cross_entropy")
    assert nf.Hyperparameters(task="classification", loss="binary_cross_entropy").loss == "binary_cross_entropy"
    space = tune.Space({"task": tune.choice(["classification", "regression"])}, nf.Hyperparameters())
    assert list(space.to_dict()["task"]["values"]) == ["classification", "regression"]
    with pytest.raises(ValueError, match="task"):
        tune.Space({"task": tune.choice(["classification", "clustering"])}, nf.Hyperparameters())


def test_the_command_line_sets_the_task_through_the_record():
    from nnfast import cli

    assert cli.read_hyperparameters(None, ["task=regression"]).task == "regression"


@pytest.mark.parametrize("task,y,loss", [
    ("regression", np.arange(40) % 3, "mse"),
    ("classification", np.arange(40) % 3 * 0.5, "cross_entropy"),
    ("classification", (np.arange(40) % 2).astype(float), "binary_cross_entropy"),
    ("auto", np.arange(40) % 3, "cross_entropy"),
])
def test_resolve_loss_and_objective_follow_the_task(task, y, loss):
    hp = nf.Hyperparameters(task=task)
    assert hp.resolve_loss(y) == loss
    metric = "accuracy" if loss != "mse" else "r2"
    assert objective_key(hp, y, "auto") == ("val_" + metric, 1.0)


def test_objective_of_integer_quantities_is_r2(diabetes):
    X, y = diabetes
    assert objective_key(nf.Hyperparameters(), y, "auto") == ("val_r2", 1.0)
    assert objective_key(nf.Hyperparameters(task="classification"), y, "auto") == ("val_accuracy", 1.0)


def test_search_follows_the_task_and_warns_once(diabetes):
    X, y = diabetes
    hp = nf.Hyperparameters(hidden=(8,), epochs=2, standardize=True)
    with pytest.warns(nf.AutoTaskWarning) as caught:
        study = tune.search(hp, {"lr": tune.choice([1e-3, 1e-2])}, train=(X, y), strategy="grid", progress=False,
                            pruning=False)
    assert len(caught) == 1  # said by the driver, not again by each trial
    assert study.objective == "val_r2" and all(t.state == "complete" for t in study.trials)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        said = tune.search(hp.replace(task="regression"), {"lr": tune.choice([1e-3])}, train=(X, y),
                           strategy="grid", progress=False, pruning=False)
    assert said.objective == "val_r2"


def test_scikit_learn_estimators_fix_their_task(diabetes):
    pytest.importorskip("sklearn")
    from nnfast.sklearn import NNClassifier, NNRegressor

    X, y = diabetes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # integers are the regressor's target, no guess
        assert NNRegressor(hidden=(8,), epochs=2).fit(X, y).model_.task == "regression"
        assert NNClassifier(hidden=(8,), epochs=1).fit(X[:100], y[:100] % 3).model_.task == "classification"
    with pytest.raises(ValueError, match="NNRegressor is for regression, not task='classification'"):
        NNRegressor(task="classification").fit(X, y)
    with pytest.raises(ValueError, match="NNClassifier is for classification"):
        NNClassifier(task="regression").fit(X, y % 3)


def test_scikit_learns_column_vector_check_passes():
    checks = pytest.importorskip("sklearn.utils.estimator_checks")
    from nnfast.sklearn import NNClassifier

    checks.check_supervised_y_2d("NNClassifier", NNClassifier(epochs=10))


def test_a_study_stored_before_the_new_fields_resumes(digits, tmp_path):
    """A study written before task and class_weight existed stored a base without them: it
    still resumes with the same base, the new fields at their defaults."""
    import optuna

    X, y = digits
    db = str(tmp_path / "old.db")
    kwargs = dict(train=(X, y), strategy="random", storage=db, progress=False, pruning=False)
    tune.search(QUICK, {"lr": tune.loguniform(1e-3, 1e-2)}, n_trials=1, **kwargs)
    stored = optuna.load_study(study_name="nnfast", storage=tune.open_storage(tune.storage.storage_url(db)))
    settings = stored.user_attrs["nnfast"]
    for field in ("task", "class_weight"):
        del settings["base"][field]
    stored.set_user_attr("nnfast", settings)
    again = tune.search(QUICK, {"lr": tune.loguniform(1e-3, 1e-2)}, n_trials=2, resume=True, **kwargs)
    assert len(again.trials) == 2
    with pytest.raises(ValueError, match="base differs"):
        tune.search(QUICK.replace(task="regression"), {"lr": tune.loguniform(1e-3, 1e-2)}, n_trials=3, resume=True,
                    **kwargs)


WORDS = r"y holds words \('cat', 'dog'\): class labels, not numbers, and loss 'mse' is a regression: for classes, " \
        r"use task='classification'"


@pytest.mark.parametrize("form", ["unicode", "object", "bytes", "category", "list"])
def test_words_given_to_a_regression_are_named_class_labels_at_every_entry_point(form, tmp_path, capsys):
    """A regression asked for on text labels says they are labels, not "numbers written as
    strings: pd.to_numeric" (which cannot read 'cat'): in train, evaluate, search, the
    regressor and the command line."""
    pd = pytest.importorskip("pandas")
    from nnfast import cli

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    words = ["cat", "dog"] * 20
    y = {"unicode": np.array(words), "object": np.array(words, dtype=object),
         "bytes": np.array([w.encode() for w in words]), "category": pd.Series(words, dtype="category"),
         "list": words}[form]
    hp = QUICK.replace(task="regression")
    with pytest.raises(TypeError, match=WORDS):
        nf.train(hp, X, y, verbose=False)
    model, _ = nf.train(hp, X, rng.normal(size=40), verbose=False)
    with pytest.raises(TypeError, match=WORDS):
        model.evaluate(X, y)
    with pytest.raises(TypeError, match=WORDS):
        tune.search(hp, {"lr": [0.01]}, train=(X[:30], y[:30]), validation=(X[30:], y[30:]), progress=False)
    if form == "unicode":
        pytest.importorskip("sklearn")
        from nnfast.sklearn import NNRegressor

        with pytest.raises(TypeError, match=WORDS):
            NNRegressor(hidden=(4,), epochs=1).fit(X, y)
        pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": words}).to_csv(tmp_path / "words.csv", index=False)
        assert cli.main(["train", "--data", str(tmp_path / "words.csv"), "--set", "task=regression"]) != 0
        assert "y holds words ('cat', 'dog'): class labels, not numbers" in capsys.readouterr().err


@pytest.mark.parametrize("y, message", [
    (["1.5", "2"] * 20, r"not strings \(<U3\): numbers written as strings: pd.to_numeric$"),
    (["1", "2", "n/a", "4"] * 10, r"numbers written as strings: pd.to_numeric$"),  # a missing-value marker
])
def test_numbers_written_as_text_keep_the_hint_to_read_them_as_numbers(y, message):
    X = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(TypeError, match=message):
        nf.train(QUICK.replace(task="regression"), X, y, verbose=False)
