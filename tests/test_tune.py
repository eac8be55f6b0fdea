"""The tuning harness: strategies, execution, pruning, resuming, the data discipline."""

import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import nnfast as nf

tune = pytest.importorskip("nnfast.tune")
optuna = pytest.importorskip("optuna")

ROOT = Path(__file__).resolve().parents[1]
BASE = nf.Hyperparameters(hidden=(16,), epochs=6, standardize=True, batch_size=64)


@pytest.fixture(scope="module")
def small():
    """A quick problem: 600 digits for training and validation, the rest untouched."""
    X, y = nf.data.load_digits()
    X_tr, X_te, y_tr, y_te = nf.data.train_test_split(X, y, test_size=0.3, seed=0)
    return X_tr[:600], y_tr[:600], X_te, y_te


SPACE = {
    "lr": tune.loguniform(1e-3, 3e-2, points=[1e-3, 1e-2]),
    "hidden": tune.layers(depth=tune.int(1, 2), width=tune.choice([8, 32])),
    "optimizer": tune.choice(["adam", "sgd"]),
    "momentum": tune.uniform(0.5, 0.95, points=[0.9]).when(optimizer="sgd"),
}


# --- the contract every strategy keeps ------------------------------------------------------

@pytest.fixture(params=["grid", "random", "bayes"])
def strategy(request):
    return request.param


def run(strategy, small, n_trials=6, **kwargs):
    X, y = small[:2]
    return tune.search(BASE, SPACE, train=(X, y), strategy=strategy, n_trials=n_trials, seed=3, progress=False,
                       pruning=False, **kwargs)


class TestStrategyContract:
    def test_spends_exactly_the_budget(self, strategy, small):
        study = run(strategy, small, n_trials=5)
        ran = [t for t in study.trials if t.state != "waiting"]  # a grid keeps its other points queued
        assert len(ran) == 5 and all(t.state == "complete" for t in ran)

    def test_respects_the_space_and_its_conditions(self, strategy, small):
        for t in run(strategy, small).trials:
            if t.state == "waiting":
                continue
            hp = t.hyperparameters
            assert 1e-3 <= hp.lr <= 3e-2
            assert len(hp.hidden) in (1, 2) and set(hp.hidden) <= {8, 32}
            assert ("momentum" in t.params) == (hp.optimizer == "sgd")
            assert hp.momentum is None or 0.5 <= hp.momentum <= 0.95
            assert t.hyperparameters.epochs == BASE.epochs  # fields outside the space keep the base value

    def test_is_reproducible_with_a_seed(self, strategy, small):
        a = [t.params for t in run(strategy, small).trials]
        b = [t.params for t in run(strategy, small).trials]
        assert a == b

    def test_records_everything_about_each_trial(self, strategy, small):
        t = run(strategy, small, n_trials=2).trials[0]
        assert t.seconds > 0 and t.epochs == BASE.epochs and t.stop_reason == "max_epochs"
        assert len(t.history["val_accuracy"]) == t.epochs and len(t.history["loss"]) == t.epochs
        # the score is the mean over the last epochs, where the run has settled, not a picked maximum
        assert t.score == pytest.approx(np.mean(t.history["val_accuracy"][-5:]))
        assert t.score_loss == pytest.approx(np.mean(t.history["val_loss"][-5:]))
        frozen = run(strategy, small, n_trials=1).optuna.trials[0]
        recorded = frozen.user_attrs["nnfast"]
        assert recorded["data"] and recorded["nnfast_version"] == nf.__version__


def test_grid_runs_every_point_exactly_once(small):
    study = run("grid", small, n_trials=None)
    # lr 2 x (depth 2 x width 2) x (adam + sgd with one momentum) = 16
    points = [tuple(sorted((k, str(v)) for k, v in t.params.items())) for t in study.trials]
    assert len(points) == 16 and len(set(points)) == 16


def test_random_search_of_a_finite_space_runs_each_configuration_once(small, tmp_path):
    # independent draws from 12 configurations repeated some: a trial trained again for nothing
    space = {"lr": tune.choice([1e-3, 3e-3, 1e-2, 3e-2]), "batch_size": tune.choice([32, 64, 128])}
    db = str(tmp_path / "finite.db")
    kwargs = dict(train=small[:2], strategy="random", seed=2, progress=False, storage=db)
    tune.search(BASE.replace(epochs=1), space, n_trials=5, **kwargs)
    study = tune.search(BASE.replace(epochs=1), space, n_trials=30, resume=True, **kwargs)
    points = [json.dumps(t.params, sort_keys=True) for t in study.trials]
    assert len(points) == 12 == len(set(points))  # every one once, then the study ends


def test_budgets_that_cannot_work_are_refused_and_a_timeout_alone_runs_until_it(small):
    with pytest.raises(ValueError, match="the grid has up to 3e"):
        tune.search(BASE, {"batch_size": tune.int(1, 3_000_000)}, train=small[:2], strategy="grid", n_trials=2,
                    progress=False)
    for timeout in (-1, 0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
            tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-1)}, train=small[:2], timeout=timeout, progress=False)
    study = tune.search(BASE.replace(epochs=1, hidden=(4,)), {"lr": tune.loguniform(1e-3, 1e-1)}, train=small[:2],
                        strategy="random", timeout=1.5, progress=False)
    assert len(study.trials) > 20  # the default budget of 20 applies only without a timeout


