"""The tuning plots and the HTML report: every figure drawn, the page self-contained."""

import html
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import nnfast as nf

tune = pytest.importorskip("nnfast.tune")
pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from nnfast.tune import plots  # noqa: E402
from nnfast.tune.report import render_report, summary_table, write_report  # noqa: E402

IMG = '<img src="data:image/png;base64,'
BASE = nf.Hyperparameters(hidden=(8,), epochs=6, batch_size=64, standardize=True, optimizer="sgd")
# in grid order: five complete, one pruned (too small), one diverged (too large), and one that fails
# when it trains (valid widths whose buffers pass 2^63 bytes: the space check cannot know that)
LRS = [0.05, 0.1, 0.2, 0.3, 0.4, 1e-5, 100.0, 0.01]
SPACE = {"lr": LRS, "hidden": tune.choice([(2**31 - 1, 2**31 - 1)]).when(lr=0.01)}


@pytest.fixture(scope="module")
def data():
    X, y = nf.data.load_digits()
    return X[:600], y[:600], X[600:900], y[600:900]


@pytest.fixture(scope="module")
def study(data):
    """A study with a trial in every state: complete, pruned, diverged and failed."""
    X, y = data[:2]
    return tune.search(BASE, SPACE, train=(X, y), strategy="grid", warmup_epochs=2, progress=False,
                       study_name="states")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def states(study):
    return {t.state for t in study.trials}


