"""The command line: train, predict, tune, report, lr-range, export; one-line errors for bad input."""

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import warnings
import time
from pathlib import Path

import numpy as np
import pytest

import nnfast as nf
from nnfast import cli

tune = pytest.importorskip("nnfast.tune")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"lr": {"loguniform": [1e-3, 3e-2]}, "hidden": {"layers": {"depth": {"int": [1, 2]}, "width": [8, 16]}},
         "batch_size": [32, 64]}
QUICK = ["--set", "epochs=5", "--set", "hidden=[16]"]


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``nnfast argv...`` run in this process."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, command, *fragments):
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"nnfast {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def space_file(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(SPACE))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A study run once, for real, as ``python -m nnfast tune`` in a subprocess."""
    where = tmp_path_factory.mktemp("finished")
    (where / "space.json").write_text(json.dumps(SPACE))
    proc = subprocess.run([sys.executable, "-m", "nnfast", "tune", "--space", "space.json", "--strategy", "random",
                           "--trials", "4", *QUICK, "--storage", "study.db", "--seed", "1"],
                          cwd=where, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "error"})
    assert proc.returncode == 0, proc.stderr
    return where, proc


def copy_study(finished, tmp_path):
    where, _ = finished
    shutil.copy(where / "study.db", tmp_path / "study.db")
    shutil.copy(where / "space.json", tmp_path / "space.json")
    return tmp_path / "study.db"


# --- help ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [None, "train", "predict", "tune", "report", "rescore", "lr-range", "export"])
def test_help_of_every_command_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(([command] if command else []) + ["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: nnfast")


# --- tune ------------------------------------------------------------------------------------------

def test_tune_as_a_subprocess_prints_the_summary_best_test_and_report(finished):
    where, proc = finished
    out = proc.stdout
    assert out.startswith("study 'nnfast': 4 trials")
    assert "best configuration (trial " in out and "Hyperparameters(" in out
    assert "validation accuracy: 0." in out
    assert "test accuracy: 0." in out and "looked at once" in out
    assert out.rstrip().splitlines()[-1] == "report: study-report.html"
    assert (where / "study-report.html").read_text().count('<img src="data:image/png;base64,') == 4
    assert "tuning lr, hidden, batch_size with random search (4 trials" in proc.stderr
    study = tune.load_study(str(where / "study.db"))
    assert len(study.trials) == 4 and len(study.attrs["test_looks"]) == 1
    assert study.attrs["refit"]["trial"] == study.best().number
    assert all(t.hyperparameters.epochs == 5 and t.hyperparameters.standardize for t in study.trials)


def test_tune_twice_on_one_storage_needs_resume(finished, tmp_path, capsys):
    db = copy_study(finished, tmp_path)
    status, out, err = run(capsys, "tune", "--space", tmp_path / "space.json", "--trials", 4, *QUICK,
                           "--storage", db, "--seed", 1)
    assert_one_line_error(status, err, "tune", "already exists", "--resume", "--study-name")
    assert out == ""
    assert len(tune.load_study(str(db)).trials) == 4


def test_resume_of_a_finished_study_runs_nothing_and_does_not_look_again(finished, tmp_path, capsys):
    db = copy_study(finished, tmp_path)
    before = tune.load_study(str(db))
    trials_before = [(t.number, t.params, t.score) for t in before.trials]
    look = before.attrs["test_looks"][0]
    status, out, err = run(capsys, "tune", "--storage", db, "--resume", "--report", tmp_path / "again.html")
    assert status == 0, err
    after = tune.load_study(str(db))
    assert [(t.number, t.params, t.score) for t in after.trials] == trials_before
    assert after.attrs["test_looks"] == [look]
    assert "not looked at again" in out and look["at"] in out
    assert f"test accuracy: {look['scores']['accuracy']:.4f}" in out
    assert "refitting" not in err
    assert (tmp_path / "again.html").exists()


def test_a_best_trial_that_nnfast_did_not_run_is_a_one_line_error_not_a_traceback(finished, tmp_path, capsys):
    # a trial added with Optuna's own API records a value but no nnfast configuration: the refit
    # that --out asks for has nothing to train (it was an AttributeError)
    import optuna

    db = copy_study(finished, tmp_path)
    study = tune.load_study(str(db))
    best = study.best().score
    study.optuna.add_trial(optuna.trial.create_trial(value=best + 1.0 if study.sign > 0 else best - 1.0))
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--report", tmp_path / "again.html",
                         "--out", tmp_path / "model.nnf")
    assert_one_line_error(status, err.splitlines()[-1] + "\n", "tune", "best trial, 4,", "no nnfast configuration")
    assert not (tmp_path / "model.nnf").exists()