@pytest.mark.parametrize("data,message", [
    (lambda X, y: dict(train=(np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y)),
         "X has missing values (NaN, NA or None) in column 7 (1 of 600 rows)"),
    (lambda X, y: dict(train=(X[:, 0], y)), "X must be 2-D"),
    (lambda X, y: dict(train=(X[:400], y[:400]), validation=(X[400:, :10], y[400:])), "X_val has 10 features"),
    (lambda X, y: dict(train=(X[y < 9], y[y < 9]), validation=(X[y == 9], y[y == 9])), "not seen in training: [9]"),
    (lambda X, y: dict(train=(X, y, np.ones(len(y)))), "train must be a pair"),
])
def test_bad_data_is_refused_before_the_first_trial(small, data, message, monkeypatch):
    # every trial used to fail on it, and the CLI said so only after the whole search
    ran = []
    monkeypatch.setattr(sys.modules["nnfast._ship"], "run_trial", lambda *a: ran.append(a))
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-1)}, n_trials=2, progress=False, **data(*small[:2]))
    assert ran == []


def test_grid_needs_points_for_continuous_ranges(small):
    with pytest.raises(ValueError, match="explicit points"):
        tune.search(BASE, {"lr": tune.uniform(0.001, 0.1)}, train=small[:2], strategy="grid", progress=False)


@pytest.mark.parametrize("make,message", [
    (lambda: tune.loguniform(0, 1), "low > 0"), (lambda: tune.uniform(1, 0), "low < high"),
    (lambda: tune.int(1.5, 3), "integer bounds"), (lambda: tune.choice([]), "at least one"),
    (lambda: tune.layers(depth=2, width=tune.int(1, 4)), "distribution"),
])
def test_bad_distributions_are_refused(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_a_trial_that_raises_is_recorded_shown_in_the_summary_and_the_study_goes_on(small):
    # valid widths, but buffers past 2^63 bytes: found only when the network is built
    space = {"hidden": tune.choice([(16,), (2**31 - 1, 2**31 - 1)])}
    study = tune.search(BASE, space, train=small[:2], strategy="grid", progress=False)
    states = {t.state for t in study.trials}
    assert states == {"failed", "complete"} and len(study.trials) == 2
    failed = next(t for t in study.trials if t.state == "failed")
    assert "cannot size the network's training buffers" in failed.error
    summary = study.summary()
    assert f"failed: trial {failed.number}: ValueError: cannot size the network's training buffers" in summary


# --- pruning and divergence ----------------------------------------------------------------

def test_pruning_thresholds_are_medians_of_running_averages_by_epoch():
    # the median stopping rule (Golovin et al., 2017): not the best-so-far curves, against
    # which a configuration as good as the completed ones is pruned by one dip of noise
    from nnfast.tune.search import _thresholds

    study = optuna.create_study(direction="maximize")
    curves = [{0: 0.5, 2: 0.7}, {0: 0.4, 1: 0.6}, {0: 0.6}, {0: 0.3, 1: 0.2, 2: 0.9}, {1: 0.8}]
    for values in curves:  # epoch 1 missing from the first: a gap, not a shift
        study.add_trial(optuna.trial.create_trial(value=max(values.values()), intermediate_values=values))
    # running averages, a trial that ended sooner going on at its last value, gaps left out:
    # [.5 .5 .6 .633], [.4 .5 .533 .55], [.6 .6 .6 .6], [.3 .25 .467 .575], [none .8 .8 .8]
    assert _thresholds(study, 1.0, 4) == pytest.approx([0.4, 0.5, 0.6, 0.6])
    # minimising: the same in the other direction
    low = optuna.create_study(direction="minimize")
    for values in curves:
        low.add_trial(optuna.trial.create_trial(value=min(values.values()), intermediate_values=values))
    assert _thresholds(low, -1.0, 3) == pytest.approx([0.5, 0.5, 0.6])
    assert _thresholds(optuna.create_study(), 1.0, 3) == []  # too few completed trials


def test_pruning_cuts_time_when_half_the_configurations_are_poor(small):
    X, y = small[:2]
    hp = BASE.replace(epochs=30, hidden=(32,))
    good, poor = [3e-3, 4e-3, 5e-3, 7e-3, 1e-2], [1e-6, 2e-6, 3e-6, 4e-6, 5e-6]  # the poor ones barely learn
    kwargs = dict(train=(X, y), strategy="grid", n_trials=None, progress=False, warmup_epochs=3)
    # the grid runs the good configurations first, so the median exists when the poor ones run
    without = tune.search(hp, {"lr": tune.choice(good + poor)}, pruning=False, **kwargs)
    pruned = tune.search(hp, {"lr": tune.choice(good + poor)}, pruning=True, **kwargs)
    for t in pruned.trials:
        assert t.state == ("pruned" if t.hyperparameters.lr in poor else "complete")
        assert t.epochs == (3 if t.hyperparameters.lr in poor else 30)
    # the work (epochs trained) falls by almost half
    assert sum(t.epochs for t in pruned.trials) < 0.6 * sum(t.epochs for t in without.trials)
    assert pruned.best().score == pytest.approx(without.best().score)


def test_diverging_trials_stop_within_an_epoch(small):
    space = {"lr": tune.choice([0.05, 1e4])}
    study = tune.search(BASE.replace(optimizer="sgd", epochs=20), space, train=small[:2], strategy="grid",
                        n_trials=None, progress=False)
    by_lr = {t.hyperparameters.lr: t for t in study.trials}
    assert by_lr[1e4].state == "diverged" and by_lr[1e4].epochs == 1
    assert by_lr[0.05].state == "complete"


# --- execution ---------------------------------------------------------------------------------

def _scores(study):
    return [(t.params, t.state, round(t.score, 6)) for t in study.trials]


@pytest.mark.slow
def test_threads_processes_and_dask_run_the_same_study(small):
    distributed = pytest.importorskip("distributed")
    X, y = small[:2]
    space = {"lr": tune.loguniform(1e-3, 3e-2), "hidden": tune.choice([(8,), (16,)])}
    kwargs = dict(train=(X, y), strategy="random", n_trials=4, seed=1, progress=False, pruning=False)
    threads = tune.search(BASE, space, n_jobs=2, executor="threads", **kwargs)
    processes = tune.search(BASE, space, n_jobs=2, executor="processes", **kwargs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster, distributed.Client(cluster) as client:
        dask = tune.search(BASE, space, n_jobs=2, executor=client.get_executor(), **kwargs)
    assert _scores(threads) == _scores(processes) == _scores(dask)


def test_two_jobs_run_side_by_side(small):
    X, y = small[:2]
    study = tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-2)}, train=(X, y), strategy="random", n_trials=4,
                        n_jobs=2, progress=False)
    assert len(study.trials) == 4 and all(t.state == "complete" for t in study.trials)
    assert nf.get_num_threads() == nf._core.get_num_threads()  # restored after the study


