"""Cross-validation inside a search, the standard error of every score, and the guard
against overfitting the validation set (contenders, rescore): issue 12."""

import json
import math
import sys

import numpy as np
import pytest

import nnfast as nf

tune = pytest.importorskip("nnfast.tune")
optuna = pytest.importorskip("optuna")

from nnfast import cli  # noqa: E402
search_module = __import__("importlib").import_module("nnfast.tune.search")
from nnfast.tune.trial import TrialResult, merge_folds, score_standard_error  # noqa: E402

BASE = nf.Hyperparameters(hidden=(16,), epochs=6, standardize=True, batch_size=64)
SPACE = {"lr": tune.loguniform(1e-3, 3e-2), "hidden": tune.choice([(8,), (16,)])}


@pytest.fixture(scope="module")
def small():
    X, y = nf.data.load_digits()
    return X[:600], y[:600]


def cv_search(small, **kwargs):
    options = dict(strategy="random", n_trials=4, seed=2, progress=False, cv=3)
    options.update(kwargs)
    return tune.search(BASE, SPACE, train=small, **options)


# --- the folds --------------------------------------------------------------------------------

def test_fold_indices_cover_every_row_once_balanced_and_seeded():
    y = np.repeat(np.arange(3), [30, 20, 13])
    parts = nf.data.fold_indices(len(y), 4, seed=5, stratify=y)
    assert len(parts) == 4
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(y)))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    for c, count in zip(range(3), [30, 20, 13]):  # each class spread over the folds as evenly as it can be
        per_fold = [int((y[p] == c).sum()) for p in parts]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == count
    again = nf.data.fold_indices(len(y), 4, seed=5, stratify=y)
    other = nf.data.fold_indices(len(y), 4, seed=6, stratify=y)
    assert all((a == b).all() for a, b in zip(parts, again))
    assert not all((a == b).all() for a, b in zip(parts, other))
    plain = nf.data.fold_indices(10, 3, seed=0)
    assert sorted(map(len, plain)) == [3, 3, 4]


@pytest.mark.parametrize("args, message", [
    ((5, 1), "k must be"), ((3, 4), "k=4 folds need at least 4 rows"),
    ((6, 3, 0, [0, 0, 0, 0, 1, 1]), "class 1 has 2 rows, fewer than the 3 folds"),
    ((4, 2, 0, [0, 1, 0]), "one label per row"),
])
def test_fold_indices_refuse_what_cannot_be_cut(args, message):
    with pytest.raises(ValueError, match=message):
        nf.data.fold_indices(*args)


def test_folds_come_from_scikit_learn_or_nnfast_by_the_same_rules(monkeypatch):
    y = np.repeat(np.arange(4), 25)
    parts, name = search_module.make_folds(y, 5, 0, classification=True)
    assert name == "sklearn.model_selection.StratifiedKFold"
    assert all(np.bincount(y[p], minlength=4).tolist() == [5, 5, 5, 5] for p in parts)
    _, name = search_module.make_folds(y.astype(float), 5, 0, classification=False)
    assert name == "sklearn.model_selection.KFold"
    monkeypatch.setitem(sys.modules, "sklearn.model_selection", None)  # scikit-learn not importable
    parts, name = search_module.make_folds(y, 5, 0, classification=True)
    assert name == "nnfast.data.fold_indices"
    assert all(np.bincount(y[p], minlength=4).tolist() == [5, 5, 5, 5] for p in parts)


# --- a cross-validated search -------------------------------------------------------------------

def test_a_trial_scores_the_mean_of_its_folds_with_their_standard_error(small):
    study = cv_search(small, pruning=False)
    assert study.attrs["cv"] == 3 and study.attrs["folds"] == "sklearn.model_selection.StratifiedKFold"
    for t in study.trials:
        folds = [f["score"] for f in t.history["folds"]]
        assert len(folds) == 3 and t.state == "complete"
        assert t.score == pytest.approx(np.mean(folds))
        own = [f["score_se"] for f in t.history["folds"]]  # the folds' own errors set a floor
        assert t.score_se == pytest.approx(max(np.std(folds, ddof=1) / math.sqrt(3), math.sqrt(np.sum(np.square(own))) / 3))
        # the recorded curve (what pruning compares) is the fold average, as the history is
        curve = study.optuna.trials[t.number].user_attrs["nnfast"]["curve"]
        assert curve == pytest.approx(t.history["val_accuracy"])
        assert len(t.history["loss"]) == t.epochs


