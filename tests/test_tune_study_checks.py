"""A stored study and the data, places and readers it meets after the search (issue 12 review):
rescore and refit check the data against the study's own, a copied study file shows where it
was loaded from, every Study plot says what it shows, and `nnfast rescore`."""

import shutil
import sqlite3

import numpy as np
import pytest

import nnfast as nf

tune = pytest.importorskip("nnfast.tune")
pd = pytest.importorskip("pandas")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from nnfast import cli  # noqa: E402

search_module = __import__("importlib").import_module("nnfast.tune.search")

BASE = nf.Hyperparameters(hidden=(8,), epochs=2, standardize=True, batch_size=64)
SPACE = {"lr": tune.choice([3e-3, 1e-2, 3e-2])}


@pytest.fixture(scope="module")
def frame():
    X, y = nf.data.load_digits()
    return pd.DataFrame(X[:300], columns=[f"p{j}" for j in range(X.shape[1])]), y[:300]


@pytest.fixture(scope="module")
def stored(frame, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("checks") / "s.db")
    tune.search(BASE, SPACE, train=frame, strategy="grid", seed=0, progress=False, pruning=False, storage=db)
    return db


# --- rescore and refit: the study's own data, or a clear error before any training --------------

def other_data(frame):
    X, y = frame
    renamed = X.rename(columns={"p5": "q5"})
    return {
        "fewer columns": ((X.iloc[:, :60], y), r"60 feature columns, where study 'nnfast' searched on 64"),
        "an array with fewer columns": ((X.to_numpy()[:, :10], y), "10 feature columns"),
        "other column names": ((renamed, y), r"other column names \(column 5: 'q5', where the study's data has 'p5'\)"),
        "another task": ((X, y + 0.5), "targets of a regression task, where study 'nnfast' searched a "
                                       "classification task"),
        "other classes": ((X, y + 100), r"classes 100, 101, .* that the study never saw"),
        "fewer classes": ((X[y < 3], y[y < 3]), r"classes without 3, 4, 5, 6, 7, 8, 9 \(study 'nnfast' searched on "
                                                r"classes 0, 1, "),
    }


@pytest.mark.parametrize("case", ["fewer columns", "an array with fewer columns", "other column names",
                                  "another task", "other classes", "fewer classes"])
def test_rescore_and_refit_refuse_data_unlike_the_studys_before_training(stored, frame, case, monkeypatch):
    (X, y), said = other_data(frame)[case]
    study = tune.load_study(stored)
    rescored, refit = len(study.rescores()), study.attrs.get("refit")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the data")

    monkeypatch.setattr(search_module, "score_configurations", no_training)
    monkeypatch.setattr(tune.study, "train", no_training)
    with pytest.raises(ValueError, match="rescore was given other data than study 'nnfast' searched on: " + said):
        study.rescore(X, y, k=2, cv=2)
    with pytest.raises(ValueError, match="refit was given other data than study 'nnfast' searched on: " + said):
        study.refit(X, y)
    assert len(study.rescores()) == rescored and study.attrs.get("refit") == refit
    monkeypatch.undo()
    if case == "fewer classes":  # a test set may lack classes (test() takes it; not looked at here: the
        return                   # study is shared, and its test rows would be the frame's)
    study.refit(*frame)
    with pytest.raises(ValueError, match="test was given other data than study 'nnfast' searched on: " + said):
        study.test(X, y)
    assert "test_looks" not in tune.load_study(stored).attrs


def test_rescore_recognises_test_rows_shuffled_cut_or_mixed_in(frame, tmp_path):
    X, y = frame
    X_search, y_search, X_test, y_test = X.iloc[:200], y[:200], X.iloc[200:], y[200:]
    study = tune.search(BASE, SPACE, train=(X_search, y_search), strategy="grid", progress=False, cv=2,
                        storage=str(tmp_path / "s.db"))
    study.refit(X_search, y_search)
    study.test(X_test, y_test)
    flipped = X_test.iloc[::-1]
    for X_given, y_given in ((flipped, y_test[::-1]), (X_test.iloc[1:], y_test[1:]),
                             (pd.concat([X_search, X_test.iloc[:5]]), np.concatenate([y_search, y_test[:5]]))):
        with pytest.raises(ValueError, match=r"rescore was given rows of the study's test set \(\d+ of the 100 test "
                                             r"rows test\(\) recorded are among them\)"):
            study.rescore(X_given, y_given, k=1, cv=2)
    assert len(study.rescore(X_search, y_search, k=1, cv=2)) == 1