# --- storage and resuming ------------------------------------------------------------------

def test_a_stored_study_refuses_to_be_overwritten_and_checks_what_it_resumes(small, tmp_path):
    db = str(tmp_path / "s.db")
    kwargs = dict(train=small[:2], strategy="random", n_trials=2, storage=db, progress=False)
    tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-2)}, **kwargs)
    with pytest.raises(ValueError, match="already exists"):
        tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-2)}, **kwargs)
    with pytest.raises(ValueError, match="space differs"):
        tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-1)}, resume=True, **kwargs)
    other = (small[0][:300], small[1][:300])
    with pytest.raises(ValueError, match="data differs"):
        tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-2)}, resume=True, **{**kwargs, "train": other})
    again = tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-2)}, resume=True, **{**kwargs, "n_trials": 3})
    assert len(again.trials) == 3
    assert len(tune.load_study(db).trials) == 3


@pytest.mark.parametrize("strategy", ["random", "bayes"])
def test_resume_and_extension_continue_the_sequence_and_never_repeat(strategy, small, tmp_path):
    # the seeded sampler used to start again from its seed: trials 3-5 repeated trials 0-2
    db = str(tmp_path / "s.db")
    space = {"lr": tune.loguniform(1e-3, 3e-2), "hidden": tune.choice([(8,), (16,), (32,)]),
             "batch_size": tune.choice([32, 64, 128])}
    kwargs = dict(train=small[:2], strategy=strategy, seed=4, progress=False, pruning=False)
    hp = BASE.replace(epochs=2)
    tune.search(hp, space, n_trials=3, storage=db, **kwargs)
    resumed = tune.search(hp, space, n_trials=6, storage=db, resume=True, **kwargs)
    params = [t.params for t in resumed.trials]
    assert len(params) == 6 and len({json.dumps(p, sort_keys=True) for p in params}) == 6
    straight = tune.search(hp, space, n_trials=6, **kwargs)  # the whole study, reproducible from its seed
    assert [t.params for t in straight.trials] == params


@pytest.mark.parametrize("strategy", ["grid", "random"])
def test_a_space_given_again_in_another_order_repeats_and_skips_nothing(strategy, small, tmp_path):
    # the finished points were known by their index in the enumeration, which follows the
    # entries' order: resumed with the keys swapped, 9 trials ran 8 configurations (grid)
    db = str(tmp_path / "s.db")
    first = {"lr": [1e-3, 1e-2, 1e-1], "batch_size": [16, 32, 64]}
    swapped = {"batch_size": [16, 32, 64], "lr": [1e-3, 1e-2, 1e-1]}
    kwargs = dict(train=small[:2], strategy=strategy, seed=3, progress=False, pruning=False)
    hp = BASE.replace(epochs=1)
    tune.search(hp, first, n_trials=4, storage=db, **kwargs)
    resumed = tune.search(hp, swapped, n_trials=9, storage=db, resume=True, **kwargs)
    keys = {json.dumps(t.params, sort_keys=True) for t in resumed.trials if t.state != "waiting"}
    assert len(keys) == 9
    if strategy == "random":  # the shuffled order does not depend on the entries' order either
        assert [t.params for t in tune.search(hp, first, n_trials=5, **kwargs).trials] == \
               [t.params for t in tune.search(hp, swapped, n_trials=5, **kwargs).trials]


def test_resume_keeps_pruning_and_its_warmup(small, tmp_path):
    db = str(tmp_path / "s.db")
    kwargs = dict(train=small[:2], strategy="random", seed=3, progress=False, storage=db)
    hp = BASE.replace(epochs=1)
    tune.search(hp, {"lr": tune.loguniform(1e-3, 1e-1)}, n_trials=2, **kwargs)
    with pytest.raises(ValueError, match="its pruning differs .*stored true, given false"):
        tune.search(hp, {"lr": tune.loguniform(1e-3, 1e-1)}, n_trials=3, resume=True, pruning=False, **kwargs)
    with pytest.raises(ValueError, match="its warmup_epochs differs .*stored 5, given 2"):
        tune.search(hp, {"lr": tune.loguniform(1e-3, 1e-1)}, n_trials=3, resume=True, warmup_epochs=2, **kwargs)
    assert len(tune.search(hp, {"lr": tune.loguniform(1e-3, 1e-1)}, n_trials=3, resume=True, **kwargs).trials) == 3
    again = tune.search(hp, {"lr": tune.loguniform(1e-3, 1e-1)}, n_trials=1, resume=True, **kwargs)
    assert len(again.trials) == 3 and again.attrs["n_trials"] == 3  # a smaller budget did not overwrite it
    kept = tune.search(hp, {"lr": tune.loguniform(1e-3, 1e-1)}, resume=True, **kwargs)  # no n_trials: the study's
    assert len(kept.trials) == 3  # it ran the default 20 before
    for bad, error in (({"pruning": 1}, TypeError), ({"warmup_epochs": -1}, ValueError),
                       ({"warmup_epochs": 2.5}, TypeError)):
        with pytest.raises(error, match="pruning|warmup_epochs"):
            tune.search(hp, {"lr": tune.loguniform(1e-3, 1e-1)}, train=small[:2], n_trials=1, progress=False, **bad)


