"""Plots of a study and of the learning-rate tools (matplotlib).

matplotlib is imported only when a plot is asked for, so :mod:`nnfast.tune` works
without it. When no backend has been chosen (no ``MPLBACKEND``, none in matplotlibrc,
pyplot not yet imported) the non-interactive Agg backend is used, so plotting works on
servers and in worker threads; choose a backend first (``matplotlib.use(...)`` or
``import matplotlib.pyplot``) to get windows.

Every function draws into ``ax`` when given one (and returns its figure), or makes a new
pyplot figure otherwise (``plt.close(fig)`` it when done), and returns the
:class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

import math
import os
import sys
import types
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union, cast

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.ticker import MaxNLocator

    from ..callbacks import History
    from .lr import Comparison, LRRangeTest
    from .study import Study, TrialRecord

__all__ = ["plot_history", "plot_curves", "plot_pareto", "plot_importances", "plot_lr_range", "plot_comparison",
           "TITLES", "STATE_STYLES"]

#: the title of each study plot (the report lists them by these)
TITLES = {
    "history": "Optimisation history",
    "curves": "Learning curves of the best trials",
    "pareto": "Score against training time",
    "importances": "Hyperparameter importance",
    "lr_range": "Learning-rate range test",
    "comparison": "Cost curves by value of",
}

#: how each trial state is drawn: (colour, marker, label)
STATE_STYLES = {
    "complete": ("#1f77b4", "o", "complete"),
    "pruned": ("#8c8c8c", "v", "pruned"),
    "diverged": ("#d62728", "X", "diverged"),
    "failed": ("#000000", "x", "failed"),
}
_DRAWN_STATES = tuple(STATE_STYLES)

#: one colour per curve (colour-blind friendly, Okabe & Ito)
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

_FIGSIZE = (7.5, 4.5)


# --- matplotlib, lazily ------------------------------------------------------------------------

def _matplotlib() -> types.ModuleType:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('nnfast.tune plots need matplotlib: pip install "nnfast[tune]"') from exc
    return matplotlib


def _backend_unset(matplotlib: types.ModuleType) -> bool:
    if os.environ.get("MPLBACKEND") or "matplotlib.pyplot" in sys.modules:
        return False
    get = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    if get is not None:
        return get() is None
    from matplotlib import rcsetup
    return dict.__getitem__(matplotlib.rcParams, "backend") is getattr(rcsetup, "_auto_backend_sentinel", None)


def _pyplot() -> types.ModuleType:
    """pyplot, on the Agg backend unless the user chose one."""
    matplotlib = _matplotlib()
    if _backend_unset(matplotlib):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _axes(ax: Optional[Axes], figsize: Tuple[float, float] = _FIGSIZE) -> Tuple[Figure | SubFigure, Axes]:
    """(figure, axes): the given axes' figure, or a new figure through pyplot."""
    if ax is not None:
        return ax.figure, ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _note(ax: Axes, text: str) -> None:
    """A centred message in place of a plot with nothing to show."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#555555", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _integer_ticks(ax: Axes) -> None:
    """Integer ticks on the x axis (its major locator is matplotlib's default, an AutoLocator:
    a MaxNLocator, whose ``integer`` setting the base class's type does not name)."""
    cast("MaxNLocator", ax.xaxis.get_major_locator()).set_params(integer=True)


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(value)
    except TypeError:
        return False


# --- labels --------------------------------------------------------------------------------

_OBJECTIVE_NAMES = {
    "val_accuracy": "validation accuracy (fraction correct)",
    "accuracy": "training accuracy (fraction correct)",
    "val_r2": "validation R² (1 = perfect)",
    "r2": "training R² (1 = perfect)",
    "val_loss": "validation cost",
    "loss": "training cost",
}


def objective_label(objective: str, direction: str = "") -> str:
    """A readable axis label for an objective key such as ``val_accuracy``."""
    name = _OBJECTIVE_NAMES.get(objective, objective or "score")
    better = {"maximize": "higher is better", "minimize": "lower is better"}.get(direction)
    return f"{name}, {better}" if better else name


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)


# --- study plots ---------------------------------------------------------------------------