def test_rerun_refuses_the_test_set_and_a_large_test_set_is_recorded_whole(tmp_path):
    # rerun(validation=test set) scored configurations on the test set unrecorded; test()
    # kept 256 row digests, so most rows of a larger test set passed rescore
    X, y = nf.data.load_digits()
    X_search, y_search, X_test, y_test = X[:800], y[:800], X[800:], y[800:]
    study = tune.search(BASE, SPACE, train=(X_search, y_search), strategy="grid", progress=False,
                        storage=str(tmp_path / "s.db"))
    study.refit(X_search, y_search)
    study.test(X_test, y_test)
    unrecorded = X_test[300:], y_test[300:]  # beyond the 256 rows kept before
    with pytest.raises(ValueError, match=r"rescore was given rows of the study's test set \(697 of the 997 "):
        study.rescore(*unrecorded, k=1, cv=2)
    for kwargs in (dict(validation=(X_test, y_test)), dict(validation=unrecorded)):
        with pytest.raises(ValueError, match="rerun was given (the study's test set|rows of the study's test set)"):
            study.rerun(X_search, y_search, k=1, **kwargs)
    with pytest.raises(ValueError, match="rerun was given rows of the study's test set"):
        study.rerun(np.vstack([X_search, X_test[:3]]), np.concatenate([y_search, y_test[:3]]), k=1)
    with pytest.raises(ValueError, match="rescore was given rows of the study's test set"):  # as float32 too
        study.rescore(np.vstack([X_search, X_test[:3]]).astype(np.float32), np.concatenate([y_search, y_test[:3]]),
                      k=1, cv=2)
    # two re-runs within one second get two names (the second crashed: "already exists")
    first, second = (study.rerun(X_search[:400], y_search[:400], k=1, validation_size=0.25) for _ in range(2))
    assert first.name != second.name and second.name.startswith(first.name)
    assert tune.load_study(str(tmp_path / "s.db")).name == study.name  # the re-runs beside it do not count


def test_duplicate_rows_shared_with_the_test_set_are_the_studys_own(tmp_path):
    # with few distinct rows every test row equals a training row: rescore and rerun refused
    # the study's own data as "rows of the study's test set" after test() had looked
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(600, 3)).astype(float)
    y = (X.sum(axis=1) > 3).astype(int)
    X_search, y_search, X_test, y_test = X[:450], y[:450], X[450:], y[450:]
    study = tune.search(BASE, SPACE, train=(X_search, y_search), strategy="grid", progress=False,
                        storage=str(tmp_path / "s.db"))
    study.refit(X_search, y_search)
    study.test(X_test, y_test)
    assert len(study.rescore(X_search, y_search, k=1, cv=2)) == 1
    study.rerun(X_search[:300], y_search[:300], k=1, validation=(X_search[300:], y_search[300:]))
    study.refit(X_search, y_search)
    with pytest.raises(ValueError, match="refit was given the study's test set"):
        study.refit(X_test, y_test)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "3", True])
def test_a_bad_seed_is_refused_by_name_before_any_work(stored, frame, seed):
    with pytest.raises((TypeError, ValueError), match="^seed must be"):
        tune.search(BASE, SPACE, train=frame, seed=seed, progress=False)
    with pytest.raises((TypeError, ValueError), match="^seed must be"):
        tune.search(BASE, SPACE, train=frame, seed=seed, cv=2, progress=False)
    with pytest.raises((TypeError, ValueError), match="^seed must be"):
        tune.load_study(stored).rescore(*frame, k=1, cv=2, seed=seed)


def test_rescore_takes_the_studys_data_as_a_frame_or_as_its_values(stored, frame):
    study = tune.load_study(stored)
    X, y = frame
    assert len(study.rescore(X, y, k=1, cv=2)) == 1
    assert len(study.rescore(X.to_numpy(), y, k=1, cv=2)) == 1  # the same columns, by position
    assert len(study.rescores()) == 2