FINITE = {"lr": [1e-3, 3e-3, 1e-2], "hidden": tune.choice([(8,), (16,), (32,)]), "batch_size": [32, 64]}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_bayes_never_repeats_a_configuration_of_a_finite_space(n_jobs, small, tmp_path):
    # TPE proposed the best configurations of a small space again and again: 8 trials on 4
    # points ran each twice, identical scores and all
    kwargs = dict(train=small[:2], strategy="bayes", seed=5, progress=False, pruning=False, n_jobs=n_jobs)
    hp = BASE.replace(epochs=1)
    straight = tune.search(hp, FINITE, n_trials=14, **kwargs)  # past the 8 random start-up trials
    keys = [json.dumps(t.params, sort_keys=True) for t in straight.trials]
    assert len(keys) == 14 and len(set(keys)) == 14
    db = str(tmp_path / "s.db")
    tune.search(hp, FINITE, n_trials=10, storage=db, **kwargs)
    resumed = tune.search(hp, FINITE, n_trials=14, storage=db, resume=True, **kwargs)
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]
    layered = {"hidden": tune.layers(depth=tune.int(1, 2), width=tune.choice([16, 32]), shrink=tune.choice([0.5, 1.0]))}
    hidden = [t.hyperparameters.hidden for t in tune.search(hp, layered, n_trials=12, **kwargs).trials]
    assert len(hidden) == len(set(hidden)) == 6  # at depth 1 every shrink makes the same layers: 6, not 8
    small_space = {"batch_size": [16, 32], "lr": [1e-3, 1e-2]}
    whole = tune.search(hp, small_space, n_trials=8, **kwargs)  # a budget past the space: each point once
    assert sorted(json.dumps(t.params, sort_keys=True) for t in whole.trials) == sorted(
        json.dumps({"batch_size": b, "lr": lr}, sort_keys=True) for b in (16, 32) for lr in (1e-3, 1e-2))


FLAT = {"lr": tune.loguniform(1e-3, 3e-2), "hidden": tune.choice([(8,), (16,), (32,)]),
        "batch_size": tune.choice([32, 64])}


@pytest.mark.parametrize("cut,space", [(3, FLAT), (8, FLAT), *((cut, SPACE) for cut in range(9, 14))])
def test_a_study_resumed_with_two_jobs_is_the_uninterrupted_one(cut, space, small, tmp_path):
    # with two jobs, trial k is asked while trial k-1 runs: a resume must replay that schedule,
    # or the sampler (constant liar, startup count) and the pruning medians see other trials.
    # With a conditional entry (momentum when sgd) TPE's constant liar also reads the values
    # it drew jointly for the running trial, which it keeps in the trial's system attributes:
    # a replay without them drew another momentum for trial `cut` (after 30 trials of the CLI's
    # default space, found by a new user)
    hp = BASE.replace(epochs=8)
    kwargs = dict(train=small[:2], strategy="bayes", seed=3, progress=False, n_jobs=2, warmup_epochs=2)
    straight = tune.search(hp, space, n_trials=14, **kwargs)
    db = str(tmp_path / "cut.db")
    tune.search(hp, space, n_trials=cut, storage=db, **kwargs)
    resumed = tune.search(hp, space, n_trials=14, storage=db, resume=True, **kwargs)
    assert [(t.params, t.state, t.score) for t in resumed.trials] == \
        [(t.params, t.state, t.score) for t in straight.trials]
    assert {t.state for t in straight.trials} >= {"complete", "pruned"}  # pruning took part


KILL_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, nnfast as nf
    from nnfast import tune
    X, y = nf.data.load_digits()
    hp = nf.Hyperparameters(hidden=(16,), epochs=int(sys.argv[2]), standardize=True)
    if sys.argv[3] == "grid":
        space = {"lr": tune.choice([1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3]),
                 "batch_size": tune.choice([32, 64])}
    else:
        space = {"lr": tune.loguniform(1e-3, 1e-2), "batch_size": tune.choice([32, 64])}
    tune.search(hp, space, train=(X[:800], y[:800]), strategy=sys.argv[3], n_trials=16, storage=sys.argv[1],
                n_jobs=2, resume=len(sys.argv) > 4, pruning=False, progress=False, seed=2)