def plot_history(study: Study, ax: Optional[Axes] = None) -> Figure | SubFigure:
    """Each trial's score by trial number, marked by state, with the best score so far.

    Trials without a score (failed, or diverged before the first epoch) are marked
    along the bottom edge.
    """
    fig, ax = _axes(ax)
    _style(ax, f"{TITLES['history']} — study {study.name!r}", "trial number",
           objective_label(study.objective, study.direction))
    trials = [t for t in study.trials if t.state in _DRAWN_STATES]
    if not trials:
        _note(ax, "no trial has run yet")
        return fig
    unscored: Dict[str, List[int]] = {}
    for state in _DRAWN_STATES:
        colour, marker, label = STATE_STYLES[state]
        scored = [t for t in trials if t.state == state and _finite(t.score)]
        if scored:
            ax.plot([t.number for t in scored], [t.score for t in scored], linestyle="none", marker=marker,
                    markersize=6, color=colour, alpha=0.9 if state == "complete" else 0.7,
                    label=f"{label} ({len(scored)})")
        missing = [t.number for t in trials if t.state == state and not _finite(t.score)]
        if missing:
            unscored[state] = missing
    for state, numbers in unscored.items():
        colour, marker, label = STATE_STYLES[state]
        # x in data coordinates, y just above the bottom of the axes
        ax.plot(numbers, [0.02] * len(numbers), transform=ax.get_xaxis_transform(), linestyle="none",
                marker=marker, markersize=7, color=colour, clip_on=False,
                label=f"{label}, no score ({len(numbers)})")
    complete = sorted((t for t in trials if t.state == "complete" and _finite(t.score)), key=lambda t: t.number)
    if complete:
        best: Optional[float] = None
        xs: List[int] = []
        ys: List[float] = []
        for t in complete:
            if best is None or study.sign * t.score > study.sign * best:
                best = t.score
            xs.append(t.number)
            ys.append(best)
        last = max(t.number for t in trials)
        if last > xs[-1]:
            xs.append(last)
            ys.append(ys[-1])
        ax.plot(xs, ys, drawstyle="steps-post", color="#222222", linewidth=1.6,
                label=f"best so far ({ys[-1]:.4g})")
    _clip_r2(ax, study, [t.score for t in trials if _finite(t.score)])
    _integer_ticks(ax)
    ax.legend(loc="best", fontsize=9, frameon=False)
    return fig


def _clip_r2(ax: Axes, study: Study, scores: List[float]) -> None:
    """R^2 has no lower bound: keep a hopeless trial from flattening the others (below -1 is off the axes)."""
    if study.objective.endswith("r2") and scores and min(scores) < -1.0:
        ax.set_ylim(-1.05, max(1.0, max(scores)) + 0.05)
        hidden = sum(1 for v in scores if v < -1.0)
        ax.text(0.99, 0.06, f"{hidden} score{'s' if hidden > 1 else ''} below −1 not shown", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=8, color="#777777")


def _top(study: Study, top: int) -> List[TrialRecord]:
    scored = [t for t in study.trials if t.state == "complete" and _finite(t.score)]
    return sorted(scored, key=lambda t: (-study.sign * t.score, t.seconds))[:max(0, int(top))]


def plot_curves(study: Study, top: int = 5, ax: Optional[Axes] = None) -> Figure | SubFigure:
    """Training (dashed) and validation (solid) cost per epoch of the ``top`` completed
    trials, one colour per trial."""
    from matplotlib.lines import Line2D

    fig, ax = _axes(ax)
    _style(ax, f"{TITLES['curves']} — top {top} of study {study.name!r}", "epoch",
           "cost (mean loss + penalty)")
    chosen = _top(study, top)
    if not chosen:
        _note(ax, "no completed trial to show")
        return fig
    positive = True
    for i, t in enumerate(chosen):
        colour = _PALETTE[i % len(_PALETTE)]
        label: Optional[str] = f"trial {t.number}: {t.score:.4g}"
        val = t.history.get("val_loss") or []
        loss = t.history.get("loss") or []
        if val:
            ax.plot(range(1, len(val) + 1), val, color=colour, linewidth=1.8, label=label)
            label = None
        if loss:
            ax.plot(range(1, len(loss) + 1), loss, color=colour, linewidth=1.2, linestyle="--", label=label)
        positive = positive and all(v > 0 for v in (*val, *loss) if _finite(v))
    if positive:
        ax.set_yscale("log")
        ax.set_ylabel("cost (mean loss + penalty, log scale)")
    _integer_ticks(ax)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="#555555", linewidth=1.8), Line2D([], [], color="#555555", linestyle="--")]
    labels += ["validation (solid)", "training (dashed)"]
    ax.legend(handles, labels, loc="best", fontsize=9, frameon=False,
              title=objective_label(study.objective), title_fontsize=8)
    return fig