def test_folds_run_on_the_studys_executor(small):
    import concurrent.futures as cf

    class Counting(cf.ThreadPoolExecutor):
        submitted = 0

        def submit(self, *args, **kwargs):
            Counting.submitted += 1
            return super().submit(*args, **kwargs)

    with Counting(max_workers=2) as pool:
        study = cv_search(small, n_trials=3, executor=pool, n_jobs=2, pruning=False)
    assert Counting.submitted == 3 * 3  # one task per fold, side by side
    assert [t.state for t in study.trials] == ["complete"] * 3


def test_a_cross_validated_study_is_the_same_on_every_run_and_with_two_jobs(small):
    a = [(t.params, t.score, t.score_se) for t in cv_search(small, n_trials=3).trials]
    b = [(t.params, t.score, t.score_se) for t in cv_search(small, n_trials=3).trials]
    assert a == b
    c = cv_search(small, n_trials=6, n_jobs=2)
    d = cv_search(small, n_trials=6, n_jobs=2)
    assert [(t.params, t.state, t.score) for t in c.trials] == [(t.params, t.state, t.score) for t in d.trials]


def running_averages(curve, epochs):
    values = np.asarray(curve, dtype=float)
    values = np.concatenate([values, np.full(epochs - len(values), values[-1])])
    return np.cumsum(values) / np.arange(1, epochs + 1)


def test_pruning_compares_each_fold_with_the_same_fold_of_the_completed_trials(small):
    space = {"lr": tune.loguniform(1e-6, 3e-2)}  # the smaller rates learn little in eight epochs
    study = tune.search(BASE.replace(epochs=8), space, train=small, strategy="random", n_trials=12, seed=0,
                        progress=False, cv=2, warmup_epochs=2)
    pruned = [t for t in study.trials if t.state == "pruned"]
    assert pruned and all(len(t.history["folds"]) == 2 for t in pruned)
    complete = [t for t in study.trials if t.state == "complete"]
    for t in complete:  # each fold's curve is kept, and the trial's curve is their average
        fold_curves = [f["curve"] for f in t.history["folds"]]
        assert all(len(c) == 8 for c in fold_curves)
        assert t.history["val_accuracy"] == pytest.approx(np.mean(fold_curves, axis=0).tolist())
    # the thresholds of fold k: medians of the completed trials' running averages on fold k
    per_fold = []
    for fold in range(2):
        thresholds = search_module._thresholds(study.optuna, 1.0, 8, fold)
        expected = np.median([running_averages(t.history["folds"][fold]["curve"], 8) for t in complete], axis=0)
        assert thresholds == pytest.approx(expected.tolist())
        per_fold.append(thresholds)
    assert per_fold[0] != per_fold[1]


def test_each_fold_of_a_trial_gets_its_own_folds_thresholds(small, monkeypatch):
    sent = []
    real = search_module._thresholds

    def spy(study, sign, epochs, fold=None):
        sent.append(fold)
        return real(study, sign, epochs, fold)

    monkeypatch.setattr(search_module, "_thresholds", spy)
    cv_search(small, n_trials=7)
    assert sent == [0, 1, 2] * 7
    sent.clear()
    tune.search(BASE, SPACE, train=small, strategy="random", n_trials=2, seed=2, progress=False)
    assert sent == [None, None]  # one validation set: the completed trials' own curves