# --- a copied or moved study file --------------------------------------------------------------

def copy_study(source, destination):
    """A whole copy of a study file (its write-ahead log included), as a backup tool makes it."""
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def test_a_copied_study_file_shows_where_it_was_loaded_from(frame, tmp_path, capsys):
    from nnfast.tune.report import render_report, summary_table

    first = str(tmp_path / "first.db")
    made = tune.search(BASE, SPACE, train=frame, strategy="grid", seed=0, progress=False, storage=first)
    assert made.storage == first and made.storage_text() == first
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    copy = str(moved / "copy.db")
    copy_study(first, copy)
    shutil.move(first, str(tmp_path / "gone.db"))
    study = tune.load_study(copy)
    assert study.attrs["storage"] == first  # as recorded when it was created
    assert study.storage == copy
    shown = f"{copy} (created as {first})"
    assert study.storage_text() == shown
    assert f"storage {shown}" in summary_table(study)
    page = render_report(study)
    assert f"The study lives in {shown}" in page and first not in page.replace(shown, "")
    assert cli.main(["report", copy, "--out", str(tmp_path / "r.html")]) == 0
    assert f"storage {shown}" in capsys.readouterr().out
    # rerun puts its new study beside the old one, where the study is now
    again = study.rerun(*frame, k=1, name="again")
    assert again.attrs["described"] == study.attrs["described"]  # its rescore checks data as the study's does
    assert again.storage == copy and "again" in tune.open_storage(copy).get_all_studies()[1].study_name
    assert not (tmp_path / "first.db").exists()


# --- the Study plots say what they show -----------------------------------------------------------

def title(ax):
    return " ".join(t for t in (ax.get_title(loc="left"), ax.get_title(), ax.get_title(loc="right")) if t)


@pytest.mark.parametrize("method, shows, xunit, yunit", [
    ("plot_history", "Optimisation history", "trial number", "validation accuracy"),
    ("plot_curves", "Learning curves", "epoch", "cost"),
    ("plot_pareto", "Score against training time", "seconds", "validation accuracy"),
    ("plot_importances", "Hyperparameter importance", "importance", "hyperparameter"),
])
def test_every_study_plot_has_a_title_naming_the_study_and_labelled_axes(stored, method, shows, xunit, yunit):
    import matplotlib.pyplot as plt

    study = tune.load_study(stored)
    fig = getattr(study, method)()
    try:
        [ax] = fig.axes
        assert shows in title(ax) and f"study {study.name!r}" in title(ax)
        assert xunit in ax.get_xlabel() and yunit in ax.get_ylabel()
    finally:
        plt.close(fig)


# --- nnfast rescore -----------------------------------------------------------------------------