def plot_pareto(study: Study, ax: Optional[Axes] = None) -> Figure | SubFigure:
    """Score against training time (log scale) of every scored trial, with the Pareto
    front: the trials no other trial beats on both."""
    fig, ax = _axes(ax)
    _style(ax, f"{TITLES['pareto']} — study {study.name!r}", "training time (seconds, log scale)",
           objective_label(study.objective, study.direction))
    trials = [t for t in study.trials if t.state in _DRAWN_STATES and _finite(t.score)
              and _finite(t.seconds) and t.seconds > 0]
    if not trials:
        _note(ax, "no scored trial to show")
        return fig
    for state in _DRAWN_STATES:
        group = [t for t in trials if t.state == state]
        if group:
            colour, marker, label = STATE_STYLES[state]
            ax.plot([t.seconds for t in group], [t.score for t in group], linestyle="none", marker=marker,
                    color=colour, alpha=0.55 if state == "complete" else 0.45, markersize=6,
                    label=f"{label} ({len(group)})")
    front = [t for t in study.pareto() if _finite(t.seconds) and t.seconds > 0]
    if front:
        xs = [t.seconds for t in front]
        ys = [t.score for t in front]
        right = max(t.seconds for t in trials)
        ax.plot(xs + ([right] if right > xs[-1] else []), ys + ([ys[-1]] if right > xs[-1] else []),
                drawstyle="steps-post", color="#D55E00", linewidth=1.8, marker="o", markevery=list(range(len(xs))),
                markersize=8, markerfacecolor="none", markeredgewidth=1.6,
                label=f"Pareto front ({len(front)} trials)")
        for t in front:
            ax.annotate(f"#{t.number}", (t.seconds, t.score), textcoords="offset points", xytext=(5, 4),
                        fontsize=8, color="#D55E00")
    ax.set_xscale("log")
    _clip_r2(ax, study, [t.score for t in trials])
    ax.legend(loc="best", fontsize=9, frameon=False)
    return fig


def plot_importances(study: Study, ax: Optional[Axes] = None) -> Figure | SubFigure:
    """How much each searched hyperparameter explains the score, as horizontal bars."""
    importances = study.importances()
    fig, ax = _axes(ax, (7.5, max(2.5, 0.45 * len(importances) + 1.5)))
    _style(ax, f"{TITLES['importances']} — study {study.name!r}", "importance (PED-ANOVA, share of the total)",
           "hyperparameter")
    if not importances:
        _note(ax, "importances need at least 4 completed trials\nthat differ in their searched values")
        return fig
    ranked = sorted(importances.items(), key=lambda kv: kv[1])  # the largest on top
    names = [name for name, _ in ranked]
    values = [value for _, value in ranked]
    bars = ax.barh(range(len(names)), values, color="#0072B2", height=0.6)
    ax.set_yticks(range(len(names)), names)
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3, fontsize=8)
    ax.set_xlim(0, max(1.0, max(values) * 1.12))
    ax.grid(False, axis="y")
    return fig


# --- learning-rate tools -------------------------------------------------------------------

