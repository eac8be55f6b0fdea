"""Reading a training run's cost curves: what they tell you and what to do about it.

The rules are the "what to monitor" table of the teaching material nnfast grew out of
(notes on Andrew Ng's *Neural Networks and Deep Learning*, week 4, "Parameters vs
Hyperparameters"), made into numbers, with oscillation (the same notes' "too large:
oscillation or divergence"), the epoch cap and the time budget added:

=====================================  ====================  =====================================
Curve                                  Finding               Action
=====================================  ====================  =====================================
training cost falling                  ``learning``          none: learning is happening
training cost flat                     ``stuck``             a larger learning rate, another
                                                             architecture
training cost rising or not finite     ``diverging``         reduce the learning rate now
training cost going up and down        ``oscillating``       a smaller learning rate, or decay it
train/validation gap small             ``generalising``      none: the model is working
train/validation gap large or growing  ``overfitting``       regularisation, or more data
stopped by the epoch cap, improving    ``epoch_cap``         train longer or raise the rate
stopped by the time budget, improving  ``time_cap``          a larger time budget, or a faster
                                                             configuration
=====================================  ====================  =====================================

Every threshold is a share of the training cost *before training* (``initial_loss``,
for classification about the cost of guessing), so one set of numbers reads curves of
any scale; the exceptions (a step counted as a rise, the validation cost's rise from
its best) are also shares of the cost they compare. The thresholds are module constants,
each with its reason next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Sequence

__all__ = ["Finding", "diagnose", "KINDS", "STUCK_FALL", "RISE_TOLERANCE", "RISE_FLOOR", "DIVERGING_RISE",
           "OSCILLATION_SHARE", "OSCILLATION_MIN_STEPS", "RECENT_EPOCHS", "STILL_IMPROVING", "GAP_LARGE",
           "VALIDATION_RISE"]

#: float: stuck: over the whole run the training cost never got this share of its value before
#: training below it. Mini-batch noise alone moves an epoch's cost by a fraction of a percent;
#: any rate that learns takes far more in its first epoch (digits, SGD: lr 1e-5 falls 0.5% in
#: 10 epochs, lr 1e-2 falls 18% in the first).
STUCK_FALL = 0.01
#: an epoch step counts as a rise when the cost grew by more than this share of the cost
#: before the step (as :func:`nnfast.tune.verdict` counts them): smaller wobbles are noise.
RISE_TOLERANCE = 0.01
#: float: ... and by more than this share of the cost before training: near zero (a training cost
#: of 1e-9 after memorising the data) a cost doubles from float noise, and that is no
#: oscillation. 0.1% of the start is below any rise that matters to the run.
RISE_FLOOR = 0.001
#: float: diverging: the last training cost is this share of the cost before training above the
#: lowest cost so far, and rose in each of the last :data:`RECENT_EPOCHS` epochs. A tenth
#: of the starting cost is a loss of learning nobody mistakes for noise, small enough to
#: catch a divergence well before it reaches the cost it started from.
DIVERGING_RISE = 0.10
#: float: oscillating: the cost rose in at least this share of the epoch steps (and in runs of
#: at least :data:`OSCILLATION_MIN_STEPS` steps, so one bump in a short run does not count).
OSCILLATION_SHARE = 0.25
#: int: oscillating: the fewest epoch steps a run needs before its rises are read as an oscillation.
OSCILLATION_MIN_STEPS = 4
#: int: the window read as "now": the last epochs for the trend at the end of a run and the
#: averages that smooth the epoch-to-epoch noise of the gap (3 epochs: enough to average
#: out one bad epoch, short enough to be the end of a 10-epoch run).
RECENT_EPOCHS = 3
#: float: stopped by the epoch cap (or the time budget) while still improving: the monitored cost (validation when
#: recorded, else training) fell over the last :data:`RECENT_EPOCHS` epochs by more than
#: this share of the cost before training. At 1% per 3 epochs another few dozen epochs
#: would still take a tenth of the starting cost off; below it the run has settled.
STILL_IMPROVING = 0.01
#: float: overfitting: the validation cost ends above the training cost by more than this share
#: of the cost before training (means over the last :data:`RECENT_EPOCHS` epochs); at most
#: this, the gap is small (generalising). On digits, well-tuned runs end with gaps of 2-5%
#: of the starting cost, runs that memorise (few rows, too large a rate) 15-40%.
GAP_LARGE = 0.10
#: float: overfitting as the gap grows: the validation cost's mean over the last
#: :data:`RECENT_EPOCHS` epochs is more than this share above its best such mean, over
#: earlier epochs, while the training cost went on falling. Validation costs of a settled
#: run wander by several percent from epoch to epoch (a single best epoch can lie 10% below
#: its neighbours); means over three epochs against means over three epochs, a tenth above
#: is a trend.
VALIDATION_RISE = 0.10

#: what each finding's kind means
KINDS = {
    "learning": "the training cost is falling: learning is happening",
    "stuck": "the training cost is flat: learning is stuck",
    "diverging": "the training cost is rising or stopped being finite: the learning rate is too large",
    "oscillating": "the training cost goes up and down: the learning rate is on the large side",
    "generalising": "the gap between training and validation cost is small: the model generalises",
    "overfitting": "the gap between training and validation cost is large or growing: the model overfits",
    "epoch_cap": "training stopped at the epoch cap while the cost was still falling",
    "time_cap": "training stopped at its time budget while the cost was still falling",
}

_ADVICE = {
    "learning": "nothing to change: keep going",
    "stuck": "try a larger learning rate (x10) or another architecture",
    "diverging": "reduce the learning rate now (/10)",
    "oscillating": "lower the learning rate (/3) or decay it with a schedule",
    "generalising": "nothing to change: the model is working",
    "overfitting": "add regularisation (l2, dropout), stop earlier (patience) or get more data",
    "epoch_cap": "train longer (more epochs) or raise the learning rate",
    "time_cap": "give it more time (a larger trial_timeout) or make an epoch cheaper (larger batches, a smaller "
                "network)",
}


@dataclass(frozen=True)
class Finding:
    """One thing a run's cost curves show.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    evidence : dict of str to float or int
        The numbers read from the curves that made the finding: costs, shares of the
        cost before training, epochs (counted from 1).
    advice : str
        What to do about it.
    """

    kind: str
    evidence: Dict[str, float] = field(default_factory=dict)
    advice: str = ""

    def __str__(self) -> str:
        numbers = ", ".join(f"{k} {_show(v)}" for k, v in self.evidence.items())
        return f"{self.kind}: {KINDS[self.kind]} ({numbers}); {self.advice}"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _series(curves: Any, key: str) -> List[float]:
    try:
        values = curves[key]
    except (KeyError, TypeError, IndexError):
        return []
    # stored curves (JSON) may hold None where a value was NaN
    return [math.nan if v is None else float(v) for v in values] if values is not None else []


def _attribute(curves: Any, name: str) -> Any:
    if isinstance(curves, Mapping):
        return curves.get(name)
    return getattr(curves, name, None)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def diagnose(curves: Any) -> List[Finding]:
    """Read a run's cost curves and say what they show (see :data:`KINDS`).

    Parameters
    ----------
    curves : History or mapping
        A :class:`nnfast.History`, or its stored form (``History.to_dict()``, a study
        trial's ``history``): the per-epoch training cost ``"loss"``, optionally the
        validation cost ``"val_loss"``, the cost before training ``"initial_loss"`` and
        ``"stop_reason"``.

    Returns
    -------
    list of Finding
        Empty when no training cost was recorded (no epoch run, or a failed trial's
        record). Otherwise, in this order, those that apply: ``diverging``, else ``stuck`` or ``learning``
        (then ``oscillating`` and ``epoch_cap`` or ``time_cap`` when they apply); then, when a validation
        curve was recorded and the run neither diverged nor stuck (a model that learnt
        nothing has no gap worth reading), ``overfitting`` or ``generalising``. A run of
        one epoch with no cost before training has no trend, so only its gap is read.

    Raises
    ------
    TypeError
        If ``curves`` is neither a History nor a mapping.

    Notes
    -----
    ``start`` is the training cost before training (the first epoch's when that was not
    recorded); every threshold is a share of it unless said otherwise.

    - diverging: a training or validation cost is NaN or infinite, the run stopped as
      diverged, the last cost is over ``RISE_TOLERANCE * start`` above start, or it is
      over ``DIVERGING_RISE * start`` above the lowest so far and rose (as oscillating
      counts rises) in each of the last
      :data:`RECENT_EPOCHS` epochs: rising, not going up and down.
    - stuck: the lowest training cost is less than ``STUCK_FALL * start`` below start;
      learning otherwise.
    - oscillating: in at least :data:`OSCILLATION_MIN_STEPS` epoch steps (from the
      cost before training), a share of at least :data:`OSCILLATION_SHARE` rose: by over
      :data:`RISE_TOLERANCE` of the cost before the step and over ``RISE_FLOOR * start``.
    - epoch_cap: the run stopped at its epoch cap and the validation cost (the training
      cost without validation, or with a validation cost of one epoch only) fell by more
      than ``STILL_IMPROVING * start`` over the last :data:`RECENT_EPOCHS` epochs.
    - time_cap: the same, for a run stopped by its time budget (stop reason
      ``"timed_out"``: :class:`nnfast.TimeLimit`, a study's ``trial_timeout``).
    - overfitting: the gap, mean validation minus mean training cost over the last
      :data:`RECENT_EPOCHS` epochs, exceeds ``GAP_LARGE * start``; or that validation
      mean is more than :data:`VALIDATION_RISE` of it above the best mean over as many
      consecutive epochs starting earlier, while the training cost fell (its mean over
      those best epochs is above its recent mean): the gap grows. generalising: neither.

    Examples
    --------
    >>> import nnfast as nf
    >>> history = nf.History("accuracy", max_epochs=4, validation=True)
    >>> history.initial_loss = 2.3
    >>> for train, val in [(1.2, 1.3), (0.6, 0.7), (0.4, 0.5), (0.3, 0.4)]:
    ...     history.append(loss=train, val_loss=val)
    >>> history.stop_reason = "max_epochs"
    >>> [f.kind for f in nf.diagnosis.diagnose(history)]
    ['learning', 'epoch_cap', 'generalising']
    """
    from .callbacks import History

    if not isinstance(curves, (History, Mapping)):
        raise TypeError(f"curves must be a History or a mapping of its curves (History.to_dict()), "
                        f"got {type(curves).__name__}")
    loss = _series(curves, "loss")
    if not loss:
        return []
    val = _series(curves, "val_loss")
    initial = _attribute(curves, "initial_loss")
    initial = float(initial) if initial is not None else math.nan
    stop_reason = _attribute(curves, "stop_reason")
    # the curve from before training when that was measured
    costs = ([initial] if math.isfinite(initial) else []) + loss
    start = costs[0]
    findings: List[Finding] = []

    bad = next((i for i, c in enumerate(loss) if not math.isfinite(c)), None)
    bad_val = next((i for i, c in enumerate(val) if not math.isfinite(c)), None)
    if bad is not None or bad_val is not None or stop_reason == "diverged" or not math.isfinite(start):
        evidence: Dict[str, float] = {"cost_before": start}
        if bad is not None:
            evidence["nonfinite_epoch"] = bad + 1
        if bad_val is not None:
            evidence["nonfinite_val_epoch"] = bad_val + 1
        finite = [c for c in loss if math.isfinite(c)]
        if finite:
            evidence["last_finite_cost"] = finite[-1]
        diverged_epoch = _attribute(curves, "diverged_epoch")
        if diverged_epoch is not None:
            evidence["diverged_epoch"] = int(diverged_epoch) + 1
        findings.append(Finding("diverging", evidence, _ADVICE["diverging"]))
        return findings

    scale = abs(start) if start != 0 else 1.0
    last, lowest = costs[-1], min(costs)
    window = min(RECENT_EPOCHS, len(costs) - 1)
    steps = list(zip(costs[:-1], costs[1:]))
    rose = [after - before > max(RISE_TOLERANCE * abs(before), RISE_FLOOR * scale) for before, after in steps]
    rising = window > 0 and all(rose[-window:])
    if last - start > RISE_TOLERANCE * scale or (last - lowest > DIVERGING_RISE * scale and rising):
        findings.append(Finding("diverging", {"cost_before": start, "lowest_cost": lowest,
                                              "lowest_epoch": costs.index(lowest) + (len(loss) - len(costs)) + 1,
                                              "last_cost": last, "rise_share": (last - lowest) / scale},
                                _ADVICE["diverging"]))
        return findings

    fall = (start - lowest) / scale
    if len(costs) < 2:
        pass  # one epoch and no cost before it: no trend to read
    elif fall < STUCK_FALL:
        findings.append(Finding("stuck", {"cost_before": start, "lowest_cost": lowest, "last_cost": last,
                                          "fall_share": fall, "epochs": len(loss)}, _ADVICE["stuck"]))
    else:
        findings.append(Finding("learning", {"cost_before": start, "last_cost": last,
                                             "fall_share": (start - last) / scale, "epochs": len(loss)},
                                _ADVICE["learning"]))

    rises = sum(rose)
    if len(steps) >= OSCILLATION_MIN_STEPS and rises >= OSCILLATION_SHARE * len(steps):
        findings.append(Finding("oscillating", {"rises": rises, "steps": len(steps), "rise_share": rises / len(steps)},
                                _ADVICE["oscillating"]))

    watched, name = (val, "val_cost") if len(val) > 1 else (costs, "cost")
    window = min(RECENT_EPOCHS, len(watched) - 1)
    cap = {"max_epochs": "epoch_cap", "timed_out": "time_cap"}.get(stop_reason)
    if cap is not None and window > 0:
        recent_fall = (watched[-1 - window] - watched[-1]) / scale
        if recent_fall > STILL_IMPROVING:
            findings.append(Finding(cap, {"epochs": len(loss), "window": window,
                                          f"{name}_before_window": watched[-1 - window],
                                          f"last_{name}": watched[-1], "fall_share": recent_fall},
                                    _ADVICE[cap]))

    if val and not (findings and findings[0].kind == "stuck"):  # nothing learnt: no gap worth reading
        findings.append(_gap(loss[-len(val):], val, start, scale))
    return findings


def _gap(loss: List[float], val: List[float], start: float, scale: float) -> Finding:
    """The train/validation gap finding, from the epochs with both costs."""
    recent = min(RECENT_EPOCHS, len(val))
    train_now, val_now = _mean(loss[-recent:]), _mean(val[-recent:])
    gap = (val_now - train_now) / scale
    evidence: Dict[str, float] = {"train_cost": train_now, "val_cost": val_now, "gap_share": gap}
    # the best stretch of the validation curve, as a mean over as many epochs as "now" is,
    # so that one lucky epoch is not taken for its best
    means = [_mean(val[i:i + recent]) for i in range(len(val) - recent + 1)]
    best = min(range(len(means)), key=means.__getitem__)
    rise = (val_now - means[best]) / abs(means[best]) if means[best] != 0 else 0.0
    growing = (best < len(means) - 1 and rise > VALIDATION_RISE
               and train_now < _mean(loss[best:best + recent]))
    if growing:
        evidence.update({"best_val_cost": means[best], "best_val_from_epoch": best + 1, "val_rise_share": rise})
    if gap > GAP_LARGE or growing:
        return Finding("overfitting", evidence, _ADVICE["overfitting"])
    return Finding("generalising", evidence, _ADVICE["generalising"])