def test_resume_with_a_larger_budget_runs_only_the_new_trials(finished, tmp_path, capsys):
    db = copy_study(finished, tmp_path)
    before = {t.number: t.params for t in tune.load_study(str(db)).trials}
    status, out, err = run(capsys, "tune", "--storage", db, "--resume", "--trials", 5)
    assert status == 0, err
    study = tune.load_study(str(db))
    assert len(study.trials) == 5 and {t.number: t.params for t in study.trials[:4]} == before
    assert len(study.attrs["test_looks"]) == 1 and "not looked at again" in out
    looked = study.attrs["test_looks"][0]["trial"]
    assert ("note: the best trial is now" in out) == (study.best().number != looked)
    assert "resuming lr, hidden, batch_size with random search (5 trials" in err


def test_resume_keeps_the_jobs_the_study_ran_with(space_file, tmp_path, capsys):
    # --resume alone ran one trial at a time after a --jobs 2 start: from there its trials
    # were not those of the uninterrupted study (its schedule depends on n_jobs)
    db = tmp_path / "jobs.db"
    common = ["tune", "--space", space_file, "--strategy", "random", *QUICK, "--storage", db, "--no-test"]
    status, _, err = run(capsys, *common, "--trials", 2, "--jobs", 2)
    assert status == 0, err
    assert tune.load_study(str(db)).attrs["n_jobs"] == 2
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--trials", 3)
    assert status == 0, err
    assert "(3 trials, 2 at a time)" in err and "warning" not in err
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown, as outside the suite (which makes them errors)
        status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--trials", 4, "--jobs", 1)
    assert status == 0, err
    assert "nnfast tune: warning: study 'nnfast' ran with n_jobs=2; resumed with n_jobs=1" in err
    assert len(tune.load_study(str(db)).trials) == 4


def test_tune_with_the_built_in_space_and_no_test_in_memory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "tune", "--trials", 2, "--set", "epochs=1", "--no-test", "--strategy", "random")
    assert status == 0, err
    assert "test: not looked at (--no-test)" in out
    assert "report: nnfast-report.html" in out and (tmp_path / "nnfast-report.html").exists()
    assert "tuning lr, hidden, batch_size, optimizer, momentum, l2, dropout" in err
    assert "no test part" in err and "1797 rows" in err


def test_tune_grid_with_a_toml_space_and_saving_the_model(tmp_path, capsys):
    (tmp_path / "space.toml").write_text('batch_size = [32, 64]\n[lr]\nloguniform = [0.001, 0.1]\n'
                                         'points = [0.01]\n')
    status, out, err = run(capsys, "tune", "--space", tmp_path / "space.toml", "--strategy", "grid", *QUICK,
                           "--storage", tmp_path / "grid.db", "--out", tmp_path / "best.nnf")
    assert status == 0, err
    study = tune.load_study(str(tmp_path / "grid.db"))
    assert sorted(t.params["batch_size"] for t in study.trials) == [32, 64]  # the whole grid by default
    model = nf.load(str(tmp_path / "best.nnf"))
    assert model.hyperparameters == study.best().hyperparameters  # refit by the trial's own procedure
    assert f"saved {tmp_path / 'best.nnf'}" in out
    assert (tmp_path / "grid-report.html").exists()


def test_tune_refit_epochs(tmp_path, capsys):
    (tmp_path / "space.json").write_text('{"batch_size": [32, 64]}')
    status, out, err = run(capsys, "tune", "--space", tmp_path / "space.json", "--strategy", "grid", *QUICK,
                           "--refit-epochs", "2", "--out", tmp_path / "best.nnf")
    assert status == 0, err
    assert "for 2 epochs" in err and nf.load(str(tmp_path / "best.nnf")).hyperparameters.epochs == 2
    assert "refit: 2 epochs, ran every epoch" in err