@pytest.mark.parametrize("kwargs, message", [
    ({"cv": 1}, "cv must be an integer number of folds >= 2"),
    ({"cv": 2.5}, "cv must be an integer"),
    ({"cv": True}, "cv must be an integer"),
    ({"cv": 3, "validation": "given"}, "give validation= or cv=, not both"),
    ({"cv": 200}, "fewer than the folds"),
])
def test_bad_cv_is_refused_before_the_first_trial(small, kwargs, message):
    if kwargs.get("validation") == "given":
        kwargs["validation"] = small
    with pytest.raises(ValueError, match=message):
        cv_search(small, **kwargs)


def test_resume_needs_the_same_cv_and_continues_the_sequence(small, tmp_path):
    db = str(tmp_path / "cv.db")
    cv_search(small, n_trials=2, storage=db)
    with pytest.raises(ValueError, match=r"its cv differs from this search's \(stored 3, given 2\)"):
        cv_search(small, n_trials=4, storage=db, resume=True, cv=2)
    with pytest.raises(ValueError, match=r"its cv differs from this search's \(stored 3, given null\)"):
        cv_search(small, n_trials=4, storage=db, resume=True, cv=None)
    resumed = cv_search(small, n_trials=4, storage=db, resume=True)
    whole = cv_search(small, n_trials=4)
    assert [(t.params, t.score, t.score_se) for t in resumed.trials] == \
        [(t.params, t.score, t.score_se) for t in whole.trials]
    stored = tune.load_study(db)
    assert stored.attrs["cv"] == 3 and all(len(t.history["folds"]) == 3 for t in stored.trials)


def test_refit_of_a_cross_validated_study_trains_on_all_the_training_data(small):
    study = cv_search(small, n_trials=2)
    study.refit(*small)
    assert study.attrs["refit"]["data"] == tune.study.data_fingerprint(*small)
    assert study.model.evaluate(*small)["accuracy"] > 0.5


def test_merge_folds_takes_the_worst_state_and_carries_a_short_fold_forward():
    def fold(score, curve, state="complete", reason="max_epochs"):
        return TrialResult(0, state, score=score, score_loss=0.1, epochs=len(curve), stop_reason=reason,
                           intermediate=curve, history={"val_accuracy": curve, "loss": [1.0] * len(curve)},
                           seconds=1.0)

    merged = merge_folds(7, [fold(0.8, [0.5, 0.8]), fold(0.6, [0.4, 0.5, 0.6], reason="early_stopped"),
                             fold(0.7, [0.6, 0.7, 0.7], reason="early_stopped")])
    assert merged.number == 7 and merged.state == "complete" and merged.stop_reason == "early_stopped"
    assert merged.intermediate == pytest.approx([0.5, 2.0 / 3, 0.7])  # the first fold counts with 0.8 at epoch 2
    assert merged.score == pytest.approx(0.7) and merged.score_se == pytest.approx(0.1 / math.sqrt(3))
    assert merged.seconds == 3.0 and merged.epochs == 3
    assert merge_folds(1, [fold(0.8, [0.8]), fold(0.5, [0.5], state="pruned")]).state == "pruned"
    failed = merge_folds(1, [fold(0.8, [0.8]), TrialResult(0, "failed", error="boom")])
    assert failed.state == "failed" and failed.error == "boom" and math.isnan(failed.score)


# --- the standard error of a score on one validation set ----------------------------------------

@pytest.fixture(scope="module")
def trained(small):
    X, y = small
    model, _ = nf.train(BASE.replace(epochs=3), X[:400], y[:400])
    return model, (X[400:], y[400:])


def test_accuracy_has_the_binomial_standard_error(trained):
    model, (X, y) = trained
    n = len(X)

    def agresti_coull(p):
        q = (p * n + 2) / (n + 4)
        return math.sqrt(q * (1 - q) / (n + 4))
    assert score_standard_error(model, "val_accuracy", 0.9, (X, y)) == pytest.approx(agresti_coull(0.9))
    assert score_standard_error(model, "val_accuracy", 0.9, (X, y)) == pytest.approx(math.sqrt(0.09 / n), rel=0.05)
    # a perfect score on few rows is not certain: it was 0, and hid every contender
    perfect = score_standard_error(model, "val_accuracy", 1.0, (X, y))
    assert perfect == pytest.approx(agresti_coull(1.0)) and perfect > 0