def legend_texts(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def test_the_fixture_has_every_state(study):
    assert states(study) == {"complete", "pruned", "diverged", "failed"}


# --- study plots ----------------------------------------------------------------------------------

def test_history_marks_each_state_and_the_best_so_far(study):
    fig = plots.plot_history(study)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    scored = {t.state for t in study.trials if math.isfinite(t.score)}
    unscored = {t.state for t in study.trials if not math.isfinite(t.score)}
    # a marker line per state with scores, one per state without (along the bottom), the best-so-far line
    assert len(ax.lines) == len(scored) + len(unscored) + 1
    labels = legend_texts(ax)
    for state in states(study):
        assert any(label.startswith(state) for label in labels), (state, labels)
    best = ax.lines[-1]
    assert max(best.get_ydata()) == pytest.approx(study.best().score)
    assert plots.TITLES["history"] in ax.get_title(loc="left")
    assert ax.get_xlabel() == "trial number" and "validation accuracy" in ax.get_ylabel()


def test_curves_show_training_and_validation_of_the_top_trials(study):
    fig = plots.plot_curves(study, top=3)
    ax = fig.axes[0]
    assert len(ax.lines) == 6  # per trial: validation solid, training dashed
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(solid) == len(dashed) == 3
    assert [line.get_color() for line in solid] == [line.get_color() for line in dashed]
    top = sorted((t for t in study.trials if t.state == "complete"), key=lambda t: -t.score)[:3]
    labels = legend_texts(ax)
    for t in top:
        assert f"trial {t.number}: {t.score:.4g}" in labels
    assert "validation (solid)" in labels and "training (dashed)" in labels
    assert ax.get_xlabel() == "epoch"
    assert len(plots.plot_curves(study, top=50).axes[0].lines) == 2 * 5  # only the five completed


def test_pareto_has_the_front_as_a_step_line_on_a_log_time_axis(study):
    fig = plots.plot_pareto(study)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "seconds" in ax.get_xlabel()
    front = study.pareto()
    step = [line for line in ax.lines if line.get_drawstyle() == "steps-post"]
    assert len(step) == 1
    assert list(step[0].get_xdata()[:len(front)]) == [t.seconds for t in front]
    scored_states = {t.state for t in study.trials if math.isfinite(t.score) and t.seconds > 0}
    assert len(ax.lines) == len(scored_states) + 1
    assert len(ax.texts) == len(front)  # each front trial named


def test_importances_draws_a_bar_each_and_handles_none(study, data):
    fig = plots.plot_importances(study)
    ax = fig.axes[0]
    assert len(ax.patches) == len(study.importances()) > 0
    assert [t.get_text() for t in ax.get_yticklabels()] == list(study.importances())[::-1]

    X, y = data[:2]
    few = tune.search(BASE, {"lr": [0.1, 0.2]}, train=(X, y), strategy="grid", progress=False)
    assert few.importances() == {}
    ax = plots.plot_importances(few).axes[0]
    assert len(ax.patches) == 0 and any("at least 4" in t.get_text() for t in ax.texts)


def test_plots_draw_into_a_given_axes(study):
    fig = Figure()
    ax = fig.add_subplot()
    for plot in (plots.plot_history, plots.plot_curves, plots.plot_pareto, plots.plot_importances):
        ax.clear()
        assert plot(study, ax=ax) is fig


def test_plots_of_a_study_without_results_say_so(data):
    X, y = data[:2]
    # layers whose buffers pass 2^63 bytes: every trial fails
    failed = tune.search(BASE, {"hidden": [(2**31 - 1, 2**31 - 1), (2**31 - 1, 2**31 - 2)]}, train=(X, y),
                         strategy="grid", progress=False)
    assert {t.state for t in failed.trials} == {"failed"}
    for plot in (plots.plot_curves, plots.plot_pareto, plots.plot_importances):
        assert plot(failed).axes[0].texts  # a note instead of an empty frame
    ax = plots.plot_history(failed).axes[0]
    assert len(ax.lines) == 1 and "no score" in legend_texts(ax)[0]  # failed trials along the bottom


# --- learning-rate plots -------------------------------------------------------------------------

def fake_range(blows_up_at):
    lrs = np.geomspace(1e-5, 1.0, 50)
    costs = 2.3 - np.clip(np.log10(lrs / 1e-4), 0, None) + 0.01 * np.sin(np.arange(50))
    return tune.LRRangeTest(lrs=lrs, costs=costs, smoothed=costs.copy(), falls_until=0.1, suggested=0.01,
                            blows_up_at=blows_up_at)


@pytest.mark.parametrize("blows_up_at, marks", [(None, 2), (0.5, 3)])
def test_lr_range_plot_marks_the_rates(blows_up_at, marks):
    result = fake_range(blows_up_at)
    fig = result.plot()
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and ax.get_xscale() == "log"
    assert len(ax.lines) == 2 + marks  # raw, smoothed, a vertical line per rate
    labels = legend_texts(ax)
    assert "suggested 0.01" in labels and "falls until 0.1" in labels
    assert ("blows up at 0.5" in labels) == (blows_up_at is not None)
    verticals = [line for line in ax.lines[2:]]
    assert sorted(line.get_xdata()[0] for line in verticals) == sorted(
        v for v in (0.01, 0.1, blows_up_at) if v is not None)
    assert "learning rate" in ax.get_xlabel()


def test_lr_range_plot_of_a_real_sweep(data):
    X, y = data[:2]
    result = tune.lr_range_test(nf.Hyperparameters(hidden=(16,), standardize=True), X, y, steps=40)
    ax = result.plot().axes[0]
    assert len(ax.lines) == 4 + (result.blows_up_at is not None)


def plateau_in_view(result, ax):
    """The y-limits hold the smoothed curve up to its lowest point (the plateau of small
    rates and the fall), and cut off the blow-up beyond it."""
    smoothed = np.asarray(result.smoothed)
    lowest = int(np.nanargmin(smoothed))
    bottom, top = ax.get_ylim()
    return bottom <= np.nanmin(result.costs[: lowest + 1]) and top >= smoothed[: lowest + 1].max()


def test_lr_range_plot_keeps_a_plateau_above_the_start_in_view():
    # the smoothed cost rises from 13 to 16 on the plateau of small rates, falls to 2, blows up to 40
    lrs = np.geomspace(1e-6, 1.0, 60)
    plateau = 13.0 + 3.0 * np.sin(np.linspace(0.0, np.pi / 2, 20))
    fall = np.linspace(16.0, 2.0, 30)
    blow_up = np.linspace(4.0, 40.0, 10)
    costs = np.concatenate([plateau, fall, blow_up])
    result = tune.LRRangeTest(lrs=lrs, costs=costs, smoothed=costs.copy(), falls_until=float(lrs[49]),
                              suggested=1e-3, blows_up_at=float(lrs[-1]))
    ax = result.plot().axes[0]
    assert plateau_in_view(result, ax)
    assert ax.get_ylim()[1] < 30.0  # the blow-up is cut off, not squashing the rest


def test_lr_range_plot_of_a_real_sweep_keeps_its_plateau_in_view():
    # SGD on unscaled digits: the smoothed cost climbs above its start before it falls (on
    # this split by 46%; how far depends on the rows)
    X, y = nf.data.load_digits()
    X_tr, _, _, y_tr, _, _ = nf.data.train_val_test_split(X, y, seed=2)
    result = tune.lr_range_test(nf.Hyperparameters(optimizer="sgd"), X_tr, y_tr)
    smoothed = np.asarray(result.smoothed)
    assert smoothed[: int(np.nanargmin(smoothed))].max() > smoothed[0] * 1.2  # the case this is about
    assert plateau_in_view(result, result.plot().axes[0])


def test_comparison_plot_labels_each_value_with_its_verdict(data):
    X, y, X_val, y_val = data
    hp = nf.Hyperparameters(hidden=(8,), optimizer="sgd", epochs=4, standardize=True)
    result = tune.compare(hp, "lr", [1e-4, 0.05, 50.0], X, y, validation=(X_val, y_val))
    fig = result.plot()
    ax = fig.axes[0]
    labels = legend_texts(ax)
    for value, verdict in zip(result.values, result.verdicts):
        assert f"lr={value:.3g}: {verdict}" in labels
    diverged = sum(1 for h in result.histories if h.diverged_epoch is not None)
    assert len(ax.lines) == 2 * 3 + diverged  # training and validation per value, a mark where one blew up
    assert [line.get_linestyle() for line in ax.lines[:2]] == ["-", "--"]

    no_val = tune.compare(hp, "lr", [0.01, 0.05], X, y)
    ax = no_val.plot(ax=Figure().add_subplot()).axes[0]
    assert len(ax.lines) == 2 and "validation (dashed)" not in legend_texts(ax)


# --- the report ----------------------------------------------------------------------------------

def test_report_is_one_self_contained_page_with_every_plot_and_trial(study, tmp_path):
    path = tmp_path / "report.html"
    assert write_report(study, path) == str(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    for forbidden in ("http://", "https://", 'src="file', "<script", "<link", "@import"):
        assert forbidden not in text, forbidden
    assert text.count(IMG) == 4
    for kind in ("history", "curves", "pareto", "importances"):
        assert html.escape(plots.TITLES[kind]) in text, kind
    numbers = {int(n) for n in re.findall(r'<tr(?: class="best")?><td class="num">(\d+)</td>', text)}
    assert numbers == {t.number for t in study.trials}
    best = study.best()
    assert f'<tr class="best"><td class="num">{best.number}</td>' in text
    for state in ("complete", "pruned", "diverged", "failed"):
        assert f'class="state state-{state}">{state}</td>' in text
    assert "cannot size the network&#x27;s training buffers" in text  # the failed trial's error
    for name, value in best.hyperparameters.to_dict().items():
        assert f"<th>{name}</th>" in text
    assert "grid" in text and "val_accuracy, maximize" in text
    assert "The test set has not been looked at." in text
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_report_takes_extra_figures_and_overwrites_atomically(study, tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old")
    extra = fake_range(0.5).plot(ax=Figure().add_subplot()).figure
    write_report(study, str(path), extra_figures=[extra])
    text = path.read_text(encoding="utf-8")
    assert text.count(IMG) == 5 and html.escape(plots.TITLES["lr_range"]) in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_report_records_refit_and_the_test_look_and_escapes_text(data, tmp_path):
    X, y, X_te, y_te = data
    study = tune.search(BASE, {"lr": [0.2, 0.4]}, train=(X, y), strategy="grid", progress=False,
                        study_name="<b>tags & 'quotes'</b>")
    study.refit(X, y)
    scores = study.test(X_te, y_te)
    text = render_report(study)
    assert "<b>tags" not in text and "&lt;b&gt;tags &amp; &#x27;quotes&#x27;&lt;/b&gt;" in text
    assert "The test set was looked at once." in text
    assert f"accuracy {scores['accuracy']:.4g}" in text
    assert f"trial {study.best().number} on training + validation data" in text
    table = summary_table(study)
    assert "test look 1" in table and "refit: trial" in table
    assert repr(study.best().hyperparameters) in table


def test_summary_table_lists_the_top_trials_and_the_best(study):
    table = summary_table(study, top=3)
    lines = table.splitlines()
    assert lines[0].startswith("study 'states': 8 trials")
    assert "strategy grid" in lines[1]
    best = study.best()
    assert f"best: trial {best.number}" in table and repr(best.hyperparameters) in table
    ranked = [line for line in lines if re.match(r"\s+\d+\s+0\.\d{4}", line)]
    assert len(ranked) == 3
    scored = sum(1 for t in study.trials if t.state == "complete")
    assert scored > 3 and f"(the best 3 of {scored} scored trials;" in table  # says the table is cut
    assert "scored trials;" not in summary_table(study, top=scored)


def test_report_and_summary_diagnose_the_best_trials(study):
    from nnfast.diagnosis import diagnose

    text = render_report(study)
    section = text[text.index("<h2>Diagnosis</h2>"):text.index("<h2>Trials</h2>")]
    top = plots._top(study, 5)
    assert len(top) == 5 and top[0].number == study.best().number
    shown = [int(n) for n in re.findall(r'<td class="num" rowspan="\d+">(\d+)</td>', section)]
    assert shown == [t.number for t in top]  # best first, as the curves figure
    for trial in top:
        findings = diagnose(trial.history)
        assert findings and findings[0].kind == "learning"  # these rates all learn
        for finding in findings:
            assert f"<b>{finding.kind}</b>" in section and html.escape(finding.advice) in section
    assert diagnose(study.best().history)[-1].kind in ("generalising", "overfitting")  # the study's validation
    table = summary_table(study)
    for finding in diagnose(study.best().history):
        assert f"  {finding}" in table.splitlines()


def test_stored_curves_diagnose_as_they_ran(data, tmp_path):
    # a diverged trial's NaN costs go through the storage's JSON and back
    X, y = data[:2]
    storage = str(tmp_path / "s.db")
    ran = tune.search(BASE, {"lr": [0.2, 100.0, 1e-5]}, train=(X, y), strategy="grid", progress=False,
                      storage=storage, study_name="stored")
    from nnfast.diagnosis import diagnose

    stored = tune.load_study(storage, "stored")
    kinds = [[f.kind for f in diagnose(t.history)] for t in stored.trials]
    assert kinds == [[f.kind for f in diagnose(t.history)] for t in ran.trials]
    assert kinds[1] == ["diverging"] and kinds[2] == ["stuck"] and kinds[0][0] == "learning"


# The subprocesses below run in tmp_path: `python -c` puts the working directory first on sys.path,
# and in a source checkout that would import the unbuilt nnfast/ instead of the installed one.

def test_tune_and_plots_import_without_matplotlib_until_a_plot_is_drawn(tmp_path):
    code = ("import sys, nnfast.tune, nnfast.tune.plots, nnfast.tune.report, nnfast.cli\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported early'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=tmp_path,
                   env={**os.environ, "PYTHONWARNINGS": "error"})


def test_plots_use_agg_when_no_backend_is_chosen(tmp_path):
    code = ("import matplotlib, nnfast as nf\nfrom nnfast import tune\n"
            "r = tune.LRRangeTest(lrs=[1e-3, 1e-2, 1e-1], costs=[2.0, 1.0, 3.0], smoothed=[2.0, 1.5, 2.0],\n"
            "                     falls_until=1e-2, suggested=1e-3, blows_up_at=None)\n"
            "fig = r.plot()\nassert matplotlib.get_backend().lower() == 'agg', matplotlib.get_backend()\n"
            f"fig.savefig({str(tmp_path / 'lr.png')!r})\n")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env, cwd=tmp_path)
    assert (tmp_path / "lr.png").stat().st_size > 1000


# --- importances (PED-ANOVA in NumPy) ------------------------------------------------------------

def crafted_study(direction="maximize"):
    """An Optuna study whose score is decided by ``x`` alone; ``noise`` and ``kind`` are random."""
    import optuna

    from nnfast.tune._quiet import quiet_optuna

    rng = np.random.default_rng(0)
    dists = {"x": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True),
             "noise": optuna.distributions.FloatDistribution(0.0, 1.0),
             "kind": optuna.distributions.CategoricalDistribution(["a", "b", "c"])}
    with quiet_optuna():
        study = optuna.create_study(direction=direction)
        for _ in range(40):
            params = {"x": float(10 ** rng.uniform(-3, 0)), "noise": float(rng.uniform()),
                      "kind": str(rng.choice(["a", "b", "c"]))}
            score = -abs(math.log10(params["x"]) + 2.0)  # best at x = 0.01
            value = score if direction == "maximize" else -score
            study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    return tune.Study(study)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_importances_rank_the_deciding_hyperparameter_first(direction):
    importances = crafted_study(direction).importances()
    assert list(importances)[0] == "x" and set(importances) == {"x", "noise", "kind"}
    assert math.isclose(sum(importances.values()), 1.0) and importances["x"] > 0.6
    assert list(importances.values()) == sorted(importances.values(), reverse=True)


def test_importances_need_no_scikit_learn(tmp_path):
    # optuna.importance imports scikit-learn and SciPy (its fANOVA): seconds of a cold `nnfast report`
    code = ("import sys\nfrom nnfast import tune\n"
            "import tests_importances_helper as h\n")
    (tmp_path / "tests_importances_helper.py").write_text(
        "import math, optuna\nfrom nnfast import tune\n"
        "d = {'x': optuna.distributions.FloatDistribution(0.0, 1.0)}\n"
        "s = optuna.create_study(direction='maximize')\n"
        "for i in range(8):\n"
        "    s.add_trial(optuna.trial.create_trial(params={'x': i / 8}, distributions=d, value=-abs(i / 8 - 0.5)))\n"
        "assert list(tune.Study(s).importances()) == ['x']\n")
    code += "assert 'sklearn' not in sys.modules and 'optuna.importance' not in sys.modules, 'imported'\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=tmp_path,
                   env={**os.environ, "PYTHONWARNINGS": "error"})