def test_tune_says_how_long_the_refit_trained(tmp_path, capsys):
    """The refit finds its own length on the larger data: the command says how many epochs
    it took and why it stopped, as the study records it (the report showed it before, the
    command did not)."""
    status, out, err = run(capsys, "tune", "--trials", 2, "--set", "epochs=30", "--set", "patience=2",
                           "--strategy", "random", "--storage", tmp_path / "r.db")
    assert status == 0, err
    refit = tune.load_study(str(tmp_path / "r.db")).attrs["refit"]
    assert f"refit: {refit['epochs']} epochs, {nf.callbacks.STOP_REASONS[refit['stop_reason']]}" in err


# --- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, fragments", [
    ({"lr": {"logunifrom": [1e-4, 0.1]}}, ["unknown kind 'logunifrom'", "did you mean 'loguniform'"]),
    ({"lr": {"uniform": [0.1]}}, ["entry 'lr'", "uniform takes [low, high]"]),
    ({"lr": {"uniform": [0.1, 0.01]}}, ["entry 'lr'", "low < high"]),
    ({"hidden": {"int": [1.5, 3]}}, ["integer bounds"]),
    ({"batch_size": {"choice": [16], "points": [16]}}, ["'points' applies to uniform and loguniform"]),
    ({"lr": {"uniform": [0.1, 0.2], "loguniform": [0.1, 0.2]}}, ["exactly one kind"]),
    ({"hidden": {"layers": {"depth": [1, 2]}}}, ["layers takes"]),
    ({"learning_rate": [0.1, 0.2]}, ["unknown hyperparameter 'learning_rate' in the search space"]),
    ({"optimizer": ["adam", "sgdd"]}, ["search entry 'optimizer': unknown optimizer 'sgdd'"]),
    ({"momentum": {"uniform": [0.5, 0.9], "when": {"optimiser": "sgd"}}},
     ["unknown hyperparameter 'optimiser' in the condition of search entry 'momentum'", "did you mean 'optimizer'"]),
    ({"dropout": {"uniform": [0, 1.5]}}, ["search entry 'dropout': dropout must be in [0.0, 1.0), got 1.5"]),
    ({"optimizer": ["adam", "sgd"], "momentum": {"uniform": [0.5, 0.9]}},
     ["'momentum' applies to optimizer 'sgd'", '"when": {"optimizer": "sgd"}']),
    ({"momentum": {"uniform": [0.5, 0.9], "when": "sgd"}}, ["'when' maps"]),
    ({}, ["the space is empty"]),
])
def test_bad_space_files_give_one_line_errors(entry, fragments, tmp_path, capsys):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(entry))
    status, out, err = run(capsys, "tune", "--space", path, "--trials", 1)
    assert_one_line_error(status, err, "tune", *fragments)


def test_grid_search_over_a_range_without_points_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"lr": {"loguniform": [1e-4, 0.1]}}))
    status, _, err = run(capsys, "tune", "--space", path, "--strategy", "grid")
    assert_one_line_error(status, err, "tune", "grid search needs explicit points")