def test_a_perfect_score_leaves_room_for_contenders():
    # 54 rows all right and 53 of 54 right cannot be told apart (the review's two-class digits)
    from nnfast.tune.trial import TrialResult, merge_folds
    q = 56 / 58
    assert 1.0 - 53 / 54 <= math.sqrt(q * (1 - q) / 58)
    folds = [TrialResult(number=0, state="complete", objective="val_accuracy", score=1.0, score_se=0.02)
             for _ in range(3)]  # folds with no spread: their own errors remain
    assert merge_folds(0, folds).score_se == pytest.approx(math.sqrt(3 * 0.02 ** 2) / 3)


def test_cross_validated_trials_keep_what_the_diagnosis_reads():
    from nnfast.tune.trial import TrialResult, merge_folds
    folds = [TrialResult(number=0, state="complete", objective="val_accuracy", score=0.9, score_se=0.01,
                         stop_reason="max_epochs", epochs=3,
                         history={"loss": [1.0, 0.8, 0.6], "val_loss": [1.1, 0.9, 0.7], "initial_loss": 2.0 + i,
                                  "stop_reason": "max_epochs"}) for i in range(3)]
    merged = merge_folds(0, folds)
    assert merged.history["stop_reason"] == "max_epochs" and merged.history["initial_loss"] == 3.0
    kinds = [f.kind for f in nf.diagnosis.diagnose(merged.history)]
    assert "epoch_cap" in kinds


def test_a_loss_has_the_standard_error_of_its_per_sample_losses(trained):
    model, (X, y) = trained
    # each row's cost as nnfast computes it, one row at a time (the penalty is the same for every row)
    penalty = model.evaluate(X[:1], y[:1])["loss"] - nf.losses.cross_entropy(
        nf.data.one_hot(y[:1], classes=np.arange(10))[0], model.predict_proba(X[:1]))
    rows = [model.evaluate(X[i:i + 1], y[i:i + 1])["loss"] - penalty for i in range(len(X))]
    expected = np.std(rows, ddof=1) / math.sqrt(len(X))
    assert score_standard_error(model, "val_loss", float(np.mean(rows)), (X, y)) == pytest.approx(expected, rel=1e-3)


def test_r2_has_a_delta_method_standard_error_close_to_the_bootstrap():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(scale=1.5, size=600)
    model, _ = nf.train(nf.Hyperparameters(hidden=(8,), epochs=20, dtype="float64"), X[:300], y[:300])
    X_val, y_val = X[300:], y[300:]
    r2 = model.evaluate(X_val, y_val)["r2"]
    se = score_standard_error(model, "val_r2", r2, (X_val, y_val))
    pred = model.predict(X_val)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, len(y_val), len(y_val))
        boot.append(1 - np.sum((pred[i] - y_val[i]) ** 2) / np.sum((y_val[i] - y_val[i].mean()) ** 2))
    assert 0 < se and se == pytest.approx(np.std(boot), rel=0.15)


def test_every_trial_of_a_single_split_study_records_its_standard_error(small):
    study = tune.search(BASE, SPACE, train=small, strategy="random", n_trials=3, seed=1, progress=False,
                        pruning=False)
    n_val = len(small[0]) - int(round(0.8 * len(small[0])))
    for t in study.trials:
        q = (t.score * n_val + 2) / (n_val + 4)  # Agresti and Coull's binomial standard error
        assert t.score_se == pytest.approx(math.sqrt(q * (1 - q) / (n_val + 4)))
    assert "score_se" in study.table().columns
    loss_study = tune.search(BASE, SPACE, train=small, strategy="random", n_trials=2, seed=1, progress=False,
                             objective="val_loss")
    assert all(t.score_se > 0 for t in loss_study.trials)


# --- contenders and rescore -----------------------------------------------------------------------