""")


def _kill_after(db, script, strategy, tmp_path, finished=3):
    proc = subprocess.Popen([sys.executable, str(script), db, "40", strategy], cwd=tmp_path)
    deadline = time.time() + 60
    done = []
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
        if os.path.exists(db):
            try:
                done = [t for t in tune.load_study(db).trials if t.state == "complete"]
            except Exception:  # the driver may not have created the study yet
                continue
            if len(done) >= finished:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(done) >= finished, "the study did not get going"
    return {t.number: t.params for t in tune.load_study(db).trials}


@pytest.mark.parametrize("strategy", ["grid", "random"])
def test_kill_9_then_resume_loses_and_repeats_nothing(strategy, tmp_path):
    db = str(tmp_path / "killed.db")
    script = tmp_path / "study.py"
    script.write_text(KILL_SCRIPT)
    before = _kill_after(db, script, strategy, tmp_path)
    subprocess.run([sys.executable, str(script), db, "40", strategy, "resume"], cwd=tmp_path, check=True, timeout=300)
    study = tune.load_study(db)
    points = [json.dumps(t.params, sort_keys=True) for t in study.trials]
    assert all(t.state == "complete" for t in study.trials)
    assert len(points) == 16 and len(set(points)) == 16  # none lost, none run twice
    for number, params in before.items():  # what was written before the kill is kept as it was
        assert study.trials[number].params == params
    if strategy == "random":  # and the study is the one an uninterrupted run gives
        subprocess.run([sys.executable, str(script), str(tmp_path / "whole.db"), "40", strategy], cwd=tmp_path,
                       check=True, timeout=300)
        whole = tune.load_study(str(tmp_path / "whole.db"))
        assert [t.params for t in whole.trials] == [t.params for t in study.trials]


def test_a_study_with_trials_nnfast_did_not_write_is_not_resumed(small, tmp_path):
    db = str(tmp_path / "other.db")
    space = {"lr": tune.choice([1e-3, 3e-3, 1e-2, 3e-2])}
    kwargs = dict(train=small[:2], strategy="grid", storage=db, progress=False)
    tune.search(BASE, space, n_trials=2, **kwargs)
    optuna.load_study(study_name="nnfast", storage=tune.open_storage(db)).ask()  # running, by hand
    with pytest.raises(ValueError, match="running or waiting, which nnfast never writes"):
        tune.search(BASE, space, resume=True, **kwargs)


def test_storage_is_written_once_per_trial_not_per_epoch(small, tmp_path, monkeypatch):
    # every epoch of every trial used to be a commit: a study with storage took 8x one in memory
    from nnfast.tune.storage import SQLiteJournal

    appends = []
    original = SQLiteJournal.append_logs
    monkeypatch.setattr(SQLiteJournal, "append_logs", lambda self, logs: (appends.append(len(logs)),
                                                                          original(self, logs))[1])

    def count(epochs, n_trials, name):
        appends.clear()
        tune.search(BASE.replace(epochs=epochs), {"lr": tune.choice([1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2])},
                    train=small[:2], strategy="grid", n_trials=n_trials, storage=str(tmp_path / f"{name}.db"),
                    progress=False, pruning=False)
        return len(appends)

    short, long, more = count(2, 3, "short"), count(20, 3, "long"), count(2, 6, "more")
    assert short == long  # whatever the trials' length
    assert more - short == 3  # and one transaction per trial
    study = tune.load_study(str(tmp_path / "long.db"))
    assert [len(t.history["val_loss"]) for t in study.trials] == [20, 20, 20]  # the whole curve, in that one


INTERRUPT_SCRIPT = textwrap.dedent("""
    import sys, nnfast as nf
    from nnfast import tune
    X, y = nf.data.load_digits()
    # a quick first trial, then two that would take many minutes
    space = {"epochs": tune.choice([2, 100000, 100001])}
    tune.search(nf.Hyperparameters(hidden=(64,), standardize=True), space, train=(X, y), strategy="grid",
                storage=sys.argv[1], n_jobs=2, pruning=False, progress=False, resume=len(sys.argv) > 2)
""")


def test_ctrl_c_stops_running_trials_at_once_and_keeps_the_finished_ones(tmp_path):
    # the driver used to wait for every running trial to finish, then keep none of them
    db = str(tmp_path / "int.db")
    script = tmp_path / "interrupt.py"
    script.write_text(INTERRUPT_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), db], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
            try:
                if tune.load_study(db).trials:
                    break
            except Exception:  # not created yet
                continue
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)  # the long trials stop at their next epoch
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    study = tune.load_study(db)
    assert [t.hyperparameters.epochs for t in study.trials] == [2] and study.trials[0].state == "complete"


def test_study_files_with_any_characters_in_their_path(small, tmp_path):
    # "?" used to cut the path (the study went to a file named "what"), "%" to be decoded
    space = {"lr": tune.choice([1e-3, 1e-2])}
    for name in ("what?.db", "ünï#cøde%20 x.db", "q%3F.db"):
        path = tmp_path / "dir with spaces" / name
        path.parent.mkdir(exist_ok=True)
        study = tune.search(BASE.replace(epochs=1), space, train=small[:2], strategy="grid", storage=str(path),
                            progress=False)
        assert study.attrs["storage"] == str(path) and path.is_file()
        assert len(tune.load_study(str(path)).trials) == 2
        assert len(optuna.load_study(study_name="nnfast", storage=tune.open_storage(str(path))).trials) == 2
    assert sorted(p.name for p in (tmp_path / "dir with spaces").iterdir()
                  if not p.name.endswith(("-wal", "-shm"))) == sorted(["what?.db", "ünï#cøde%20 x.db", "q%3F.db"])


def test_a_study_file_that_cannot_be_written_is_read_only(small, tmp_path, monkeypatch):
    from nnfast.tune import storage

    db = str(tmp_path / "ro.db")
    tune.search(BASE.replace(epochs=1), {"lr": tune.choice([1e-3, 1e-2])}, train=small[:2], strategy="grid",
                storage=db, progress=False)
    monkeypatch.setattr(storage, "_writable", lambda path: False)  # a read-only mount (tests run as root)
    study = tune.load_study(db)
    assert len(study.trials) == 2 and study.best().number in (0, 1)
    with pytest.raises(PermissionError, match="read-only here"):
        study.refit(*small[:2])


def test_a_killed_driver_not_reaped_yet_holds_nothing():
    import socket

    from nnfast.tune.storage import _alive, _process_start

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = _process_start(child.pid)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:  # exited, not yet waited for: a zombie
            with open(f"/proc/{child.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.02)
        lease = {"host": socket.gethostname(), "pid": child.pid, "start": start, "beat": time.time()}
        assert not _alive(lease, time.time())
        assert _alive({**lease, "pid": os.getpid(), "start": _process_start(os.getpid())}, time.time())
    finally:
        child.wait()


def _cli(args, cwd, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "nnfast", "tune", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


TWO_DRIVER_ARGS = ["--storage", "two.db", "--no-test", "--strategy", "grid", "--space", "space.json",
                   "--set", "standardize=true", "--set", "patience=null", "--report", "r.html"]


GATED_SCRIPT = textwrap.dedent("""
    import concurrent.futures as cf, os, sys, time, nnfast as nf
    from nnfast import tune

    class Gated(cf.ThreadPoolExecutor):
        # runs each trial once the gate file exists: the driver stays alive, holding the study, until then
        def submit(self, fn, *args):
            def gated(*a):
                while not os.path.exists(sys.argv[2]):
                    time.sleep(0.02)
                return fn(*a)
            return super().submit(gated, *args)

    X, y = nf.data.load_digits()
    space = {"lr": tune.choice([1e-3, 2e-3, 3e-3, 4e-3]), "hidden": tune.choice([(8,), (16,)])}
    resume = sys.argv[3] == "resume"
    try:
        tune.search(nf.Hyperparameters(epochs=3, standardize=True), space, train=(X[:600], y[:600]), strategy="grid",
                    storage=sys.argv[1], resume=resume, executor=Gated(max_workers=1), progress=False)
    except tune.StudyBusyError as exc:
        print(exc, file=sys.stderr)
        sys.exit(3)