# --- the report's interpretation, table, titles and hyperparameters -------------------------------

@pytest.fixture(scope="module")
def looked(data):
    """A finished study whose winner was refit and looked at on the test set, once."""
    X, y, X_te, y_te = data
    study = tune.search(BASE, {"lr": [0.4, 0.5, 0.6, 0.7]}, train=(X, y), strategy="grid", progress=False,
                        study_name="looked")
    study.refit(X, y)
    study.test(X_te, y_te)
    return study


def section(text, head, until):
    return text[text.index(f"<h2>{head}</h2>"):text.index(f"<h2>{until}</h2>")]


def test_report_opens_with_the_interpretation(looked):
    from nnfast.diagnosis import diagnose

    text = render_report(looked)
    assert text.index("<h2>Interpretation</h2>") < text.index("<h2>Summary</h2>") < text.index("<h2>Plots</h2>")
    part = html.unescape(section(text, "Interpretation", "Summary"))
    best = looked.best()
    assert f"The winner is trial {best.number}: val_accuracy {best.score:.4f} ± {best.score_se:.4f}" in part
    contenders = looked.contenders()
    assert len(contenders) > 1  # 300 validation rows cannot tell these rates apart: the case is real
    for t in contenders[1:]:
        assert f"trial {t.number} {t.score:.4f} ± {t.score_se:.4f}" in part
    assert f"cannot tell these {len(contenders)} configurations apart" in part
    for finding in diagnose(best.history):
        assert f"{finding.kind} ({finding.advice})" in part
    assert best.stop_reason == "max_epochs" and f"It hit the epoch cap: it ran all {best.epochs} epochs" in part
    gap = next(f for f in diagnose(best.history) if f.kind in ("generalising", "overfitting"))
    assert f"Train/validation gap: validation cost {gap.evidence['val_cost']:.4g}" in part
    assert "training accuracy " in part
    test = looked.attrs["test_looks"][0]["scores"]["accuracy"]
    assert (f"Validation/test gap, after the one look at the test set (the refit of the winner): test accuracy "
            f"{test:.4f} against validation {best.score:.4f}, a gap of {best.score - test:+.4f}") in part


