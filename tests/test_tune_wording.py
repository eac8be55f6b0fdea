"""What the tuning harness prints: the advice it gives must do what it says."""

import re

import pytest

tune = pytest.importorskip("nnfast.tune")
optuna = pytest.importorskip("optuna")

from nnfast.tune.report import interpretation, render_report, summary_table  # noqa: E402
from conftest import crafted_study  # noqa: E402
from nnfast.tune.study import RESULT_ATTR, Study, seconds_text  # noqa: E402




def _advised_bound(text):
    found = re.findall(r"study\.best\(max_seconds=([^)]+)\) picks it", text)
    assert len(found) == 1, text
    return float(found[0])


@pytest.mark.parametrize("trials", [
    [(0.990, 0.02, 0.50), (0.985, 0.02, 0.085), (0.980, 0.02, 0.081)],  # ceil to 0.01 s reached trial 1 too
    [(0.990, 0.02, 5.0), (0.985, 0.02, 1.0000004), (0.980, 0.02, 1.0000001)],  # needs 7 significant digits
    [(0.990, 0.02, 9.0), (0.985, 0.02, 2.0), (0.980, 0.02, 2.0)],  # a tie in time: the better-ranked one
    [(0.990, 0.02, 300.0), (0.985, 0.02, 120.5), (0.90, 0.02, 0.5), (0.98, 0.02, 120.2)],
])
def test_the_advised_time_bound_picks_exactly_the_named_fastest_trial(trials):
    study = crafted_study(trials)
    fastest = study.fastest_contender()
    for text in (study.summary(), summary_table(study), render_report(study)):
        assert f"fastest within one standard error of the best: trial {fastest.number}," in text
        assert study.best(max_seconds=_advised_bound(text)).number == fastest.number


def test_the_reproducer_of_the_review_names_the_trial_best_picks():
    o = optuna.create_study(direction="maximize")
    o.set_user_attr("sign", 1.0)
    o.set_user_attr("objective", "val_accuracy")
    for sc, sec in [(0.990, 0.50), (0.985, 0.085), (0.980, 0.081)]:
        t = o.ask()
        t.set_user_attr(RESULT_ATTR, {"score": sc, "seconds": sec, "score_se": 0.02, "epochs": 10})
        o.tell(t, sc)
    s = Study(o)
    last = s.summary().splitlines()[-1]
    assert "trial 2, 0.9800 in 0.081 s" in last and "study.best(max_seconds=0.081)" in last
    assert s.best(max_seconds=_advised_bound(last)).number == s.fastest_contender().number == 2


CLI = {"data": "digits", "target": "last", "header": "auto", "test_size": 0.2, "val_size": None, "cv": 3,
       "no_test": False, "seed": 1, "fingerprint": "x"}


def test_the_rescore_advice_gives_the_command_for_a_study_nnfast_tune_started(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trials = [(0.95, 0.01, 9.0), (0.945, 0.01, 2.0), (0.90, 0.01, 0.5)]
    started = crafted_study(trials, name="nnfast", metadata={"cli": CLI}, storage=str(tmp_path / "c3.db"))
    command = "nnfast rescore c3.db --top 2"
    python = "study.rescore(X, y, k=2, cv=5)"
    for text in (started.summary(), summary_table(started), " ".join(interpretation(started)),
                 render_report(started)):
        assert command in text and python in text
    named = crafted_study(  # in memory: the name Optuna made up is not "nnfast", so the command names it
        trials, metadata={"cli": CLI}, storage=str(tmp_path / "sub" / "c3.db"))
    assert f"nnfast rescore sub/c3.db --study-name {named.name} --top 2" in named.summary()
    elsewhere = crafted_study(trials, name="nnfast", metadata={"cli": CLI}, storage="/elsewhere/c3.db")
    assert "nnfast rescore /elsewhere/c3.db" in elsewhere.summary()
    unstored = crafted_study(trials, metadata={"cli": CLI})
    assert "nnfast rescore STUDY.db --top 2 (run nnfast tune with --storage STUDY.db" in unstored.summary()

    python_made = crafted_study(trials)  # made in Python: no command to give
    for text in (python_made.summary(), " ".join(interpretation(python_made)), render_report(python_made)):
        assert python in text and "nnfast rescore" not in text


def test_seconds_read_with_significant_digits():
    assert [seconds_text(s) for s in (0.03, 0.0812, 0.5, 1.0, 12.345, float("nan"))] == \
        ["0.03", "0.0812", "0.5", "1.00", "12.35", "?"]
    study = crafted_study([(0.95, 0.01, 0.03)])
    assert re.search(r"0\.9500 +0\.03 +10 ", study.summary()), study.summary()
    assert "0.03 s" in summary_table(study)


def test_counts_of_trials_agree_in_number():
    one = crafted_study([(0.95, 0.01, 1.0)])
    assert ": 1 trial (1 complete)" in one.summary()
    assert "budget 1 trial," in summary_table(one) or summary_table(one).split("\n")[1].endswith("budget 1 trial")
    page = render_report(one)
    assert "1 trials" not in page and "All 1 trial," in page
    two = crafted_study([(0.95, 0.01, 1.0), (0.9, 0.01, 1.0)])
    assert ": 2 trials (2 complete)" in two.summary() and "All 2 trials," in render_report(two)


def test_the_report_table_gives_every_standard_error_in_one_format():
    study = crafted_study([(0.95, 0.0145, 1.0), (0.94, 0.01474, 1.0), (0.93, 0.1, 1.0)])
    page = render_report(study)
    for shown in ("0.0145", "0.0147", "0.1000"):
        assert f'<td class="num">{shown}</td>' in page
    assert "0.01474" not in page


def test_the_report_says_where_the_data_of_a_study_nnfast_tune_started_came_from():
    trials = [(0.95, 0.01, 1.0)]
    page = render_report(crafted_study(trials, metadata={"cli": CLI}))
    assert "digits, test part 0.2, 3-fold cross-validation of the rest" in page
    split = {**CLI, "cv": None, "val_size": 0.25, "no_test": True}
    assert "digits, no test part, validation 0.25 of the rest" in render_report(crafted_study(trials, metadata={"cli": split}))
