"""Column names: a model fitted on a DataFrame keeps its columns' names and refuses a frame
whose columns are other ones or in another order, in every call that reads X and across a
save and load; the command line does the same with a CSV header."""

import json

import numpy as np
import pytest

import nnfast as nf
from nnfast import cli

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["age", "income", "score"])
    y = (X["age"] + X["score"] > 0).astype(int).to_numpy()
    return X, y


@pytest.fixture
def fitted(frame):
    X, y = frame
    model = nf.Sequential([nf.Dense(4), nf.Dense(2, "softmax")], seed=1)
    model.fit(X, y, epochs=2, verbose=False)
    return model


CALLS = {
    "predict": lambda m, X, y: m.predict(X),
    "predict_proba": lambda m, X, y: m.predict_proba(X),
    "forward": lambda m, X, y: m.forward(X),
    "evaluate": lambda m, X, y: m.evaluate(X, y),
    "fit again": lambda m, X, y: m.fit(X, y, epochs=1, verbose=False),
}
WRONG = {
    "reordered": (lambda X: X[["income", "age", "score"]],
                  r"are the model's in another order \(column 0 is 'income', the model's column 0 is 'age'\); "
                  r"select them in the fitted order: X\[model.feature_names_in_\]"),
    "renamed": (lambda X: X.rename(columns={"score": "grade"}),
                r"are not those the model was fitted with: they lack 'score' and add 'grade', not seen in fit$"),
    "missing": (lambda X: X[["age", "income"]], r"they lack 'score'$"),
    "extra": (lambda X: X.assign(other=1.0), r"they add 'other', not seen in fit$"),
}


def test_fit_on_a_frame_keeps_its_column_names(fitted):
    assert fitted.feature_names_in_.tolist() == ["age", "income", "score"]
    assert fitted.feature_names_in_.dtype == object


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("call", CALLS)
def test_a_frame_with_other_columns_is_refused_by_every_call(fitted, frame, call, wrong):
    X, y = frame
    change, message = WRONG[wrong]
    before = {k: v.copy() for k, v in fitted.parameters().items()}
    with pytest.raises(ValueError, match=r"^X's columns " + message if message.startswith("are") else message):
        CALLS[call](fitted, change(X), y)
    for k, v in fitted.parameters().items():  # nothing trained
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("call", CALLS)
def test_arrays_and_the_fitted_columns_are_accepted(fitted, frame, call):
    X, y = frame
    CALLS[call](fitted, X, y)
    CALLS[call](fitted, X.to_numpy(), y)  # an array carries no names to check
    np.testing.assert_array_equal(fitted.predict(X), fitted.predict(X.to_numpy()))


def test_validation_frame_is_checked_against_the_training_frame(frame):
    X, y = frame
    model = nf.Sequential([nf.Dense(4), nf.Dense(2, "softmax")])
    with pytest.raises(ValueError, match=r"^X_val's columns are the model's in another order"):
        model.fit(X, y, epochs=1, validation=(X[["score", "income", "age"]], y), verbose=False)
    assert not model.built and model.feature_names_in_ is None  # the refused fit changed nothing


def test_reset_learns_the_new_columns(fitted, frame):
    X, y = frame
    renamed = X.rename(columns={"age": "years"})
    fitted.fit(renamed, y, epochs=1, reset=True, verbose=False)
    assert fitted.feature_names_in_.tolist() == ["years", "income", "score"]
    with pytest.raises(ValueError, match="they lack 'years' and add 'age'"):
        fitted.predict(X)


@pytest.mark.parametrize("columns", [[0, 1, 2], ["a", 1, "c"], ["a", "a", "c"]])
def test_frames_without_distinct_string_names_record_none(frame, columns):
    X, y = frame
    X = X.set_axis(columns, axis=1)
    model = nf.Sequential([nf.Dense(4), nf.Dense(2, "softmax")])
    model.fit(X, y, epochs=1, verbose=False)
    assert model.feature_names_in_ is None
    model.predict(X.set_axis(["p", "q", "r"], axis=1))  # nothing to compare with


def test_names_survive_save_and_load(fitted, frame, tmp_path):
    X, y = frame
    fitted.save(tmp_path / "m.nnf")
    loaded = nf.load(tmp_path / "m.nnf")
    assert loaded.feature_names_in_.tolist() == ["age", "income", "score"]
    with pytest.raises(ValueError, match="in another order"):
        loaded.predict(X[["score", "income", "age"]])
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))


def _saved_with(model, path, monkeypatch, edit):
    """Save ``model`` with its JSON document changed by ``edit`` (files of other versions, damage)."""
    dumps = json.dumps

    def edited(doc, *args, **kwargs):
        edit(doc)
        return dumps(doc, *args, **kwargs)

    monkeypatch.setattr(nf.io.json, "dumps", edited)
    model.save(path)
    monkeypatch.setattr(nf.io.json, "dumps", dumps)
    return path


def test_files_written_before_names_were_kept_still_load(fitted, tmp_path, monkeypatch):
    path = _saved_with(fitted, tmp_path / "old.nnf", monkeypatch, lambda doc: doc.pop("feature_names"))
    assert nf.load(path).feature_names_in_ is None


@pytest.mark.parametrize("names", [["age", "income"], ["age", "age", "score"], ["age", 3, "score"], "age"])
def test_damaged_names_are_refused_by_field(fitted, tmp_path, monkeypatch, names):
    path = _saved_with(fitted, tmp_path / "bad.nnf", monkeypatch, lambda doc: doc.update(feature_names=names))
    with pytest.raises(ValueError, match=r"field 'feature_names' must be null or a list of 3 distinct strings"):
        nf.load(path)


def test_command_line_saves_the_header_and_predict_checks_it(frame, tmp_path, capsys):
    X, y = frame
    X.assign(label=y).to_csv(tmp_path / "train.csv", index=False)
    assert cli.main(["train", "--data", str(tmp_path / "train.csv"), "--target", "label", "--set", "epochs=2",
                     "--out", str(tmp_path / "m.nnf")]) == 0
    assert nf.load(tmp_path / "m.nnf").feature_names_in_.tolist() == ["age", "income", "score"]
    X[["income", "age", "score"]].to_csv(tmp_path / "swapped.csv", index=False)
    X.to_csv(tmp_path / "same.csv", index=False)
    X.to_csv(tmp_path / "bare.csv", index=False, header=False)
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path / "m.nnf"), "--data", str(tmp_path / "swapped.csv")]) != 0
    err = capsys.readouterr().err
    assert "the header of" in err and "are the model's in another order" in err and "age, income, score" in err
    for ok in ("same.csv", "bare.csv"):  # the same names, or none to compare
        assert cli.main(["predict", str(tmp_path / "m.nnf"), "--data", str(tmp_path / ok)]) == 0
        assert len(capsys.readouterr().out.splitlines()) == len(X)