@pytest.mark.parametrize("args, fragments", [
    (["--space", "missing.json"], ["cannot read space file missing.json"]),
    (["--data", "missing.csv"], ["no dataset or file named 'missing.csv'"]),
    (["--hp", "missing.toml"], ["cannot read hyperparameter file missing.toml"]),
    (["--set", "lr=-1"], ["lr"]),
    (["--set", "lr"], ["--set takes key=value"]),
    (["--set", "lerning_rate=0.1"], ["unknown hyperparameter 'lerning_rate'"]),
    (["--set", "epochs=many"], ["epochs"]),
    (["--resume"], ["--resume needs --storage"]),
    (["--trials", "0"], ["--trials must be at least 1"]),
    (["--jobs", "0"], ["--jobs must be at least 1"]),
    (["--refit-epochs", "0"], ["--refit-epochs must be at least 1"]),
    (["--test-size", "1.5"], ["--test-size must be between 0 and 1"]),
])
def test_bad_tune_input_gives_one_line_errors(args, fragments, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "tune", "--trials", 1, *args)
    assert_one_line_error(status, err, "tune", *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing run, nothing written


def test_bad_storage_on_resume_gives_one_line_errors(finished, tmp_path, capsys):
    status, _, err = run(capsys, "tune", "--trials", 1, "--storage", tmp_path / "new.db", "--resume")
    assert_one_line_error(status, err, "tune", "nothing to resume", f"there is no file {tmp_path / 'new.db'}")
    assert not (tmp_path / "new.db").exists()  # it used to be left behind, an empty database
    status, _, err = run(capsys, "tune", "--trials", 1, "--storage", f"sqlite:///{tmp_path / 'url.db'}", "--resume")
    assert_one_line_error(status, err, "tune", "nothing to resume", f"there is no file {tmp_path / 'url.db'}")
    assert not (tmp_path / "url.db").exists()
    (tmp_path / "blank.db").touch()
    status, _, err = run(capsys, "tune", "--trials", 1, "--storage", tmp_path / "blank.db", "--resume")
    assert_one_line_error(status, err, "tune", "nothing to resume", "is empty, not a study")
    assert (tmp_path / "blank.db").stat().st_size == 0
    sqlite3.connect(tmp_path / "empty.db").execute("CREATE TABLE t (x)").connection.commit()
    status, _, err = run(capsys, "tune", "--trials", 1, "--storage", tmp_path / "empty.db", "--resume")
    assert_one_line_error(status, err, "tune", "nothing to resume", "no study 'nnfast'")

    db = copy_study(finished, tmp_path)
    status, _, err = run(capsys, "tune", "--trials", 1, "--storage", db, "--resume", "--study-name", "other")
    assert_one_line_error(status, err, "tune", "no study 'other'", "(it holds nnfast)")

    status, _, err = run(capsys, "tune", "--space", tmp_path / "space.json", "--storage", db, "--resume",
                         "--set", "epochs=6", "--set", "hidden=[16]", "--seed", "1")
    assert_one_line_error(status, err, "tune", "cannot resume study 'nnfast'", "base hyperparameters differ",
                          "epochs 5 then, 6 now")

    # an option given again that contradicts the stored one names both values
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--seed", "2")
    assert_one_line_error(status, err, "tune", "--seed 2 contradicts study 'nnfast', which runs with --seed 1")
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--strategy", "bayes")
    assert_one_line_error(status, err, "tune", "--strategy bayes contradicts", "--strategy random")
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--val-size", "0.3")
    assert_one_line_error(status, err, "tune", "--val-size 0.3 contradicts", "--val-size 0.2")
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--no-test")
    assert_one_line_error(status, err, "tune", "--no-test contradicts", "no --no-test")
    X, y = nf.data.load_digits()  # another path is no contradiction (a file may move): its content decides
    np.savetxt(tmp_path / "other.csv", np.column_stack([X[:300], y[:300]]), delimiter=",", fmt="%g")
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--data", tmp_path / "other.csv")
    assert_one_line_error(status, err, "tune", f"--data {tmp_path / 'other.csv'} holds other data than digits, "
                                               "which it was tuned on")

    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database\n" * 50)
    status, _, err = run(capsys, "tune", "--trials", 1, "--storage", junk, "--resume")
    assert_one_line_error(status, err, "tune", f"cannot open study storage {junk}")


def test_read_space_builds_distributions_from_plain_data(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"space": {
        "lr": {"loguniform": [1e-4, 0.3], "points": [1e-3, 1e-2]},
        "hidden": {"layers": {"depth": {"int": [1, 3]}, "width": {"intlog": [16, 256]}, "shrink": [1.0, 0.5]}},
        "optimizer": {"choice": ["adam", "sgd"]},
        "momentum": {"uniform": [0.5, 0.99], "when": {"optimizer": "sgd"}},
        "batch_size": [16, 32, 64],
        "activation": "tanh"}}))
    space = cli.read_space(str(path))
    assert space["lr"] == tune.loguniform(1e-4, 0.3, points=[1e-3, 1e-2])
    assert space["hidden"] == tune.layers(tune.int(1, 3), tune.intlog(16, 256), tune.choice([1.0, 0.5]))
    assert space["optimizer"] == tune.choice(["adam", "sgd"])
    assert space["momentum"] == tune.uniform(0.5, 0.99).when(optimizer="sgd")
    assert space["batch_size"] == tune.choice([16, 32, 64])
    assert space["activation"] == tune.choice(["tanh"])
    tune.Space(space, nf.Hyperparameters())  # a valid space

    toml = tmp_path / "space.toml"
    toml.write_text('batch_size = [16, 32, 64]\n[lr]\nloguniform = [1e-4, 0.3]\npoints = [1e-3, 1e-2]\n'
                    '[momentum]\nuniform = [0.5, 0.99]\nwhen = { optimizer = "sgd" }\n')
    assert cli.read_space(str(toml)) == {k: space[k] for k in ("batch_size", "lr", "momentum")}
    assert cli.space_from_data(cli.DEFAULT_SPACE)  # the built-in space parses
    yaml = tmp_path / "space.yaml"
    yaml.write_text("lr: [0.001, 0.01]\n")
    with pytest.raises(cli.CommandError, match="YAML is not read; write it as JSON"):
        cli.read_space(str(yaml))


