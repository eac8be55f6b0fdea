"""A study as one self-contained HTML page, and as a table for the terminal.

The page has no external resources and no JavaScript: the figures are PNG images
embedded as base64, the style sheet is inline, so it can be mailed, archived or opened
offline as one file.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
import numbers
import os
import tempfile
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from .. import __version__
from ..diagnosis import Finding, diagnose
from ..hyperparams import Hyperparameters
from .study import Study, TrialRecord, _count, seconds_text
from .trial import SCORE_EPOCHS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

__all__ = ["write_report", "summary_table", "render_report", "interpretation"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin: 1.5em 0 0.4em; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { background: none; font-weight: normal; color: #555; }
table.trials { width: 100%; }
.trials td { overflow-wrap: anywhere; }
details { margin: 0.3em 0 1em; }
details summary { cursor: pointer; color: #555; }
.trials tr.best td { background: #fff8e1; }
.state { font-weight: 600; }
.state-complete { color: #1f6fb4; }
.state-pruned { color: #777; }
.state-diverged { color: #c62828; }
.state-failed { color: #000; }
.state-waiting, .state-running { color: #999; }
.searched { background: #eef5fc; }
.warn { color: #c62828; }
.error { color: #c62828; font-size: 0.85em; max-width: 30em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
footer { color: #888; font-size: 0.85em; margin-top: 3em; }
"""

#: what each study figure shows, as its caption in the report
_CAPTIONS = {
    "history": "Each trial's score in the order the trials started, by how it ended; the line is the best "
               "completed score so far.",
    "curves": "Cost per epoch of the best completed trials: validation solid, training dashed, one colour per "
              "trial. A widening gap between them is overfitting.",
    "pareto": "Score against training time; the Pareto front joins the trials that no other trial beats on both.",
    "importances": "How much of the score's variation each searched hyperparameter explains (PED-ANOVA over "
                   "the better trials).",
}


#: the type of ``extra_figures``, which takes matplotlib Figures, (title, Figure) pairs, or a mapping title -> Figure
ExtraFigures = Union[Mapping[str, "Figure"], Iterable[Union["Figure", Tuple[str, "Figure"]]], None]


# --- small formatting helpers ------------------------------------------------------------------