def test_contenders_are_the_trials_within_one_standard_error_of_the_best(small):
    study = tune.search(BASE, SPACE, train=small, strategy="random", n_trials=8, seed=4, progress=False,
                        pruning=False)
    best, contenders = study.best(), study.contenders()
    assert contenders[0] == best
    inside = {t.number for t in study.trials if t.state == "complete" and best.score - t.score <= best.score_se}
    assert {t.number for t in contenders} == inside


@pytest.fixture(scope="module")
def readme_study():
    """The README's `nnfast tune --storage digits.db --jobs 2`: 20 bayes trials of the built-in
    space on the digits less a fifth held out, each validated on 288 rows."""
    from nnfast.cli.settings import BASE_HYPERPARAMETERS, DEFAULT_SPACE, space_from_data

    hp = nf.Hyperparameters(**BASE_HYPERPARAMETERS)
    X, y = nf.data.load_digits()
    X_rest, _, y_rest, _ = nf.data.train_test_split(X, y, test_size=0.2, seed=hp.seed)
    space = space_from_data(DEFAULT_SPACE, "the built-in space")
    study = tune.search(hp, space, train=(X_rest, y_rest), validation_size=0.2, strategy="bayes", n_trials=20,
                        n_jobs=2, seed=hp.seed, progress=False)
    return study, (X_rest, y_rest)


def test_the_readme_study_cannot_tell_its_best_configurations_apart_and_says_so(readme_study):
    from nnfast.tune.report import _summary_html, summary_table

    study, _ = readme_study
    n = len(study.contenders())
    assert n > 1
    assert study.contenders()[0] == study.best()
    said = f"cannot tell these {n} configurations apart"
    assert said in study.summary() and "study.rescore(" in study.summary()
    assert said in summary_table(study)  # what `nnfast tune` prints
    assert said in _summary_html(study, study.trials, study.best())


def test_rescore_scores_the_top_on_fresh_folds_and_records_it(small, tmp_path):
    db = str(tmp_path / "r.db")
    study = tune.search(BASE, SPACE, train=small, strategy="random", n_trials=5, seed=1, progress=False,
                        pruning=False, storage=db)
    best = study.best()
    result = study.rescore(*small, k=3, cv=3, n_jobs=2)
    assert len(result) == 3 and {r.trial.number for r in result} == {t.number for t in
                                                                      sorted(study._scored(), key=study._rank)[:3]}
    assert [r.score for r in result] == sorted((r.score for r in result), reverse=True)
    for r in result:
        assert len(r.folds) == 3 and r.score == pytest.approx(np.mean(r.folds))
        assert r.score_se >= np.std(r.folds, ddof=1) / math.sqrt(3) * (1 - 1e-12)  # the folds' errors: a floor
    assert study.best() == best  # best() keeps its answer
    stored = tune.load_study(db)  # persisted in the storage
    [entry] = stored.rescores()
    assert entry["cv"] == 3 and entry["seed"] == 2 and [t["trial"] for t in entry["trials"]] == \
        [r.trial.number for r in result]
    assert "rescored" in stored.summary() and f"trial {result[0].trial.number}" in stored.summary()
    again = stored.rescore(*small, k=2, cv=3)
    assert stored.rescores()[-1]["seed"] == 3  # fresh folds again
    assert len(again) == 2 and len(tune.load_study(db).rescores()) == 2
    with pytest.raises(ValueError, match="k must be a positive integer"):
        stored.rescore(*small, k=0)
    with pytest.raises(ValueError, match="cv must be an integer number of folds >= 2"):
        stored.rescore(*small, cv=1)
    # the test set, once looked at, is recognised and refused: rescoring on it would tune on it;
    # so is data that holds its rows (here `small` with the test rows mixed in)
    X, y = small
    X_test, y_test = [part[600:640] for part in nf.data.load_digits()]
    stored.refit(X, y)
    stored.test(X_test, y_test)
    with pytest.raises(ValueError, match="test set"):
        stored.rescore(X_test, y_test, k=2, cv=2)
    with pytest.raises(ValueError, match=r"rows of the study's test set \(40 of the 40"):
        stored.rescore(np.vstack([X, X_test]), np.concatenate([y, y_test]), k=2, cv=2)


