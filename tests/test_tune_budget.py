"""Time budgets and progress of a study (issue 12): trial_timeout on every executor, the
fastest configuration within one standard error, progress lines outside a terminal."""

import io
import json
import math

import pytest

import nnfast as nf
from nnfast import cli
from nnfast.callbacks import STOP_REASONS, TimeLimit
from nnfast.diagnosis import KINDS

tune = pytest.importorskip("nnfast.tune")
search_module = pytest.importorskip("nnfast.tune.search")
ship_module = pytest.importorskip("nnfast._ship")

from conftest import crafted_study  # noqa: E402
from nnfast.tune.trial import TrialResult, merge_folds  # noqa: E402

BASE = nf.Hyperparameters(hidden=(16,), epochs=6, standardize=True, batch_size=64)
SPACE = {"lr": tune.choice([1e-3, 1e-2])}
#: far below the time of one epoch: every run stops after its first
TINY = 1e-6


@pytest.fixture(scope="module")
def small():
    X, y = nf.data.load_digits()
    return X[:600], y[:600]


# --- the callback ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds", [0, -1, math.inf, math.nan, True, "5", None])
def test_time_limit_refuses_what_is_no_budget(seconds):
    with pytest.raises(ValueError, match="seconds must be a positive finite number"):
        TimeLimit(seconds)


def test_time_limit_stops_after_the_epoch_that_passes_it(small):
    model, history = nf.train(BASE, *small, callbacks=[TimeLimit(TINY)], verbose=False)
    assert history.epochs == 1 and history.stop_reason == "timed_out"
    assert history.message == STOP_REASONS["timed_out"]
    _, history = nf.train(BASE, *small, callbacks=[TimeLimit(1e6)], verbose=False)
    assert history.epochs == BASE.epochs and history.stop_reason == "max_epochs"


def test_time_limit_passed_in_the_last_epoch_leaves_the_epoch_cap_as_the_reason(small):
    # every epoch has run: the budget stopped nothing, and the advice is the epoch cap's, not more time
    assert BASE.epochs > 1
    _, history = nf.train(BASE.replace(epochs=1), *small, callbacks=[TimeLimit(TINY)], verbose=False)
    assert history.epochs == 1 and history.stop_reason == "max_epochs"
    assert "time_cap" not in [f.kind for f in history.diagnose()]


# --- trial_timeout in a study --------------------------------------------------------------------

def _timed_out(study, epochs=1):
    assert len(study.trials) == 2  # the study went on after the first trial ran out of time
    for t in study.trials:
        assert t.state == "complete" and t.stop_reason == "timed_out" and t.epochs == epochs
        # scored as every trial is: the objective over the epochs it had, with its standard error
        assert t.score == pytest.approx(t.history["val_accuracy"][-1])
        q = (t.score * 120 + 2) / 124  # Agresti and Coull's binomial standard error
        assert t.score_se == pytest.approx(math.sqrt(q * (1 - q) / 124))
    assert study.attrs["trial_timeout"] == TINY


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_trial_past_its_budget_is_recorded_as_timed_out_and_the_study_goes_on(small, executor):
    study = tune.search(BASE, SPACE, train=small, strategy="grid", trial_timeout=TINY, progress=False,
                        executor=executor, n_jobs=2)
    _timed_out(study)
    assert "timed out: trials 0, 1" in study.summary()
    roomy = tune.search(BASE, SPACE, train=small, strategy="grid", trial_timeout=1e6, progress=False)
    assert [t.stop_reason for t in roomy.trials] == ["max_epochs"] * 2 and "timed out" not in roomy.summary()


def test_the_refit_of_a_timed_out_winner_trains_the_epochs_it_was_scored_on(small):
    # scored on the epoch its time ran out, the winner was refit for all of its 6 epochs
    study = tune.search(BASE, SPACE, train=small, strategy="grid", trial_timeout=TINY, progress=False)
    assert study.best().epochs == 1 and study.best().stop_reason == "timed_out"
    study.refit(*small)
    assert study.attrs["refit"]["epochs"] == 1
    study.refit(*small, epochs=3)  # asked for: exactly that
    assert study.attrs["refit"]["epochs"] == 3