def plot_lr_range(result: LRRangeTest, ax: Optional[Axes] = None) -> Figure | SubFigure:
    """Batch cost against learning rate (log scale), raw and smoothed, with the
    suggested rate, the largest falling rate and the blow-up rate marked."""
    import numpy as np

    fig, ax = _axes(ax)
    _style(ax, TITLES["lr_range"], "learning rate (log scale)", "training cost per batch")
    lrs = np.asarray(result.lrs, dtype=float)
    costs = np.asarray(result.costs, dtype=float)
    smoothed = np.asarray(result.smoothed, dtype=float)
    ax.plot(lrs, costs, color="#9ecae1", linewidth=0.9, label="cost per batch")
    ax.plot(lrs, smoothed, color="#08519c", linewidth=2.0, label="smoothed")
    marks = [("suggested", result.suggested, "#009E73", "-"),
             ("falls until", result.falls_until, "#E69F00", "--"),
             ("blows up at", result.blows_up_at, "#D55E00", ":")]
    for label, lr, colour, style in marks:
        if lr is not None:
            ax.axvline(lr, color=colour, linestyle=style, linewidth=1.5, label=f"{label} {lr:.2g}")
    ax.set_xscale("log")
    good = smoothed[np.isfinite(smoothed)]
    if good.size:
        # From a little below the lowest cost to a little above the highest smoothed cost
        # before it: the plateau of small rates (which may rise above the starting cost)
        # and the fall stay in view whole; the blow-up after the lowest point is cut off,
        # as it would flatten the rest. A curve that rose from the start is shown whole.
        raw = costs[: good.size][np.isfinite(costs[: good.size])]
        low = float(min(good.min(), raw.min() if raw.size else good.min()))
        lowest = int(np.argmin(good))
        high = float(good[: lowest + 1].max()) if lowest > 0 else float(good.max())
        high = high + 0.25 * max(high - low, abs(high) * 0.05, 1e-12)
        margin = 0.05 * (high - low)
        ax.set_ylim(max(0.0, low - margin) if low >= 0 else low - margin, high)
    ax.legend(loc="lower left", fontsize=9, frameon=False)
    return fig


def _series(history: Union[History, Mapping[str, Any]], key: str) -> List[float]:
    try:
        values = history[key]
    except (KeyError, TypeError):
        return []
    return list(values) if values is not None else []


def plot_comparison(comparison: Comparison, ax: Optional[Axes] = None) -> Figure | SubFigure:
    """The training cost curves (solid) and validation cost curves (dashed, when
    recorded) of each value tried, labelled with the value and its verdict."""
    from matplotlib.lines import Line2D

    fig, ax = _axes(ax)
    _style(ax, f"{TITLES['comparison']} {comparison.name}", "epoch (0 = before training)",
           "cost (mean loss + penalty)")
    positive, any_val = True, False
    ceiling: List[float] = []
    for i, (value, history, verdict) in enumerate(zip(comparison.values, comparison.histories, comparison.verdicts)):
        colour = _PALETTE[i % len(_PALETTE)]
        start: Optional[float] = getattr(history, "initial_loss", None)
        if start is None and isinstance(history, dict):
            start = history.get("initial_loss")
        head = [start] if start is not None and _finite(start) else []
        offset = 0 if head else 1
        loss = head + _series(history, "loss")
        short = sum(1 for v in loss if _finite(v)) < 3  # a curve cut short still shows its points
        ax.plot(range(offset, offset + len(loss)), loss, color=colour, linewidth=1.8, marker="o" if short else None,
                markersize=4, label=f"{comparison.name}={_format_value(value)}: {verdict}")
        diverged = getattr(history, "diverged_epoch", None)
        if diverged is None and isinstance(history, dict):
            diverged = history.get("diverged_epoch")
        if diverged is not None:  # where the cost blew up, on the top edge
            ax.plot([diverged + 1], [0.97], transform=ax.get_xaxis_transform(), linestyle="none", marker="X",
                    markersize=9, color=colour, clip_on=False)
        val = _series(history, "val_loss")
        if val:
            any_val = True
            ax.plot(range(1, len(val) + 1), val, color=colour, linewidth=1.2, linestyle="--")
        finite = [v for v in (*loss, *val) if _finite(v)]
        positive = positive and all(v > 0 for v in finite)
        if head:
            ceiling.append(head[0])
    if positive and comparison.histories:
        ax.set_yscale("log")
        ax.set_ylabel("cost (mean loss + penalty, log scale)")
    if ceiling:  # keep an exploding curve from flattening the others
        low, high = ax.get_ylim()
        ax.set_ylim(low, min(high, 10 * max(ceiling)) if positive else min(high, 3 * max(ceiling)))
    _integer_ticks(ax)
    handles, labels = ax.get_legend_handles_labels()
    if any_val:
        handles += [Line2D([], [], color="#555555", linewidth=1.8), Line2D([], [], color="#555555", linestyle="--")]
        labels += ["training (solid)", "validation (dashed)"]
    ax.legend(handles, labels, loc="best", fontsize=9, frameon=False)
    return fig