# --- the command line ----------------------------------------------------------------------------

def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


QUICK = ["--space", None, "--strategy", "random", "--set", "epochs=3", "--set", "hidden=[16]", "--seed", "1"]


def test_cli_cross_validates_and_a_resume_with_another_cv_names_both(tmp_path, capsys):
    (tmp_path / "space.json").write_text(json.dumps({"lr": {"loguniform": [1e-3, 3e-2]}}))
    quick = [tmp_path / "space.json" if v is None else v for v in QUICK]
    db = tmp_path / "cv.db"
    status, out, err = run(capsys, "tune", *quick, "--trials", 2, "--cv", 3, "--storage", db,
                           "--report", tmp_path / "r.html")
    assert status == 0, err
    assert "3-fold cross-validation" in err
    study = tune.load_study(str(db))
    best = study.best()  # its time as the summary gives it: significant digits, never "0.0 s" for 0.03 s
    assert f"(trial {best.number}, {best.epochs} epochs, {tune.study.seconds_text(best.seconds)} s)" in out
    assert study.attrs["cv"] == 3 and all(len(t.history["folds"]) == 3 for t in study.trials)
    assert study.attrs["refit"]["data"] == tune.study.data_fingerprint(
        *nf.data.train_test_split(*nf.data.load_digits(), test_size=0.2, seed=1)[0::2])  # all the non-test rows
    assert "3-fold cross-validation" in (tmp_path / "r.html").read_text()
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--cv", 2)
    assert status == 1 and "--cv 2 contradicts study 'nnfast', which runs with --cv 3" in err
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--val-size", 0.2)
    assert_one_line = err.strip().splitlines()
    assert status == 1 and len(assert_one_line) == 1, err
    assert "--val-size 0.2 contradicts study 'nnfast', which runs with --cv 3; leave it out" in err
    assert "exclude each other" not in err  # the user gave no --cv
    status, out, err = run(capsys, "tune", "--storage", db, "--resume", "--trials", 3, "--report", tmp_path / "r.html")
    assert status == 0, err
    assert len(tune.load_study(str(db)).trials) == 3


def test_cli_refuses_cv_with_val_size_and_too_few_folds(tmp_path, capsys):
    status, _, err = run(capsys, "tune", "--cv", 3, "--val-size", 0.3, "--trials", 1)
    assert status == 1 and "--cv 3 and --val-size 0.3 exclude each other" in err
    status, _, err = run(capsys, "tune", "--cv", 1, "--trials", 1)
    assert status == 1 and "--cv must be at least 2 folds, got 1" in err
    (tmp_path / "space.json").write_text(json.dumps({"lr": {"loguniform": [1e-3, 3e-2]}}))
    db = tmp_path / "plain.db"
    quick = [tmp_path / "space.json" if v is None else v for v in QUICK]
    status, _, err = run(capsys, "tune", *quick, "--trials", 1, "--no-test", "--storage", db,
                         "--report", tmp_path / "r.html")
    assert status == 0, err
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--cv", 3)
    assert status == 1 and "--cv 3 contradicts study 'nnfast', which runs with no --cv" in err
    status, _, err = run(capsys, "tune", "--storage", db, "--resume", "--test-size", 0.3)
    assert status == 1 and "--test-size 0.3 contradicts study 'nnfast', which runs with --no-test;" in err


def test_a_merge_that_fails_is_the_trials_failure_not_a_hang(small, monkeypatch):
    def broken(number, results):
        raise RuntimeError("merge broke")

    monkeypatch.setattr(search_module, "merge_folds", broken)
    study = cv_search(small, n_trials=2, pruning=False)
    assert [t.state for t in study.trials] == ["failed", "failed"]
    assert all("RuntimeError: merge broke" in t.error for t in study.trials)