""")


def test_a_second_driver_on_a_running_study_refuses_and_steals_nothing(tmp_path):
    # a second resume used to mark the first driver's running trial interrupted and re-queue it
    db, gate = str(tmp_path / "two.db"), str(tmp_path / "gate")
    script = tmp_path / "driver.py"
    script.write_text(GATED_SCRIPT)
    first = subprocess.Popen([sys.executable, str(script), db, gate, "new"], cwd=tmp_path)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and first.poll() is None:  # until the first driver holds the study
            time.sleep(0.05)
            try:
                attrs = optuna.load_study(study_name="nnfast", storage=tune.open_storage(db)).user_attrs
            except Exception:  # not created yet
                continue
            if any(k.startswith("nnfast:driver:") and v for k, v in attrs.items()):
                break
        second = subprocess.run([sys.executable, str(script), db, gate, "resume"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 3, second.stderr
        assert second.stderr.startswith(f"another nnfast driver is running study 'nnfast' (pid {first.pid} on ")
        assert first.poll() is None
        open(gate, "w").close()
        assert first.wait(timeout=300) == 0
    finally:
        first.kill()
        first.wait()
    study = tune.load_study(db)
    points = {json.dumps(t.params, sort_keys=True) for t in study.trials}
    assert len(study.trials) == 8 == len(points) and all(t.state == "complete" for t in study.trials)
    # the first driver gave the study up when it finished: a resume may now run (and finds nothing to do)
    again = subprocess.run([sys.executable, str(script), db, gate, "resume"], cwd=tmp_path, timeout=120)
    assert again.returncode == 0 and len(tune.load_study(db).trials) == 8


def test_a_busy_study_is_a_one_line_error_in_the_cli(small, tmp_path, capsys):
    from nnfast.tune.storage import DriverLease

    db = str(tmp_path / "busy.db")
    cli = pytest.importorskip("nnfast.cli")
    assert cli.main(["tune", "--storage", db, "--no-test", "--trials", "1", "--set", "epochs=1",
                     "--report", str(tmp_path / "r.html")]) == 0
    stored = optuna.load_study(study_name="nnfast", storage=tune.open_storage(db))
    holder = DriverLease(stored)  # another driver, alive (this very process), holds the study
    holder.acquire()
    capsys.readouterr()
    try:
        assert cli.main(["tune", "--storage", db, "--resume", "--trials", "2"]) == 1
    finally:
        holder.release()
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("nnfast tune: error: another nnfast driver is running study 'nnfast'")
    assert len(tune.load_study(db).trials) == 1


def test_two_fresh_drivers_on_a_new_file_one_runs_the_other_says_why(tmp_path):
    # the loser of the race to create the tables used to print a raw SQLAlchemy traceback
    (tmp_path / "space.json").write_text(json.dumps({"lr": [1e-3, 3e-3], "hidden": [[16]]}))
    procs = [_cli([*TWO_DRIVER_ARGS, "--set", "epochs=5"], tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    err = next(err for code, _, err in results if code == 1)
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("nnfast tune: error: ")
    assert len(tune.load_study(str(tmp_path / "two.db")).trials) == 2


def test_two_jobs_give_the_same_study_every_run(small):
    # results are told in the order the trials were asked, so timing cannot change what is asked next
    space = {"lr": tune.loguniform(1e-3, 3e-2), "hidden": tune.choice([(8,), (32,), (64,)]),
             "batch_size": tune.choice([16, 64])}
    runs = [tune.search(BASE.replace(epochs=4), space, train=small[:2], strategy="bayes", n_trials=12, n_jobs=2,
                        seed=5, progress=False) for _ in range(3)]
    first = [(t.params, t.score) for t in runs[0].trials]
    assert all([(t.params, t.score) for t in run.trials] == first for run in runs[1:])
    assert len({run.best().number for run in runs}) == 1


def test_importances_keep_optunas_warnings_to_themselves(small):
    # too few sgd trials for momentum: PED-ANOVA warns that its importance may be inaccurate
    import warnings

    space = {"optimizer": tune.choice(["adam", "sgd"]), "lr": tune.choice([1e-3, 3e-3, 1e-2, 3e-2, 0.1]),
             "momentum": tune.uniform(0.5, 0.9, points=[0.9]).when(optimizer="sgd")}
    study = tune.search(BASE.replace(epochs=2), space, train=small[:2], strategy="grid", n_trials=6,
                        progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        optuna.importance.get_param_importances(study.optuna, evaluator=evaluator)
        assert any("momentum" in str(w.message) for w in caught)  # the case is real
        caught.clear()
        assert set(study.importances()) == {"optimizer", "lr", "momentum"}
    assert caught == []


def test_trials_side_by_side_keep_divergence_warnings_and_threads_to_themselves(small):
    # each trial silenced DivergenceWarning in its own thread, but warning filters are the
    # process's: with two jobs the silencing raced and warnings leaked (and a caller's
    # executor left nnfast single-threaded after the study)
    import concurrent.futures
    import warnings

    space = {"lr": tune.choice([1e4, 2e4, 3e4, 4e4, 0.01, 5e4, 6e4, 7e4])}
    hp = BASE.replace(optimizer="sgd", epochs=3)
    before = nf.get_num_threads()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for executor in (None, concurrent.futures.ThreadPoolExecutor(2)):
            study = tune.search(hp, space, train=small[:2], strategy="grid", n_jobs=2, executor=executor,
                                progress=False)
            assert sum(t.state == "diverged" for t in study.trials) == 7
            assert nf.get_num_threads() == before
    assert [w for w in caught if issubclass(w.category, nf.DivergenceWarning)] == []
    with pytest.warns(nf.DivergenceWarning):  # and outside a study they warn as ever
        nf.train(hp.replace(lr=1e4), *small[:2], verbose=False)


def test_a_loss_that_would_record_no_objective_is_refused_before_any_trial(small):
    # its trials used to fail one by one ("records no 'val_accuracy', the study's objective")
    with pytest.raises(ValueError, match="search entry 'loss': 'mse' makes a regression of these targets"):
        tune.search(BASE.replace(epochs=2), {"loss": tune.choice(["cross_entropy", "mse"])}, train=small[:2],
                    strategy="grid", progress=False)


def test_search_leaves_optunas_logging_alone_and_keeps_it_quiet(small, capsys):
    import logging

    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logging.getLogger("optuna").addHandler(handler)
        study = tune.search(BASE.replace(epochs=2), {"lr": tune.loguniform(1e-3, 1e-2)}, train=small[:2],
                            strategy="bayes", n_trials=3, progress=False)
        study.importances()
        assert optuna.logging.get_verbosity() == optuna.logging.INFO  # the caller's level, untouched
        assert records == [] and capsys.readouterr().err == ""  # and none of Optuna's lines in nnfast's output
        optuna.create_study()  # the caller's own studies still log
        assert records
        logging.getLogger("optuna").removeHandler(handler)
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


# --- after the search: best, Pareto, refit, the test lockbox, re-runs ------------------------

@pytest.fixture(scope="module")
def finished(small, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("study") / "s.db")
    X, y = small[:2]
    space = {"lr": tune.loguniform(1e-3, 3e-2), "hidden": tune.choice([(8,), (64,), (128, 64)])}
    return tune.search(BASE.replace(patience=3, epochs=15), space, train=(X, y), strategy="random", n_trials=8,
                       storage=db, progress=False, pruning=False)


def test_best_pareto_and_time_budget(finished):
    scored = [t for t in finished.trials if t.state == "complete"]
    best = finished.best()
    assert best.score == max(t.score for t in scored)
    front = finished.pareto()
    assert front[0].seconds == min(t.seconds for t in scored) and front[-1].score == best.score
    for t in scored:  # nothing on the front is beaten on both counts
        for f in front:
            assert not (t.score > f.score and t.seconds < f.seconds)
    fast = finished.best(max_seconds=front[0].seconds)
    assert fast.seconds <= front[0].seconds
    with pytest.raises(ValueError, match="within"):
        finished.best(max_seconds=0.0)


def test_table_lists_every_trial(finished):
    table = finished.table()
    assert len(table) == 8 and "val_accuracy" in table.columns and "lr" in table.columns


def test_refit_then_one_look_at_the_test_set(finished, small):
    X, y, X_test, y_test = small
    with pytest.raises(RuntimeError, match="refit"):
        finished.test(X_test, y_test)
    model = finished.refit(X, y)
    best = finished.best()
    assert model.hyperparameters == best.hyperparameters  # the very procedure the trial was scored on
    assert finished.attrs["refit"]["epochs"] <= best.hyperparameters.epochs
    scores = finished.test(X_test, y_test)
    assert scores["accuracy"] > 0.8
    with pytest.raises(RuntimeError, match="already looked at"):
        finished.test(X_test, y_test)
    reopened = tune.load_study(finished.attrs["storage"])
    reopened.model = model
    with pytest.raises(RuntimeError, match="already looked at"):  # the lockbox is in the storage
        reopened.test(X_test, y_test)
    again = reopened.test(X_test, y_test, force=True)
    looks = tune.load_study(finished.attrs["storage"]).attrs["test_looks"]
    assert len(looks) == 2 and looks[1]["forced"] and again == scores


def test_refit_for_a_chosen_number_of_epochs(finished, small):
    X, y = small[:2]
    model = finished.refit(X, y, epochs=3)
    assert model.hyperparameters.epochs == 3 and finished.attrs["refit"]["epochs"] == 3
    with pytest.raises(ValueError, match="epochs"):
        finished.refit(X, y, epochs=0)


def test_rerun_the_top_configurations_on_new_data(finished, small):
    X_new, y_new = small[0][:500], small[1][:500]  # not the test rows: an earlier test looked at them
    rerun = finished.rerun(X_new, y_new, k=3)
    assert len(rerun.trials) == 3 and rerun.attrs["rerun_of"] == finished.name
    top = sorted((t for t in finished.trials if t.state == "complete"), key=finished._rank)[:3]
    assert [t.hyperparameters for t in rerun.trials] == [t.hyperparameters for t in top]
    assert rerun.attrs["data"] != finished.attrs["data"]


def test_importances_name_the_searched_fields(finished):
    importances = finished.importances()
    assert set(importances) <= {"lr", "hidden"} and math.isclose(sum(importances.values()), 1.0, rel_tol=1e-6)


# --- learning-rate tools -------------------------------------------------------------------------

def test_lr_range_test_finds_where_the_cost_falls_and_blows_up(small):
    X, y = small[:2]
    result = tune.lr_range_test(nf.Hyperparameters(optimizer="sgd", standardize=True, batch_size=32), X, y,
                                min_lr=1e-5, max_lr=100.0, steps=200)
    assert result.blows_up_at is not None and len(result.costs) < 200
    assert 1e-5 < result.suggested <= result.falls_until < result.blows_up_at
    assert np.isfinite(result.smoothed[: len(result.costs) - 1]).all()


@pytest.mark.parametrize("lr,expected", [(1e-5, "too slow"), (0.3, "good"), (1e3, "diverging")])
def test_compare_judges_each_curve(small, lr, expected):
    X, y = small[:2]
    result = tune.compare(nf.Hyperparameters(optimizer="sgd", epochs=10, standardize=True, hidden=(32,)), "lr",
                          [lr], X, y)
    assert result.verdicts == [expected]


def test_verdict_spots_oscillation():
    history = nf.History("accuracy", 8, False)
    history.initial_loss = 2.0
    for cost in [1.5, 1.8, 1.2, 1.6, 1.1, 1.5, 1.0, 1.4]:
        history.append(loss=cost)
    history.stop_reason = "max_epochs"
    assert tune.verdict(history) == "oscillating"


@pytest.fixture(scope="module")
def few_digits():
    """300 training rows and a validation part: few enough rows to memorise."""
    X, y = nf.data.load_digits()
    # seed 3: a split where sgd at lr=3 settles instead of blowing up (it is chaotic there:
    # on other splits it diverges or oscillates, which the verdicts then say)
    X_tr, X_val, _, y_tr, y_val, _ = nf.data.train_val_test_split(X, y, seed=3)
    return X_tr[:300], y_tr[:300], X_val, y_val


@pytest.mark.parametrize("optimizer,lr,steady", [("sgd", 3.0, 0.1), ("adam", 0.03, 1e-3)])
def test_compare_reads_the_validation_curve_too(few_digits, optimizer, lr, steady):
    # full-batch runs whose training cost falls to ~0 were "good" until the validation
    # curve was read: sgd lr=3 ends with the validation cost far above the training cost
    # (1.3 against 0.001); adam lr=0.03 has it rising from its best epoch (0.6 at the end)
    X, y, X_val, y_val = few_digits
    hp = nf.Hyperparameters(optimizer=optimizer, hidden=(256,), batch_size=None, standardize=True, epochs=20)
    result = tune.compare(hp, "lr", [steady, lr], X, y, validation=(X_val, y_val))
    assert result.verdicts == ["good", "overfitting"]
    assert "overfitting" in tune.lr.VERDICTS
    overfit = result.histories[1]
    assert overfit["loss"][-1] < 0.01 and overfit["val_loss"][-1] > 0.4
    if optimizer == "adam":
        best = int(np.argmin(overfit["val_loss"]))
        assert best < 10 and overfit["val_loss"][-1] > 1.5 * overfit["val_loss"][best]
    # the training curve alone still reads "good": the verdict of the same run without validation
    alone = tune.compare(hp, "lr", [lr], X, y)
    assert alone.verdicts == ["good"]


def test_a_search_in_another_thread_leaves_this_threads_warnings_alone(small):
    # the search set process-wide filters for DivergenceWarning: a diverging nf.train in
    # another thread meanwhile said nothing
    import threading
    import warnings

    X, y = small[:2]
    started, done = threading.Event(), threading.Event()

    def study():
        started.set()
        tune.search(BASE.replace(epochs=30), {"lr": tune.loguniform(1e-3, 1e-2)}, train=(X, y), n_trials=6,
                    strategy="random", progress=False, pruning=False)
        done.set()

    worker = threading.Thread(target=study)
    worker.start()
    started.wait()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, history = nf.train(nf.Hyperparameters(lr=1e4, epochs=3, hidden=(16,)), X, y, verbose=False)
        search_was_running = not done.is_set()
    finally:
        worker.join()
    assert history.stop_reason == "diverged"
    assert any(issubclass(w.category, nf.DivergenceWarning) for w in caught)
    assert search_was_running  # else this checked nothing: the search must outlast the training here
    with warnings.catch_warnings():  # and the trials' own divergence stays their state, not a warning
        warnings.simplefilter("error")
        study = tune.search(BASE, {"lr": [1e4]}, train=(X, y), strategy="grid", progress=False)
    assert study.trials[0].state == "diverged"