def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fmt(value: Any, digits: int = 4) -> str:
    """A value for display: floats to ``digits`` significant digits, lists compactly."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v, digits) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v, digits)}" for k, v in value.items())
    return str(value)


def _score(value: Any) -> str:
    return "–" if not _is_number(value) or math.isnan(value) else f"{float(value):.4f}"


def _counts(trials: Iterable[TrialRecord]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    return counts


def _best(study: Study) -> Optional[TrialRecord]:
    try:
        return study.best()
    except ValueError:
        return None


def _rows(study: Study) -> Tuple[List[str], List[Dict[str, Any]]]:
    """The columns and rows of ``study.table()``, as dicts (pandas, which takes a while to
    import, is not needed for a page)."""
    rows = [dict(r) for r in study._table_rows()]
    columns: List[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    return columns, rows


def _missing(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


# --- figures -----------------------------------------------------------------------------------

def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, facecolor="white")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _detached(plot: Callable[..., object], *args: Any, figsize: Tuple[float, float] = (8.0, 4.6),
              **kwargs: Any) -> Figure:
    """A figure drawn without pyplot (no global state, nothing left open)."""
    from .plots import _matplotlib

    _matplotlib()  # a clear message when matplotlib is missing
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    plot(*args, ax=fig.add_subplot(), **kwargs)
    return fig


def _title(fig: Figure, default: str) -> str:
    axes: List[Axes] = getattr(fig, "axes", [])
    for ax in axes:
        if ax.get_title(loc="left"):
            return ax.get_title(loc="left")
        if ax.get_title():
            return ax.get_title()
    suptitle: Optional[Text] = getattr(fig, "_suptitle", None)
    return suptitle.get_text() if suptitle is not None and suptitle.get_text() else default


def _untitled_png(fig: Figure) -> str:
    """The figure as PNG without its axes titles and suptitle (the page's heading shows the
    title once); the figure is left as it was."""
    hidden = [artist for ax in getattr(fig, "axes", [])
              for artist in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None))
              if artist is not None and artist.get_visible() and artist.get_text()]
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_visible():
        hidden.append(suptitle)
    try:
        for artist in hidden:
            artist.set_visible(False)
        return _png(fig)
    finally:
        for artist in hidden:
            artist.set_visible(True)


def _figure_html(fig: Figure, title: str, caption: str = "") -> str:
    return (f'<figure><h3>{_e(title)}</h3><img src="data:image/png;base64,{_untitled_png(fig)}" alt="{_e(title)}">'
            + (f"<figcaption>{_e(caption)}</figcaption>" if caption else "") + "</figure>")


def _study_figures(study: Study) -> List[Tuple[str, str, Figure]]:
    from . import plots

    return [
        ("history", "", _detached(plots.plot_history, study)),
        ("curves", "", _detached(plots.plot_curves, study, top=5)),
        ("pareto", "", _detached(plots.plot_pareto, study)),
        ("importances", "", _detached(plots.plot_importances, study, figsize=(8.0, 3.6))),
    ]


# --- diagnosis of the best trials -----------------------------------------------------------------

#: how many of the best completed trials the report diagnoses (those the curves figure shows)
DIAGNOSED_TRIALS = 5


def _diagnosed(study: Study, top: int = DIAGNOSED_TRIALS) -> List[Tuple[TrialRecord, List[Finding]]]:
    """The best completed trials, best first, each with the findings of its stored curves
    (the training cost and the study's validation cost per epoch)."""
    from .plots import _top

    return [(t, diagnose(t.history)) for t in _top(study, top)]


def _diagnosis_html(study: Study) -> str:
    rows = []
    for trial, findings in _diagnosed(study):
        for i, finding in enumerate(findings or [None]):
            head = (f'<td class="num" rowspan="{max(1, len(findings))}">{_e(trial.number)}</td>'
                    f'<td class="num" rowspan="{max(1, len(findings))}">{_score(trial.score)}</td>') if i == 0 else ""
            if finding is None:
                rows.append(f"<tr>{head}<td>–</td><td>no curve recorded</td><td></td></tr>")
                continue
            cls = ' class="warn"' if finding.kind in ("diverging", "stuck", "overfitting", "oscillating") else ""
            evidence = ", ".join(f"{k} {_fmt(v)}" for k, v in finding.evidence.items())
            rows.append(f"<tr>{head}<td{cls}><b>{_e(finding.kind)}</b></td><td>{_e(evidence)}</td>"
                        f"<td>{_e(finding.advice)}</td></tr>")
    if not rows:
        return "<h2>Diagnosis</h2><p>No completed trial to diagnose.</p>"
    return ("<h2>Diagnosis</h2><p>What the cost curves of the best trials show (training cost, and the "
            "validation cost the study scores on), read as <code>history.diagnose()</code> reads them: the "
            "numbers each finding rests on and what to do about it.</p>"
            "<table><thead><tr><th>trial</th><th>score</th><th>finding</th><th>evidence</th><th>advice</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


# --- the interpretation ---------------------------------------------------------------------------

def _metric(objective: str) -> str:
    """The training-data key of a validation objective (``val_accuracy`` -> ``accuracy``)."""
    return objective[4:] if objective.startswith("val_") else objective


def _recent(values: Any, n: int = SCORE_EPOCHS) -> float:
    """The mean of the last ``n`` finite values of a stored curve (as a trial's score is read)."""
    finite = [float(v) for v in (values or []) if _is_number(v) and math.isfinite(v)][-n:]
    return sum(finite) / len(finite) if finite else math.nan


def _pm(score: float, se: float) -> str:
    return _score(score) + ("" if not _is_number(se) or math.isnan(se) else f" ± {float(se):.4f}")


def interpretation(study: Study) -> List[str]:
    """What the study found, in sentences (plain text, best first): the winner and its
    contenders (:meth:`Study.contenders`, score ± standard error), what its cost curves show
    (:func:`nnfast.diagnosis.diagnose`), whether it ran to its epoch cap, its
    train/validation gap, and the validation/test gap of the first look at the test set.
    The report opens with these; an empty study gives one sentence saying so."""
    best = _best(study)
    if best is None:
        return ["No trial completed, so there is no winner to interpret: see the failed trials' errors below."]
    name = study.objective or "score"
    out = [f"The winner is trial {best.number}: {name} {_pm(best.score, best.score_se)} (score ± its standard "
           f"error), trained in {_fmt(best.seconds, 3)} s."]
    try:
        contenders = study.contenders()
    except ValueError:
        contenders = [best]
    if len(contenders) > 1:
        others = "; ".join(f"trial {t.number} {_pm(t.score, t.score_se)}" for t in contenders[1:10])
        more = f" and {len(contenders) - 10} more" if len(contenders) > 10 else ""
        source = f"{study.attrs['cv']}-fold cross-validation" if study.attrs.get("cv") else "the validation data"
        out.append(f"Its contenders, within one standard error of its score: {others}{more}. {source.capitalize()} "
                   f"cannot tell these {len(contenders)} configurations apart; re-score them on fresh folds with "
                   f"{study.rescore_advice(len(contenders))} before trusting the pick.")
    elif math.isnan(best.score_se):
        out.append("Its score has no standard error on record, so its contenders are unknown.")
    else:
        out.append("No other trial scores within one standard error of it: it stands apart from the rest.")

    findings = diagnose(best.history)
    if findings:
        out.append("Its cost curves: " + "; ".join(f"{f.kind} ({f.advice})" for f in findings) + ".")
    else:
        out.append("No cost curve of it was recorded, so there is no diagnosis.")

    cap = best.hyperparameters.epochs if best.hyperparameters is not None else None
    if best.stop_reason == "max_epochs":
        improving = any(f.kind == "epoch_cap" for f in findings)
        out.append(f"It hit the epoch cap: it ran all {best.epochs} epochs" + (
            ", and its cost was still falling: train longer or raise the learning rate." if improving else
            ", with its cost settled by then."))
    elif best.stop_reason:
        limit = f" of at most {cap}" if _is_number(cap) else ""
        out.append(f"It did not hit the epoch cap: it stopped after {best.epochs} epochs{limit} ({best.stop_reason}).")

    gap = next((f for f in findings if f.kind in ("generalising", "overfitting")), None)
    metric = _metric(study.objective or "")
    train_score = _recent(best.history.get(metric)) if isinstance(best.history, Mapping) and metric else math.nan
    parts = []
    if gap is not None:
        parts.append(f"validation cost {_fmt(gap.evidence['val_cost'])} against training cost "
                     f"{_fmt(gap.evidence['train_cost'])}, a gap of {gap.evidence['gap_share']:.1%} of the cost "
                     f"before training ({gap.kind})")
    if metric and metric != study.objective and math.isfinite(train_score) and math.isfinite(best.score):
        parts.append(f"training {metric} {_score(train_score)} against validation {_score(best.score)}, a gap of "
                     f"{train_score - best.score:+.4f}")
    out.append("Train/validation gap: " + ("; ".join(parts) if parts else "not recorded") + ".")

    looks = study.attrs.get("test_looks") or []
    # a training-set objective (objective="loss") scores trials on the training data
    scored_on = "validation" if (study.objective or "").startswith("val_") else "training"
    gap_name = f"{scored_on.capitalize()}/test gap"
    if not looks:
        out.append(f"{gap_name}: the test set has not been looked at; refit the winner and look once "
                   "(study.refit, study.test, or nnfast tune without --no-test) for an unbiased estimate.")
    else:
        look = looks[0]
        scores = look.get("scores") or {}
        key = metric if metric in scores else None
        trial = look.get("trial")
        which = "the winner" if trial == best.number else f"trial {trial}"
        if key is not None and _is_number(scores[key]):
            test = float(scores[key])
            gap_ = best.score - test if trial == best.number else math.nan
            se = best.score_se
            text = f"{gap_name}, after the one look at the test set (the refit of {which}): test {key} " \
                   f"{_score(test)}"
            if math.isfinite(gap_):
                text += f" against {scored_on} {_score(best.score)}, a gap of {gap_:+.4f}"
                if _is_number(se) and math.isfinite(se) and se > 0:
                    text += f" ({abs(gap_) / se:.1f} standard errors of the {scored_on} score)"
            out.append(text + ".")
        else:
            out.append(f"{gap_name}: the look at the test set (the refit of {which}) recorded "
                       f"{_fmt(scores)}, no {metric or 'score'} to compare.")
        if len(looks) > 1:
            out.append(f"The test set was looked at {len(looks)} times: only the first look is unbiased.")
    return out


def _interpretation_html(study: Study) -> str:
    return "<h2>Interpretation</h2>" + "".join(f"<p>{_e(line)}</p>" for line in interpretation(study))


# --- the page ------------------------------------------------------------------------------------

def _kv(pairs: Iterable[Tuple[str, Any]], raw: bool = False) -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{v if raw else _e(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv">{cells}</table>'


def _summary_html(study: Study, trials: List[TrialRecord], best: Optional[TrialRecord]) -> str:
    attrs = study.attrs
    counts = _counts(trials)
    counted = ", ".join(f'<span class="state state-{_e(s)}">{n} {_e(s)}</span>' for s, n in sorted(counts.items()))
    pairs = [
        ("objective", _e(f"{study.objective or 'score'}, {study.direction}")),
        ("strategy", _e(attrs.get("strategy", "?"))),
        ("trials", f"{len(trials)} ({counted or 'none'})" + (
            _e(f"; budget {attrs['n_trials']}") if attrs.get("n_trials") is not None else "")),
        ("seed", _e(attrs.get("seed", "–"))),
        ("validation", _e(f"{attrs['cv']}-fold cross-validation ({attrs.get('folds') or 'folds'})" if attrs.get("cv")
                          else "one validation set")),
        ("data", _e(_data_text(attrs))),
        ("storage", _e(study.storage_text())),
    ]
    if attrs.get("rerun_of"):
        pairs.append(("re-run of", _e(attrs["rerun_of"])))
    out = ["<h2>Summary</h2>", _kv(pairs, raw=True)]

    out.append("<h3>Best trial</h3>")
    if best is None:
        out.append('<p class="warn">No trial completed, so there is no best configuration.</p>')
    else:
        out.append(_kv([("trial", best.number), (f"{study.objective or 'score'} (validation)", _score(best.score)),
                        ("standard error", _score(best.score_se)),
                        ("training time", f"{_fmt(best.seconds, 3)} s"),
                        ("epochs", f"{best.epochs} (scored on the mean of the last {min(best.epochs, SCORE_EPOCHS)})"),
                        ("stopped", best.stop_reason or "–")]))
        note = study.contenders_note()
        if note:
            out.append("".join(f'<p class="{"note" if line.startswith("rescored") else "warn"}">{_e(line)}</p>'
                               for line in note))
        if best.hyperparameters is not None:
            out.append(_hyperparameters_html(best.hyperparameters, best.params, study.attrs.get("base") or {}))

    out.append("<h3>Final model and test set</h3>")
    refit = attrs.get("refit")
    if refit:
        out.append(_kv([("refit", f"trial {refit.get('trial')} on training + validation data for "
                                  f"{refit.get('epochs')} epochs"),
                        ("refit at", refit.get("at", "–")),
                        ("refit data", f"fingerprint {refit.get('data', '–')}")]))
    else:
        out.append("<p>Not refit: the best configuration has not been retrained on all the non-test data.</p>")
    looks = attrs.get("test_looks") or []
    if looks:
        rows = []
        for i, look in enumerate(looks, start=1):
            forced = ' <span class="warn">(forced: a second look)</span>' if look.get("forced") else ""
            rows.append(f"<tr><td class='num'>{i}</td><td>{_e(look.get('at', '–'))}</td>"
                        f"<td>{_e(look.get('trial', '–'))}</td><td>{_e(_fmt(look.get('scores', {})))}</td>"
                        f"<td>{_e(look.get('data', '–'))}</td><td>{forced}</td></tr>")
        looked = ("The test set was looked at once." if len(looks) == 1 else
                  f'<span class="warn">The test set was looked at {len(looks)} times: only the first look is an '
                  "unbiased estimate.</span>")
        out.append(f"<p>{looked}</p><table><tr><th>look</th><th>at</th><th>trial</th><th>test scores</th>"
                   f"<th>data</th><th></th></tr>{''.join(rows)}</table>")
    else:
        out.append("<p>The test set has not been looked at.</p>")
    return "\n".join(out)


def _hyperparameters_html(hp: Hyperparameters, params: Mapping[str, Any], base: Mapping[str, Any]) -> str:
    """The winner's hyperparameters: those searched, set in the study's base or otherwise
    differing from nnfast's defaults in full; the rest (at their defaults) folded."""
    defaults = Hyperparameters().to_dict()
    searched = set(params) | {k.split(".")[0] for k in params}
    shown, folded = [], []
    for name, value in hp.to_dict().items():
        if name in searched:
            shown.append(f'<tr class="searched"><th>{_e(name)}</th><td>{_e(_fmt(value, 6))}</td><td>searched</td></tr>')
        elif name not in defaults or defaults[name] != value:
            note = "set in the study's base" if base.get(name) == value else "differs from the default"
            shown.append(f"<tr><th>{_e(name)}</th><td>{_e(_fmt(value, 6))}</td><td>{_e(note)}</td></tr>")
        else:
            folded.append(f"<tr><th>{_e(name)}</th><td>{_e(_fmt(value, 6))}</td><td>default</td></tr>")
    out = ["<p>Its hyperparameters: the searched ones (highlighted) and those that differ from nnfast's "
           "defaults.</p>", '<table class="kv">' + "".join(shown) + "</table>"]
    if folded:
        out.append(f"<details><summary>the other {len(folded)} hyperparameters, at nnfast's defaults</summary>"
                   f'<table class="kv">{"".join(folded)}</table></details>')
    return "".join(out)


def _data_text(attrs: Mapping[str, Any]) -> str:
    """Where the data came from, when the command line recorded it, and its fingerprint."""
    parts = []
    cli = (attrs.get("metadata") or {}).get("cli")  # as nnfast tune records it
    if isinstance(cli, Mapping):
        parts.append(str(cli.get("data", "?")))
        parts.append("no test part" if cli.get("no_test") else f"test part {_fmt(cli.get('test_size'))}")
        if cli.get("cv"):
            parts.append(f"{cli['cv']}-fold cross-validation of the rest")
        else:
            parts.append(f"validation {_fmt(cli.get('val_size'))} of the rest")
    if attrs.get("data"):
        parts.append(f"search data fingerprint {attrs['data']}")
    return ", ".join(parts) or "–"


def _state_cell(state: Any) -> str:
    return f'<td class="state state-{_e(state)}">{_e(state)}</td>'


def _ranked_rows(study: Study, rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The table's rows best first: completed trials as :meth:`Study.best` ranks them, then
    the others (pruned, diverged, failed, ...) by score, unscored last, each by trial number."""
    order = {t.number: i for i, t in enumerate(sorted(study._scored(), key=study._rank))}

    def key(row: Dict[str, Any]) -> Tuple[int, int, float, Any]:
        number = row.get("trial")
        if number in order:
            return (0, order[number], 0.0, number)
        value: Any = row.get(study.objective or "score")  # a cell of the trial's row: any JSON value
        scored = _is_number(value) and math.isfinite(value)
        return (1 if scored else 2, 0, -study.sign * float(value) if scored else 0.0, number)

    return sorted(rows, key=key)


def _table_html(study: Study, best: Optional[TrialRecord]) -> str:
    columns, rows = _rows(study)
    if not rows:
        return "<h2>Trials</h2><p>No trials.</p>"
    rows = _ranked_rows(study, rows)
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value: Any = row.get(column)  # a cell of the trial's row: any JSON value
            if column == "state":
                cells.append(_state_cell(value))
            elif column == "error":
                cells.append(f'<td class="error">{"" if _missing(value) else _e(value)}</td>')
            elif column in (study.objective, "score", "score_se"):  # one format: score ± its error
                cells.append(f'<td class="num">{_score(value)}</td>')
            elif column == "seconds":
                cells.append(f'<td class="num">{"–" if _missing(value) else _e(seconds_text(float(value)))}</td>')
            elif _is_number(value) or _missing(value):
                cells.append(f'<td class="num">{_e(_fmt(value))}</td>')
            else:
                cells.append(f"<td>{_e(_fmt(value))}</td>")
        cls = ' class="best"' if best is not None and row.get("trial") == best.number else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (f"<h2>Trials</h2><p>All {_count(len(rows), 'trial')}, best first: the completed ones by score (the best "
            "highlighted), then the others by how far they got.</p>"
            f'<table class="trials"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _extra(extra_figures: ExtraFigures) -> List[Tuple[str, Figure]]:
    if not extra_figures:
        return []
    if isinstance(extra_figures, Mapping):
        return [(str(title), fig) for title, fig in extra_figures.items()]
    out = []
    for i, item in enumerate(extra_figures, start=1):
        if isinstance(item, tuple) and len(item) == 2:
            out.append((str(item[0]), item[1]))
        else:
            out.append((_title(item, f"Figure {i}"), item))
    return out


def render_report(study: Study, *, extra_figures: ExtraFigures = None) -> str:
    """The report of :func:`write_report` as an HTML string."""
    trials = study.trials
    best = _best(study)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>nnfast study {_e(study.name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>nnfast study <code>{_e(study.name)}</code></h1>",
             f'<p class="sub">{_e(_count(len(trials), "trial"))}; {_e(study.objective or "score")}, {_e(study.direction)}; '
             f"report written {_e(now)} by nnfast {_e(__version__)}</p>",
             _interpretation_html(study),
             _summary_html(study, trials, best),
             "<h2>Plots</h2>"]
    for kind, _, fig in _study_figures(study):
        parts.append(_figure_html(fig, _title(fig, kind), _CAPTIONS.get(kind, "")))
    for title, fig in _extra(extra_figures):
        parts.append(_figure_html(fig, title))
    parts.append(_diagnosis_html(study))
    parts.append(_table_html(study, best))
    storage = study.storage
    where = (f" The study lives in {_e(study.storage_text())}: open it again with <code>nnfast report</code>, "
             f"<code>nnfast.tune.load_study(...)</code> or optuna-dashboard." if storage else
             " The study was kept in memory only.")
    parts.append(f"<footer>Generated by nnfast {_e(__version__)}.{where}</footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(study: Study, path: Union[str, os.PathLike[str]], *, extra_figures: ExtraFigures = None) -> str:
    """Write the study as one self-contained HTML file and return its path.

    The page has a summary (objective, strategy, trial counts, the best trial and its
    hyperparameters, the refit and the test-set look(s) on record), every study plot
    (optimisation history, learning curves of the best trials, score against time
    with the Pareto front, importances) as embedded PNG, the diagnosis of the best
    trials' cost curves (:func:`nnfast.diagnosis.diagnose`), and the table of all trials.

    Parameters
    ----------
    study : Study
    path : str or path-like
        Written atomically (a temporary file in the same directory, then renamed).
    extra_figures : sequence of matplotlib Figures, of (title, Figure) pairs, or a mapping title -> Figure
        Appended after the study plots, e.g. an ``lr_range_test(...).plot()``.
    """
    path = os.fspath(path)
    text = render_report(study, extra_figures=extra_figures)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".nnfast-report-", suffix=".html.tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def summary_table(study: Study, top: int = 10) -> str:
    """The study for a terminal: counts, the ``top`` trials and their searched values,
    the best configuration, and the refit and test look on record."""
    lines = study.summary(top=top).splitlines()
    attrs = study.attrs
    extra = [f"strategy {attrs.get('strategy', '?')}"]
    if attrs.get("n_trials") is not None:
        extra.append(f"budget {_count(attrs['n_trials'], 'trial')}")
    if study.storage:
        extra.append(f"storage {study.storage_text()}")
    lines.insert(1, "  " + ", ".join(extra))
    best = _best(study)
    if best is None:
        failed = [t for t in study.trials if t.error]
        lines.append("no trial completed" + (f"; last error: {failed[-1].error}" if failed else ""))
        return "\n".join(lines)
    lines.append(f"best: trial {best.number}, {study.objective} {best.score:.4f}, {seconds_text(best.seconds)} s, "
                 f"{best.epochs} epochs ({best.stop_reason})")
    if best.hyperparameters is not None:
        lines.append(f"  {best.hyperparameters!r}")
    lines.extend(f"  {finding}" for finding in diagnose(best.history))
    refit = attrs.get("refit")
    if refit:
        lines.append(f"refit: trial {refit.get('trial')} for {refit.get('epochs')} epochs on training + validation "
                     f"data ({refit.get('at', '?')})")
    for i, look in enumerate(attrs.get("test_looks") or [], start=1):
        forced = ", forced" if look.get("forced") else ""
        lines.append(f"test look {i} ({look.get('at', '?')}, trial {look.get('trial')}{forced}): "
                     f"{_fmt(look.get('scores', {}))}")
    return "\n".join(lines)