def test_interpretation_without_a_test_look_or_a_winner(study, data):
    part = html.unescape(section(render_report(study), "Interpretation", "Summary"))
    assert "Validation/test gap: the test set has not been looked at" in part
    X, y = data[:2]
    failed = tune.search(BASE, {"hidden": [(2**31 - 1, 2**31 - 1), (2**31 - 1, 2**31 - 2)]}, train=(X, y),
                         strategy="grid", progress=False)
    part = section(render_report(failed), "Interpretation", "Summary")
    assert "No trial completed" in part


def test_trial_table_lists_the_best_first_without_a_scroll_box(study):
    text = render_report(study)
    table = text[text.index("<h2>Trials</h2>"):]
    shown = [int(n) for n in re.findall(r'<tr(?: class="best")?><td class="num">(\d+)</td>', table)]
    ranked = [t.number for t in sorted(study._scored(), key=study._rank)]
    assert shown[:len(ranked)] == ranked and shown[0] == study.best().number
    assert sorted(shown) == [t.number for t in study.trials]
    failed = [t.number for t in study.trials if t.state == "failed"]
    assert shown[-len(failed):] == failed  # no score: last
    assert "max-height" not in text and "overflow-x" not in text and "overflow-wrap: anywhere" in text


def test_plot_titles_appear_once(study, monkeypatch):
    from nnfast.tune import report

    drawn = []
    real = report._png

    def png(fig):
        drawn.append([t.get_text() for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)
                      if t.get_visible() and t.get_text()])
        return real(fig)

    monkeypatch.setattr(report, "_png", png)
    extra = fake_range(0.5).plot(ax=Figure().add_subplot()).figure
    text = render_report(study, extra_figures=[extra])
    assert len(drawn) == 5 and drawn == [[]] * 5  # no title inside a figure, the heading above it
    for kind in ("history", "curves", "pareto", "importances", "lr_range"):
        assert f"<h3>{html.escape(plots.TITLES[kind])}" in text
    assert extra.axes[0].get_title(loc="left") == plots.TITLES["lr_range"] and extra.axes[0]._left_title.get_visible()