def test_trial_timeout_on_dask(small):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster, distributed.Client(cluster) as client:
        study = tune.search(BASE, SPACE, train=small, strategy="grid", trial_timeout=TINY, progress=False,
                            executor=client.get_executor(), n_jobs=2)
    _timed_out(study)


@pytest.mark.parametrize("value", [0, -2.5, math.inf, math.nan, True, "10"])
def test_bad_trial_timeout_is_refused_before_the_first_trial(small, value):
    with pytest.raises(ValueError, match="trial_timeout must be a positive finite number of seconds"):
        tune.search(BASE, SPACE, train=small, trial_timeout=value, progress=False)


def test_with_cv_the_trials_budget_is_shared_between_its_folds(small, monkeypatch):
    budgets = []
    real = ship_module.run_trial

    def spy(spec, stop=None):
        budgets.append(spec.timeout)
        return real(spec, stop)

    monkeypatch.setattr(ship_module, "run_trial", spy)
    study = tune.search(BASE, SPACE, train=small, strategy="grid", cv=3, trial_timeout=6.0, progress=False)
    assert budgets == [2.0] * 6
    assert study.attrs["trial_timeout"] == 6.0
    timed = tune.search(BASE, SPACE, train=small, strategy="grid", cv=3, trial_timeout=TINY, progress=False)
    for t in timed.trials:
        assert t.stop_reason == "timed_out" and [f["stop_reason"] for f in t.history["folds"]] == ["timed_out"] * 3


def test_a_fold_that_timed_out_makes_the_trial_timed_out():
    def fold(reason):
        return TrialResult(0, "complete", score=0.5, stop_reason=reason, intermediate=[0.5], epochs=1)

    merged = merge_folds(0, [fold("max_epochs"), fold("max_epochs"), fold("timed_out")])
    assert merged.state == "complete" and merged.stop_reason == "timed_out"
    assert merge_folds(0, [fold("max_epochs"), fold("early_stopped"), fold("max_epochs")]).stop_reason == "max_epochs"


def test_resume_keeps_the_trial_timeout_and_names_both_values(small, tmp_path):
    db = str(tmp_path / "t.db")
    kwargs = dict(train=small, strategy="random", seed=1, progress=False, storage=db, n_trials=1)
    tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-1)}, trial_timeout=30, **kwargs)
    for other, shown in [(45, "45.0"), (None, "null")]:
        with pytest.raises(ValueError, match=rf"trial_timeout differs.*stored 30\.0, given {shown}"):
            tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-1)}, trial_timeout=other, resume=True,
                        **{**kwargs, "n_trials": 2})
    study = tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-1)}, trial_timeout=30.0, resume=True,
                        **{**kwargs, "n_trials": 2})
    assert len(study.trials) == 2 and study.attrs["trial_timeout"] == 30.0


# --- the diagnosis -------------------------------------------------------------------------------

def _history(loss, stop):
    history = nf.History("accuracy", max_epochs=20, validation=False)
    history.initial_loss = 2.0
    for cost in loss:
        history.append(loss=cost)
    history.stop_reason = stop
    return history


def test_a_run_cut_short_by_its_budget_while_improving_says_so():
    loss = [2.2, 1.6, 1.2, 1.0, 0.83, 0.72, 0.63]
    findings = _history(loss, "timed_out").diagnose()
    assert [f.kind for f in findings] == ["learning", "time_cap"]
    assert findings[1].evidence["fall_share"] == pytest.approx((1.0 - 0.63) / 2.0)
    assert "trial_timeout" in findings[1].advice and "time_cap" in KINDS
    settled = [2.2, 1.0, 0.5, 0.4, 0.4, 0.4, 0.4]
    assert [f.kind for f in _history(settled, "timed_out").diagnose()] == ["learning"]
    assert "time_cap" not in [f.kind for f in _history(loss, "max_epochs").diagnose()]


# --- the fastest configuration within one standard error -------------------------------------------



