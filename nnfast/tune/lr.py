"""Learning-rate tools: the range test and side-by-side comparison of values.

Start from the largest learning rate at which the cost still falls, then step down over
time; a rate too small learns slowly, one too large oscillates or diverges. These two
tools show which is which from the cost curves themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _silence
from ..callbacks import History
from ..diagnosis import RISE_FLOOR, diagnose
from ..hyperparams import Hyperparameters
from ..training import _check_record, build_model, train
from ..losses import LOSSES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["lr_range_test", "LRRangeTest", "compare", "Comparison", "verdict", "VERDICTS"]


@dataclass
class LRRangeTest:
    """The cost of each batch while the learning rate rose geometrically.

    Attributes
    ----------
    lrs, costs, smoothed : ndarray
        The rate of each step, the batch cost before the step, and its exponential
        moving average (bias-corrected).
    falls_until : float
        The largest rate at which the smoothed cost still falls (its minimum).
    suggested : float
        The rate at which the smoothed cost falls fastest (per factor of rate, over
        windows of 5% of the sweep), below ``falls_until``: a good largest rate to
        start training from.
    blows_up_at : float or None
        The rate at which the smoothed cost exceeded ``stop_factor`` times its lowest
        value, or the cost stopped being finite (the sweep ends there); None if neither
        happened within the sweep.
    """

    lrs: np.ndarray
    costs: np.ndarray
    smoothed: np.ndarray
    falls_until: float
    suggested: float
    blows_up_at: Optional[float]

    def plot(self, ax: Optional[Axes] = None) -> Figure | SubFigure:
        """Cost against learning rate (log scale), with the suggestion marked."""
        from .plots import plot_lr_range

        return plot_lr_range(self, ax=ax)


def _smooth(costs: np.ndarray, beta: float) -> np.ndarray:
    out = np.empty_like(costs)
    avg = 0.0
    for i, c in enumerate(costs):
        avg = beta * avg + (1 - beta) * c
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def lr_range_test(hp: Hyperparameters, X: Any, y: Any, *, min_lr: float = 1e-6, max_lr: float = 10.0,
                  steps: int = 200, stop_factor: float = 4.0, beta: float = 0.9,
                  sample_weight: Any = None) -> LRRangeTest:
    """Raise the learning rate from ``min_lr`` to ``max_lr`` over ``steps`` batches of a
    fresh model built from ``hp`` (its optimizer, batch size, penalties, seed), recording
    the cost of each batch. The sweep runs in C++ and stops once the cost blows up.

    ``X`` has shape (n_samples, n_features), ``y`` (n_samples,) or (n_samples, n_outputs), ``sample_weight`` (n_samples,); X is read as ``hp``'s dtype (float32 unless
    ``dtype="float64"``), as :func:`nnfast.train` reads it. The rate rises geometrically,
    ``min_lr * (max_lr / min_lr) ** (i / (steps - 1))`` at batch ``i``; the recorded costs
    are smoothed by an exponential moving average with factor ``beta``, bias-corrected as
    in Adam. The test and its reading (the steepest fall) follow Smith (2017), "Cyclical
    Learning Rates for Training Neural Networks", WACV, https://arxiv.org/abs/1506.01186

    Raises
    ------
    TypeError
        If ``hp`` is not an :class:`~nnfast.Hyperparameters`.
    ValueError
        Unless ``0 < min_lr < max_lr`` with ``max_lr`` finite, ``steps`` is an integer
        >= 20 and ``stop_factor`` > 1; if the cost is NaN or infinite within the first 10
        steps (the sweep started too high: lower ``min_lr``); and for bad X, y or
        ``sample_weight``, as :func:`nnfast.train` raises.

    Examples
    --------
    >>> import nnfast as nf
    >>> from nnfast import tune
    >>> X, y = nf.data.load_digits()
    >>> test = tune.lr_range_test(nf.Hyperparameters(standardize=True), X, y, steps=100)
    >>> 1e-6 < test.suggested < test.falls_until < 10
    True
    """
    _check_record(hp)
    if not 0 < min_lr < max_lr or not math.isfinite(max_lr):
        raise ValueError(f"need 0 < min_lr < max_lr, got {min_lr}, {max_lr}")
    if not isinstance(steps, int) or steps < 20:
        raise ValueError(f"steps must be an integer >= 20, got {steps!r}")
    if not stop_factor > 1:
        raise ValueError("stop_factor must be > 1")
    y = hp.resolve_task(y, stacklevel=2).y  # the task, decided (and said) as nnfast.train decides it
    model, loss = build_model(hp, y)
    X, Y, w, targets = model._prepare(X, y, sample_weight, loss)
    config = hp.optimizer_spec().config(hp.l1, hp.l2, hp.clip_norm)
    model._start(loss, targets, X, config, hp.standardize)
    model._begin(config, fresh=True)
    batch = len(X) if hp.batch_size is None else hp.batch_size
    net = model._net
    assert net is not None  # _prepare built it
    costs = np.asarray(net.lr_sweep(X, Y, w, batch, min_lr, max_lr, steps, LOSSES[loss], stop_factor, beta))
    lrs = min_lr * (max_lr / min_lr) ** (np.arange(len(costs)) / (steps - 1))
    usable = int(np.isfinite(costs).cumprod().sum())  # the sweep ends at the first non-finite cost
    if usable < 10:
        raise ValueError(f"the cost blew up within {usable} steps of lr={min_lr:g}; lower min_lr")
    smoothed = _smooth(costs[:usable], beta)
    lowest = int(np.argmin(smoothed))
    # the steepest fall, measured over windows of 5% of the sweep, skipping its noisy first tenth
    window = max(1, steps // 20)
    first = max(window, steps // 10)
    log_lr = np.log(lrs[:usable])
    ends = np.arange(first, lowest + 1)
    if len(ends):
        slopes = (smoothed[ends] - smoothed[ends - window]) / (log_lr[ends] - log_lr[ends - window])
        end = int(ends[np.argmin(slopes)])
        suggested = float(np.exp(0.5 * (log_lr[end] + log_lr[end - window])))
    else:  # the cost rose from the start: the smallest rate tried is the only safe one
        suggested = float(lrs[0])
    return LRRangeTest(lrs=lrs, costs=costs, smoothed=np.concatenate([smoothed, np.full(len(costs) - usable, np.nan)]),
                       falls_until=float(lrs[lowest]), suggested=min(suggested, float(lrs[lowest])),
                       blows_up_at=float(lrs[-1]) if len(costs) < steps else None)


#: dict: what each verdict of :func:`nnfast.tune.verdict` means, verdict -> its sentence
VERDICTS = {
    "diverging": "the cost exploded or ended above where it started: the rate is too large",
    "oscillating": "the cost rose in a quarter or more of the epochs: the rate is on the large side",
    "overfitting": "the training cost fell, but the validation cost ended far above it or rose from its best: "
                   "the rate lets the model memorise the training data (see nnfast.diagnosis)",
    "too slow": "the cost fell steadily but not even halfway: the rate is too small for this many epochs",
    "good": "the cost fell fast and settled",
}


def verdict(history: History) -> str:
    """Judge a run's cost curves, not the value that made them.

    diverging: training stopped as diverged, or the last cost is above the cost before
    training. oscillating: the cost rose by over 1% (and over 0.1% of the cost before
    training, ``nnfast.diagnosis.RISE_FLOOR``) in at least a quarter of the epoch steps.
    overfitting (with a validation curve): :func:`nnfast.diagnosis.diagnose`
    finds the run overfitting, the validation cost ending far above the training cost
    (a gap over ``GAP_LARGE`` of the cost before training) or rising from its best while
    the training cost falls. too slow: the cost never rose but ended above half the cost
    before training. good: otherwise. The verdicts are :data:`nnfast.tune.lr.VERDICTS`.
    """
    costs = [c for c in history["loss"] if math.isfinite(c)]
    start = history.initial_loss
    if history.stop_reason == "diverged" or not costs or costs[-1] >= start:
        return "diverging"
    steps = list(zip([start] + costs[:-1], costs))
    # a rise: over 1% of the cost before the step, and over RISE_FLOOR of the cost before
    # training (near zero, float noise doubles a cost)
    rises = sum(1 for before, after in steps if after - before > max(0.01 * before, RISE_FLOOR * start))
    if len(steps) >= 4 and rises >= len(steps) / 4:
        return "oscillating"
    if history.get("val_loss") and any(f.kind == "overfitting" for f in diagnose(history)):
        return "overfitting"
    if rises == 0 and costs[-1] > 0.5 * start:
        return "too slow"
    return "good"


@dataclass
class Comparison:
    """The same configuration trained with several values of one hyperparameter."""

    name: str
    values: List[Any]
    histories: List[History]
    verdicts: List[str]
    seconds: List[float] = field(default_factory=list)

    def table(self) -> List[Dict[str, Any]]:
        """One dict per value compared: the value, its verdict, final training cost, epochs, seconds
        and (with validation data) best validation cost."""
        rows = []
        for value, history, v, s in zip(self.values, self.histories, self.verdicts, self.seconds):
            row = {self.name: value, "verdict": v, "final cost": history["loss"][-1], "epochs": history.epochs,
                   "seconds": s}
            if history.validation:
                row["best val cost"] = float(np.nanmin(history["val_loss"])) if history.epochs else math.nan
            rows.append(row)
        return rows

    def __str__(self) -> str:
        lines = [f"{self.name:>12}  {'verdict':<12}  {'final cost':>10}  {'epochs':>6}"]
        for row in self.table():
            lines.append(f"{row[self.name]!s:>12}  {row['verdict']:<12}  {row['final cost']:>10.4g}  {row['epochs']:>6}")
        return "\n".join(lines)

    def plot(self, ax: Optional[Axes] = None) -> Figure | SubFigure:
        """The cost curves overlaid, one per value, labelled with its verdict."""
        from .plots import plot_comparison

        return plot_comparison(self, ax=ax)


def compare(hp: Hyperparameters, name: str, values: Sequence[Any], X: Any, y: Any, *,
            validation: Optional[Tuple[Any, Any]] = None) -> Comparison:
    """Train ``hp`` once per value of the hyperparameter ``name`` and judge each curve.

    Each run is judged by :func:`verdict`: from its training cost curve, and with
    ``validation=(X_val, y_val)`` from its validation cost curve too, so a value whose
    training cost falls fast while the validation cost rises is "overfitting", not
    "good". ``result.histories[i].diagnose()`` gives each run's findings in full.
    ``X`` has shape (n_samples, n_features), ``y`` (n_samples,) or (n_samples, n_outputs); ``validation`` a pair of the same widths.
    Each run reads X as its configuration's dtype (float32 unless ``dtype="float64"``),
    as :func:`nnfast.train` does.

    Raises
    ------
    TypeError
        If ``hp`` is not an :class:`~nnfast.Hyperparameters`, or a value has a type
        the field ``name`` refuses.
    ValueError
        If ``values`` is empty, ``name`` is not a hyperparameter, or a value is outside
        the field's domain (every value is checked before the first run); and for bad
        X, y or ``validation``, as :func:`nnfast.train` raises.

    Examples
    --------
    >>> import nnfast as nf
    >>> from nnfast import tune
    >>> X, y = nf.data.load_digits()
    >>> hp = nf.Hyperparameters(optimizer="sgd", epochs=10, standardize=True)
    >>> result = tune.compare(hp, "lr", [1e-4, 0.05, 20.0], X, y)
    >>> result.verdicts
    ['too slow', 'good', 'diverging']
    """
    _check_record(hp)
    if not values:
        raise ValueError("compare needs at least one value")
    configurations = [hp.replace(**{name: value}) for value in values]  # validates every value first
    histories, verdicts, seconds = [], [], []
    for config in configurations:
        with _silence.silenced():  # a diverging value is a verdict here (in this thread only)
            _, history = train(config, X, y, validation=validation, verbose=False)
        histories.append(history)
        verdicts.append(verdict(history))
        seconds.append(float(sum(history["time"])))
    return Comparison(name, list(values), histories, verdicts, seconds)