def test_report_folds_the_hyperparameters_left_at_their_defaults(looked):
    text = render_report(looked)
    part = text[text.index("Its hyperparameters"):text.index("</details>")]
    shown, folded = part.split("<details>")
    defaults = nf.Hyperparameters().to_dict()
    base = BASE.to_dict()
    for name, value in looked.best().hyperparameters.to_dict().items():
        row = f"<th>{name}</th>"
        if name == "lr" or defaults[name] != value:
            assert row in shown and row not in folded, name
        else:
            assert row in folded and row not in shown, name
    assert '<tr class="searched"><th>lr</th>' in shown
    assert "set in the study&#x27;s base" in shown and base["hidden"] != defaults["hidden"]


def test_study_plot_methods_return_labelled_figures(study):
    cases = [(study.plot_history(), "trial number", "validation accuracy", plots.TITLES["history"]),
             (study.plot_curves(top=2), "epoch", "cost", plots.TITLES["curves"]),
             (study.plot_pareto(), "training time (seconds, log scale)", "validation accuracy",
              plots.TITLES["pareto"]),
             (study.plot_importances(), "importance", "hyperparameter", plots.TITLES["importances"])]
    for fig, xlabel, ylabel, title in cases:
        assert isinstance(fig, Figure) and len(fig.axes) == 1
        ax = fig.axes[0]
        assert ax.get_xlabel().startswith(xlabel) and ylabel in ax.get_ylabel()
        assert ax.get_title(loc="left").startswith(title)
    assert len(cases[1][0].axes[0].lines) == 2 * 2  # the top 2: validation and training each
    target = Figure().add_subplot()
    assert study.plot_pareto(ax=target) is target.figure


def test_interpretation_says_when_the_winner_stopped_before_its_epoch_cap(data):
    X, y = data[:2]
    early = tune.search(BASE.replace(epochs=200, patience=2, min_delta=0.02), {"lr": [0.3, 0.5]}, train=(X, y), strategy="grid",
                        progress=False)
    best = early.best()
    assert best.stop_reason != "max_epochs" and best.epochs < 200  # the case is real
    part = html.unescape(section(render_report(early), "Interpretation", "Summary"))
    assert (f"It did not hit the epoch cap: it stopped after {best.epochs} epochs of at most 200 "
            f"({best.stop_reason})") in part