def test_the_summary_names_the_fastest_configuration_within_one_standard_error():
    from nnfast.tune.report import summary_table

    study = crafted_study([(0.95, 0.01, 9.0), (0.945, 0.01, 2.0), (0.90, 0.01, 0.5), (0.942, 0.01, 3.0)])
    fastest = study.fastest_contender()
    assert fastest.number == 1  # trial 2 is faster but not within one standard error of the best
    said = "fastest within one standard error of the best: trial 1, 0.9450 in 2.00 s"
    assert said in study.summary() and said in summary_table(study)
    assert "study.best(max_seconds=2)" in study.summary()
    assert study.best(max_seconds=2).number == 1
    # the best is the fastest of its contenders: nothing to name
    plain = crafted_study([(0.95, 0.01, 1.0), (0.945, 0.01, 2.0)])
    assert plain.fastest_contender().number == 0 and "fastest within" not in plain.summary()


# --- progress outside a terminal ------------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_outside_a_terminal_writes_a_line_per_interval():
    stream = io.StringIO()
    line = search_module._Progress(4, "val_accuracy", "auto", stream=stream, interval=0.0)
    line.update(1, 2, 0.9)
    line.update(2, 1, math.nan, finished=False)  # a poll while waiting counts too
    line.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert lines[0].startswith("trial 1/4  running 2  best val_accuracy 0.9000  elapsed ")
    assert "eta " in lines[0] and "best val_accuracy -" in lines[1]
    quiet = io.StringIO()
    line = search_module._Progress(4, "val_accuracy", "auto", stream=quiet, interval=3600.0)
    line.update(1, 1, 0.9)
    line.close()
    assert quiet.getvalue() == ""  # nothing before the interval has passed
    off = io.StringIO()
    line = search_module._Progress(4, "val_accuracy", False, stream=off, interval=0.0)
    line.update(1, 1, 0.9)
    assert off.getvalue() == ""


def test_a_terminal_keeps_its_live_line():
    stream = _Terminal()
    line = search_module._Progress(4, "val_accuracy", "auto", stream=stream, interval=0.0)
    line.update(1, 1, 0.9, finished=False)  # polls do not redraw a terminal's line
    assert stream.getvalue() == ""
    line.update(1, 1, 0.9)
    line.update(2, 1, 0.95)
    line.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "trial 2/4" in text


def test_a_study_outside_a_terminal_prints_progress_lines(small, monkeypatch, capsys):
    monkeypatch.setattr(search_module, "PROGRESS_INTERVAL", 0.0)
    tune.search(BASE, SPACE, train=small, strategy="grid", progress="auto")
    err = capsys.readouterr().err
    assert "trial 2/2  running 0  best val_accuracy " in err and "\r" not in err


# --- the command line ----------------------------------------------------------------------------

def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan"])
def test_cli_refuses_a_bad_trial_timeout(capsys, value):
    status, _, err = run(capsys, "tune", "--trial-timeout", value, "--trials", 1)
    assert status == 1 and "--trial-timeout must be a positive finite number of seconds" in err


def test_cli_trial_timeout_is_kept_by_a_resume(tmp_path, capsys):
    (tmp_path / "space.json").write_text(json.dumps({"lr": {"loguniform": [1e-3, 3e-2]}}))
    quick = ["--space", tmp_path / "space.json", "--strategy", "random", "--set", "epochs=3", "--set",
             "hidden=[16]", "--seed", "1", "--no-test"]
    db = tmp_path / "t.db"
    status, out, err = run(capsys, "tune", *quick, "--trials", 1, "--trial-timeout", 1e-6, "--storage", db,
                           "--report", tmp_path / "r.html")
    assert status == 0, err
    assert "at most 1e-06 s each" in err and "timed out: trial 0" in out
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--trial-timeout", 5)
    assert status == 1 and "--trial-timeout 5.0 contradicts study 'nnfast', which runs with --trial-timeout 1e-06" \
        in err
    status, out, err = run(capsys, "tune", "--storage", db, "--resume", "--trials", 2, "--report", tmp_path / "r.html")
    assert status == 0, err
    study = tune.load_study(str(db))
    assert len(study.trials) == 2 and {t.stop_reason for t in study.trials} == {"timed_out"}