# --- report ------------------------------------------------------------------------------------------

def test_report_prints_the_summary_and_writes_the_html(finished, tmp_path, capsys):
    db = copy_study(finished, tmp_path)
    status, out, err = run(capsys, "report", db, "--out", tmp_path / "r.html")
    assert status == 0, err
    assert out.startswith("study 'nnfast': 4 trials") and "test look 1" in out
    assert out.rstrip().endswith(f"report: {tmp_path / 'r.html'}")
    text = (tmp_path / "r.html").read_text()
    assert text.count('<img src="data:image/png;base64,') == 4 and "The test set was looked at once." in text

    status, out, err = run(capsys, "report", db)
    assert status == 0 and (tmp_path / "study-report.html").exists()


def test_bad_report_input_gives_one_line_errors(finished, tmp_path, capsys):
    status, _, err = run(capsys, "report", tmp_path / "missing.db")
    assert_one_line_error(status, err, "report", "no study file")
    db = copy_study(finished, tmp_path)
    status, _, err = run(capsys, "report", db, "--study-name", "other")
    assert_one_line_error(status, err, "report", "has no study 'other'")
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite\n" * 100)
    status, _, err = run(capsys, "report", junk)
    assert_one_line_error(status, err, "report", "cannot open study storage")


# --- lr-range ----------------------------------------------------------------------------------------

def test_lr_range_prints_the_rates_and_saves_a_plot(tmp_path, capsys):
    status, out, err = run(capsys, "lr-range", "--steps", 40, "--set", "hidden=[16]", "--plot", tmp_path / "lr.png")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("suggested lr: ") and lines[1].startswith("falls until: ")
    assert lines[2].startswith("blows up at: ") and lines[-1] == f"plot: {tmp_path / 'lr.png'}"
    assert float(lines[0].split()[2]) <= float(lines[1].split()[2])
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    assert "on 1438 rows of digits: " in err and "of 40 steps from 1e-06 to 10" in err  # the non-test rows only


def test_bad_lr_range_input_gives_one_line_errors(capsys):
    status, _, err = run(capsys, "lr-range", "--steps", 3)
    assert_one_line_error(status, err, "lr-range", "steps")
    status, _, err = run(capsys, "lr-range", "--min-lr", 1, "--max-lr", 0.1)
    assert_one_line_error(status, err, "lr-range", "min_lr")


# --- train and predict ----------------------------------------------------------------------------

def test_train_and_predict_round_trip_through_csv(tmp_path, capsys):
    X, y = nf.data.load_digits()
    X, y = X[:500], y[:500]
    with open(tmp_path / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"p{i}" for i in range(X.shape[1])] + ["digit"])
        writer.writerows([[*map(float, row), int(label)] for row, label in zip(X, y)])
    np.savetxt(tmp_path / "rows.csv", X[:25], delimiter=",")
    status, out, err = run(capsys, "train", "--data", tmp_path / "train.csv", "--target", "digit",
                           "--set", "hidden=[32]", "--set", "epochs=8", "--set", "standardize=true",
                           "--out", tmp_path / "m.nnf")
    assert status == 0, err
    assert "validation accuracy: " in out and "looked at once" in out and f"saved {tmp_path / 'm.nnf'}" in out

    status, out, err = run(capsys, "predict", tmp_path / "m.nnf", "--data", tmp_path / "rows.csv",
                           "--out", tmp_path / "pred.csv")
    assert status == 0, err
    with open(tmp_path / "pred.csv", newline="") as f:
        predicted = [int(row[0]) for row in csv.reader(f)]
    model = nf.load(str(tmp_path / "m.nnf"))
    assert predicted == list(model.predict(X[:25]))
    assert np.mean(np.array(predicted) == y[:25]) > 0.5

    status, out, _ = run(capsys, "predict", tmp_path / "m.nnf", "--data", tmp_path / "rows.csv", "--proba")
    rows = [list(map(float, line.split(","))) for line in out.splitlines()]
    assert len(rows) == 25 and all(len(r) == 10 and abs(sum(r) - 1) < 1e-4 for r in rows)


