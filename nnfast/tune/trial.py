"""One trial, as a worker runs it: plain data in, plain data out, no storage.

The driver sends a :class:`TrialSpec` (hyperparameters, data, and the pruning thresholds
of the moment) to any executor; :func:`run_trial` trains and returns a
:class:`TrialResult`. Workers keep no state, so threads, processes and Dask clusters run
trials alike.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..callbacks import Callback
from ..hyperparams import Hyperparameters
from ..training import train

#: how a trial ended ("interrupted": stopped by the driver, not recorded)
STATES = ("complete", "pruned", "diverged", "failed", "interrupted")


@dataclass
class TrialSpec:
    number: int
    hyperparameters: Dict[str, Any]
    train: Tuple[np.ndarray, np.ndarray]
    validation: Tuple[np.ndarray, np.ndarray]
    #: the per-epoch value the study optimises, e.g. "val_accuracy"; and +1 to maximise, -1 to minimise
    objective: str = "auto"
    sign: float = 1.0
    #: per epoch, the median of completed trials' best objective so far: prune below it
    thresholds: List[float] = field(default_factory=list)
    warmup_epochs: int = 5


@dataclass
class TrialResult:
    number: int
    state: str
    score: float = math.nan          # the objective's mean over the final epochs (see run_trial)
    score_loss: float = math.nan     # the validation cost's mean over the same epochs (breaks ties)
    objective: str = ""
    seconds: float = 0.0             # training wall time
    epochs: int = 0
    stop_reason: str = ""
    history: Dict[str, Any] = field(default_factory=dict)
    intermediate: List[float] = field(default_factory=list)  # the objective per epoch
    error: str = ""


#: a trial's score is the mean of its objective over this many final epochs (fewer if it ran fewer)
SCORE_EPOCHS = 5


class TrialMonitor(Callback):
    """Watches a trial on the study's validation data, which never steers its training:
    evaluates the model there after every epoch, and stops a trial whose best objective
    so far is below the median of completed trials' best at the same epoch (after a
    warm-up); the thresholds come with the trial.

    Training keys (``loss``, ``accuracy``, ...) are read from the run's history; ``val_*``
    keys are the study's validation data (the rows ``validation_split`` holds out for
    early stopping are the run's own affair, recorded as ``holdout_*``).
    """

    stop_reason = "pruned"

    def __init__(self, key: str, sign: float, thresholds: List[float], warmup_epochs: int,
                 validation: Tuple[np.ndarray, np.ndarray], stop: Optional[threading.Event] = None) -> None:
        self.key, self.sign, self.thresholds, self.warmup = key, sign, thresholds, warmup_epochs
        self.X, self.y = validation
        self.stop = stop
        self.series: Dict[str, List[float]] = {}
        self._best = -math.inf

    def value(self, history, name: str) -> List[float]:
        """The per-epoch values of ``name``: one per epoch of ``history`` (NaN for an epoch
        that ended training before it was watched, such as a diverged one)."""
        if not name.startswith("val_"):
            return history[name]
        values = self.series.get(name, [])
        return values + [math.nan] * (history.epochs - len(values))

    def on_epoch_end(self, model, epoch, history) -> Optional[bool]:
        if self.stop is not None and self.stop.is_set():  # the driver is stopping: end here, unrecorded
            self.stop_reason = "interrupted"
            return True
        for name, value in model.evaluate(self.X, self.y).items():
            self.series.setdefault("val_" + name, []).append(float(value))
        values = self.value(history, self.key)
        value = self.sign * values[-1]
        self._best = max(self._best, value)
        if epoch + 1 < self.warmup or epoch >= len(self.thresholds) or math.isnan(self.thresholds[epoch]):
            return None
        return self._best < self.sign * self.thresholds[epoch]


def objective_key(hp: Hyperparameters, y: Any, objective: str) -> Tuple[str, float]:
    """The history key a study optimises and its sign: "auto" is the validation accuracy
    for classification and R^2 for regression, both maximised; keys ending in loss are
    minimised. The task is the one ``nnfast.train(hp, X, y)`` decides (``hp.task``,
    ``hp.loss`` or what ``task="auto"`` reads from y)."""
    metric = "accuracy" if hp.resolve_task(y, warn=False).task == "classification" else "r2"
    if objective == "auto":
        objective = "val_" + metric
    valid = ("val_" + metric, "val_loss", metric, "loss")
    if objective not in valid:
        raise ValueError(f"unknown objective {objective!r} for these targets; valid: {', '.join(valid)}")
    return objective, (-1.0 if objective.endswith("loss") else 1.0)


def _final_mean(values: List[float]) -> float:
    tail = [v for v in values[-SCORE_EPOCHS:] if not math.isnan(v)]
    return float(np.mean(tail)) if tail else math.nan


def run_trial(spec: TrialSpec, stop: Optional[threading.Event] = None) -> TrialResult:
    """Train one configuration on the spec's training data, as ``nnfast.train(hp, X, y)``
    would, watch it on the validation data, and report how it went.

    The validation data never steers the training (early stopping, if the configuration
    has it, watches the training cost or the rows ``validation_split`` holds out of the
    training data), so the trial's score is an honest estimate: the mean of the objective
    over the last :data:`SCORE_EPOCHS` epochs, where the run has settled, rather than the
    best epoch picked on the same data. ``stop``, when set, ends the run at the next epoch
    (state "interrupted"). A divergence is the trial's state, not a warning: the caller
    filters :class:`~nnfast.DivergenceWarning` (warning filters are the process's, so a
    trial thread cannot do it for itself).
    """
    result = TrialResult(number=spec.number, state="failed", objective=spec.objective)
    start = time.perf_counter()
    try:
        hp = Hyperparameters.from_dict(spec.hyperparameters)
        monitor = TrialMonitor(spec.objective, spec.sign, spec.thresholds, spec.warmup_epochs, spec.validation,
                               stop)
        model, history = train(hp, *spec.train, callbacks=[monitor], verbose=False)
    except Exception as exc:  # a failed trial is recorded with its error; the study goes on
        result.seconds = time.perf_counter() - start
        result.error = f"{type(exc).__name__}: {exc}"
        result.history = {"traceback": traceback.format_exc(limit=6)}
        return result
    result.seconds = time.perf_counter() - start
    if history.stop_reason == "interrupted":
        result.state = result.stop_reason = "interrupted"
        return result
    recorded = [k for k in history.keys() if k not in ("lr", "time")] + [f"val_{k}" for k in (history.metric, "loss")]
    if spec.objective not in recorded:
        result.error = (f"the run records no {spec.objective!r}, the study's objective: this configuration trains "
                        f"with loss {model.loss!r}, which records {', '.join(recorded)}")
        return result
    record = history.to_dict()
    for name in [k for k in record if k.startswith("val_")]:  # the run's own held-out rows
        record["holdout_" + name[4:]] = record.pop(name)
    record.update({name: monitor.value(history, name) for name in monitor.series})
    result.history = record
    result.epochs = history.epochs
    result.stop_reason = history.stop_reason
    result.intermediate = [float(v) for v in monitor.value(history, spec.objective)]
    result.score = _final_mean(result.intermediate)
    result.score_loss = _final_mean(monitor.series.get("val_loss", []))
    result.state = {"diverged": "diverged", "pruned": "pruned"}.get(history.stop_reason, "complete")
    if result.state == "complete" and math.isnan(result.score):
        result.state = "failed"
        result.error = f"the objective {spec.objective!r} is NaN in each of the last {SCORE_EPOCHS} epochs"
    return result