def test_cli_rescore_rereads_the_studys_data_and_records_the_result(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    space = tmp_path / "space.json"
    space.write_text('{"lr": [0.003, 0.01, 0.03]}')
    assert cli.main(["tune", "--space", str(space), "--strategy", "grid", "--set", "epochs=2", "--set", "hidden=[8]",
                     "--seed", "0", "--storage", db, "--report", str(tmp_path / "r.html")]) == 0
    capsys.readouterr()
    assert cli.main(["rescore", db, "--top", "2", "--cv", "2", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "its test part held out as nnfast tune cut it: 2 fresh folds" in out
    [entry] = tune.load_study(db).rescores()
    assert entry["cv"] == 2 and len(entry["trials"]) == 2
    for row in entry["trials"]:
        assert f"{row['trial']:>5}" in out
    # the rows it rescored are the study's non-test rows: the test part is never among them
    X, y = nf.data.load_digits()
    X_rest, _, y_rest, _ = nf.data.train_test_split(X, y, test_size=0.2, seed=0)
    assert entry["data"] == tune.study.data_fingerprint(X_rest, y_rest)


def test_cli_rescore_errors_are_one_line(frame, stored, tmp_path, capsys):
    status = cli.main(["rescore", stored])  # a study made in Python recorded no data file
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("nnfast rescore: error: study 'nnfast' was not started by nnfast tune")
    status = cli.main(["rescore", stored, "--cv", "1"])
    assert status == 1 and "--cv must be at least 2 folds, got 1" in capsys.readouterr().err
    status = cli.main(["rescore", stored, "--top", "0"])
    assert status == 1 and "--top must be at least 1, got 0" in capsys.readouterr().err
    status = cli.main(["rescore", str(tmp_path / "none.db")])
    assert status == 1 and "no study file" in capsys.readouterr().err
    # data of another shape is refused by name
    np.save(tmp_path / "other.npy", np.hstack([np.random.default_rng(0).random((50, 5)),
                                               np.repeat(np.arange(5), 10)[:, None]]))
    status = cli.main(["rescore", stored, "--data", str(tmp_path / "other.npy")])
    out, err = capsys.readouterr()
    assert status == 1 and "5 feature columns, where study 'nnfast' searched on 64" in err
    assert "rescoring" not in out  # refused before it says it starts


def test_cli_rescore_of_a_tune_study_takes_only_the_data_it_cut_its_test_part_from(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    space = tmp_path / "space.json"
    space.write_text('{"lr": [0.003, 0.01]}')
    assert cli.main(["tune", "--space", str(space), "--strategy", "grid", "--set", "epochs=2", "--set", "hidden=[8]",
                     "--storage", db, "--report", str(tmp_path / "r.html")]) == 0
    X, y = nf.data.load_digits()
    np.savez(tmp_path / "same.npz", X=X, y=y)
    np.savez(tmp_path / "more.npz", X=np.vstack([X, X[:10]]), y=np.concatenate([y, y[:10]]))
    capsys.readouterr()
    # all of the digits (its test rows among them) in another file: refused, naming why
    status = cli.main(["rescore", db, "--data", str(tmp_path / "more.npz"), "--top", "1", "--cv", "2"])
    out, err = capsys.readouterr()
    assert status == 1 and "which may hold those test rows: leave --data out" in err and "rescoring" not in out
    # the very data, moved elsewhere: its test part is held out again
    assert cli.main(["rescore", db, "--data", str(tmp_path / "same.npz"), "--top", "1", "--cv", "2"]) == 0
    assert "its test part held out as nnfast tune cut it" in capsys.readouterr().out


def test_cli_rescore_has_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["rescore", "--help"])
    out = capsys.readouterr().out
    for option in ("--top", "--cv", "--seed", "--jobs", "--data", "--study-name"):
        assert option in out


def test_a_test_set_may_lack_classes_but_data_to_train_on_may_not():
    recorded = {"features": 4, "columns": None, "task": "classification", "classes": ["a", "b", "c"]}
    fewer = {**recorded, "classes": ["a", "b"]}
    search_module.check_same_data(recorded, fewer, "test", "s")
    for what in ("rescore", "refit"):
        with pytest.raises(ValueError, match=rf"^{what} was given other data .*: classes without c \(study 's'"):
            search_module.check_same_data(recorded, fewer, what, "s")
    with pytest.raises(ValueError, match="classes d that the study never saw"):
        search_module.check_same_data(recorded, {**recorded, "classes": ["a", "d"]}, "test", "s")


def test_load_study_creates_nothing_and_names_what_it_cannot_find(stored, tmp_path):
    missing = tmp_path / "typo.db"
    with pytest.raises(FileNotFoundError, match=f"no study file {missing}"):
        tune.load_study(str(missing))
    assert not missing.exists()  # a mistyped path leaves no empty study file behind
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.db is empty, not a study"):
        tune.load_study(str(empty))
    assert empty.stat().st_size == 0  # left as it was, not made a database
    with pytest.raises(ValueError, match=r"holds no study named 'other'; it holds \['nnfast'\]"):
        tune.load_study(stored, "other")
    assert tune.load_study(stored, "nnfast").name == "nnfast"


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_rerun_refuses_a_k_that_is_no_count(stored, frame, k):
    with pytest.raises(ValueError, match=f"k must be a positive integer, got {k!r}"):
        tune.load_study(stored).rerun(*frame, k=k)