def test_bad_train_and_predict_input_gives_one_line_errors(tmp_path, capsys):
    status, _, err = run(capsys, "predict", tmp_path / "missing.nnf", "--data", "digits")
    assert status == 1 and len(err.strip().splitlines()) == 1 and err.startswith("nnfast predict: error:")
    status, _, err = run(capsys, "train", "--set", "activation=nope")
    assert_one_line_error(status, err, "train", "activation")


def test_resume_alone_continues_a_killed_study_with_its_data_and_options(tmp_path):
    # the CLI used to record its options only when the search ended: after a kill -9,
    # --resume refused ("its data differs")
    X, y = nf.data.load_digits()
    rows = np.column_stack([X[:900], y[:900]])
    np.savetxt(tmp_path / "d.csv", rows, delimiter=",", fmt="%g")
    (tmp_path / "space.json").write_text(json.dumps({"lr": {"loguniform": [1e-3, 1e-2]}, "hidden": [[64], [128]]}))
    args = [sys.executable, "-m", "nnfast", "tune", "--storage", "r.db"]
    first = subprocess.Popen([*args, "--no-test", "--data", "d.csv", "--space", "space.json", "--strategy", "random",
                              "--trials", "8", "--set", "epochs=80", "--set", "patience=null", "--val-size", "0.25"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and first.poll() is None:
            time.sleep(0.1)
            try:
                if tune.load_study(str(tmp_path / "r.db")).trials:
                    break
            except Exception:  # not created yet
                continue
        assert first.poll() is None, "the study finished before it could be killed"
    finally:
        first.kill()
        first.wait()
    before = {t.number: t.params for t in tune.load_study(str(tmp_path / "r.db")).trials}
    assert 1 <= len(before) < 8
    resumed = subprocess.run([*args, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming lr, hidden with random search (8 trials" in resumed.stderr
    assert f"900 rows of {tmp_path / 'd.csv'}" in resumed.stderr  # the file, wherever the resume runs from
    study = tune.load_study(str(tmp_path / "r.db"))
    assert len(study.trials) == 8 and len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 8
    assert {t.number: t.params for t in study.trials[:len(before)]} == before
    assert "test: not looked at (--no-test)" in resumed.stdout


def test_resume_from_another_directory_with_a_set_that_agrees(finished, tmp_path, capsys, monkeypatch):
    # a relative --data path, and --set re-applying the command's defaults, used to refuse these resumes
    X, y = nf.data.load_digits()
    np.savetxt(tmp_path / "d.csv", np.column_stack([X[:300], y[:300]]), delimiter=",", fmt="%g")
    (tmp_path / "space.json").write_text(json.dumps({"lr": [1e-3, 1e-2]}))
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "tune", "--storage", "s.db", "--data", "d.csv", "--space", "space.json",
                         "--strategy", "grid", "--trials", "1", "--no-test", "--set", "epochs=3",
                         "--set", "patience=null")
    assert status == 0, err
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    status, _, err = run(capsys, "tune", "--storage", "../s.db", "--resume", "--trials", "2", "--data", "../d.csv",
                         "--set", "epochs=3")
    assert status == 0, err
    assert [t.hyperparameters.patience for t in tune.load_study(str(tmp_path / "s.db")).trials] == [None, None]


def test_resume_after_the_data_file_moved(tmp_path, capsys, monkeypatch):
    # the path was compared, not the content: a moved file blocked --resume with and without --data
    X, y = nf.data.load_digits()
    np.savetxt(tmp_path / "d.csv", np.column_stack([X[:300], y[:300]]), delimiter=",", fmt="%g")
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "tune", "--storage", "s.db", "--data", "d.csv", "--strategy", "random",
                         "--trials", "1", "--no-test", *QUICK)
    assert status == 0, err
    (tmp_path / "moved").mkdir()
    (tmp_path / "d.csv").rename(tmp_path / "moved" / "d.csv")
    status, _, err = run(capsys, "tune", "--storage", "s.db", "--resume", "--trials", "2")
    assert_one_line_error(status, err, "tune", f"was tuned on {tmp_path / 'd.csv'}, which is not there now",
                          "give --data with the same data")
    status, _, err = run(capsys, "tune", "--storage", "s.db", "--resume", "--trials", "2", "--data", "moved/d.csv")
    assert status == 0, err
    assert len(tune.load_study(str(tmp_path / "s.db")).trials) == 2
    np.savetxt(tmp_path / "other.csv", np.column_stack([X[300:600], y[300:600]]), delimiter=",", fmt="%g")
    status, _, err = run(capsys, "tune", "--storage", "s.db", "--resume", "--trials", "3", "--data", "other.csv")
    assert_one_line_error(status, err, "tune", "its data or its split differ")


def test_two_studies_in_one_file_get_a_report_each(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("nnfast", "other"):
        status, out, err = run(capsys, "tune", "--storage", "m.db", "--study-name", name, "--trials", "1",
                               "--no-test", *QUICK)
        assert status == 0, err
    assert (tmp_path / "m-report.html").exists() and (tmp_path / "m-other-report.html").exists()


def test_report_into_a_closed_pipe_is_quiet(finished, tmp_path):
    where, _ = finished
    proc = subprocess.run(f"{sys.executable} -m nnfast report study.db --top 50 --out {tmp_path / 'r.html'} | head -1",
                          shell=True, cwd=where, capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("study 'nnfast'") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("lr,kind", [(1e-5, "stuck"), (0.01, "learning"), (10.0, "diverging")])
def test_train_prints_the_diagnosis_of_its_curves(capsys, lr, kind):
    argv = ["train", "--set", "optimizer=sgd", "--set", f"lr={lr}", "--set", "epochs=4", "--set", "standardize=true"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown, as outside the suite (which makes them errors)
        status, out, err = run(capsys, *argv)
    assert status == 0, err
    # the divergence warning is said in one line of the command's own
    assert ("nnfast train: warning: " in err) == (lr >= 10), err
    diagnosis = out.split("diagnosis of the cost curves (history.diagnose()):\n", 1)[1].splitlines()
    assert diagnosis[0].startswith(f"  {kind}: ")
    advice = {"stuck": "larger learning rate", "learning": "keep going", "diverging": "reduce the learning rate"}
    assert advice[kind] in diagnosis[0]


def test_a_contradiction_names_a_stored_zero():
    # a stored seed 0 was shown as "no --seed" (0 == False)
    from nnfast.cli.common import CommandError
    from nnfast.cli.tune import _contradiction

    with pytest.raises(CommandError, match="--seed 5 contradicts study 'k', which runs with --seed 0;"):
        _contradiction("k", "seed", 5, 0)
    with pytest.raises(CommandError, match="which runs with no --no-test"):
        _contradiction("k", "no_test", True, False)


def test_a_training_set_objective_is_not_called_validation(capsys):
    # --objective loss scores the training cost; it was printed as "validation loss"
    status, out, _ = run(capsys, "tune", "--strategy", "random", "--trials", 2, "--objective", "loss", *QUICK,
                         "--no-test")
    assert status == 0
    assert re.search(r"^training loss: \d\.\d{4} ", out, re.M) and "validation loss" not in out
    status, out, _ = run(capsys, "tune", "--strategy", "random", "--trials", 2, *QUICK, "--no-test")
    assert re.search(r"^validation accuracy: \d\.\d{4} ", out, re.M)


def test_options_that_were_silently_ignored_are_errors(finished, capsys):
    status, _, err = run(capsys, "tune", "--no-test", "--test-size", "0.3", "--trials", 1, *QUICK)
    assert_one_line_error(status, err, "tune", "--no-test and --test-size 0.3 exclude each other")
    where, _ = finished
    status, _, err = run(capsys, "report", where / "study.db", "--top", "-1")
    assert_one_line_error(status, err, "report", "--top must be at least 0, got -1")


def test_an_output_that_is_a_device_or_fifo_is_refused_before_any_work(tmp_path, capsys):
    # renamed over, a device (as root, /dev/null) became a plain file; a FIFO made the check wait
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    status, _, err = run(capsys, "train", "--out", fifo, *QUICK)
    assert_one_line_error(status, err, "train", f"--out {fifo} is not a regular file")
    assert fifo.is_fifo()
