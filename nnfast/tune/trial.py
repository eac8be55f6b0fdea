"""One trial, as a worker runs it: plain data in, plain data out, no storage.

The driver sends a :class:`TrialSpec` (hyperparameters, data, and the pruning thresholds
of the moment) to any executor; :func:`run_trial` trains and returns a
:class:`TrialResult`. Workers keep no state, so threads, processes and Dask clusters run
trials alike.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..callbacks import Callback, DivergenceWarning
from ..hyperparams import Hyperparameters, train

#: how a trial ended
STATES = ("complete", "pruned", "diverged", "failed")


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
    score: float = math.nan          # the objective of the model the trial ends with
    objective: str = ""
    seconds: float = 0.0             # training wall time
    epochs: int = 0
    stop_reason: str = ""
    history: Dict[str, Any] = field(default_factory=dict)
    intermediate: List[float] = field(default_factory=list)  # the objective per epoch
    error: str = ""


class MedianPruning(Callback):
    """Stops a trial whose best objective so far is below the median of completed trials'
    best at the same epoch (after a warm-up); the thresholds come with the trial."""

    stop_reason = "pruned"

    def __init__(self, key: str, sign: float, thresholds: List[float], warmup_epochs: int) -> None:
        self.key, self.sign, self.thresholds, self.warmup = key, sign, thresholds, warmup_epochs
        self._best = -math.inf

    def on_epoch_end(self, model, epoch, history) -> Optional[bool]:
        value = self.sign * history[self.key][-1]
        self._best = max(self._best, value)
        if epoch + 1 < self.warmup or epoch >= len(self.thresholds) or math.isnan(self.thresholds[epoch]):
            return None
        return self._best < self.sign * self.thresholds[epoch]


def objective_key(hp: Hyperparameters, y: Any, objective: str) -> Tuple[str, float]:
    """The history key a study optimises and its sign: "auto" is the validation accuracy
    for classes and R^2 for real values, both maximised; keys ending in loss are minimised."""
    if objective == "auto":
        loss = hp.resolve_loss(y)
        objective = "val_accuracy" if loss in ("cross_entropy", "binary_cross_entropy") else "val_r2"
    return objective, (-1.0 if objective.endswith("loss") else 1.0)


def run_trial(spec: TrialSpec) -> TrialResult:
    """Train one configuration on the spec's data and report how it went."""
    result = TrialResult(number=spec.number, state="failed", objective=spec.objective)
    start = time.perf_counter()
    try:
        hp = Hyperparameters.from_dict(spec.hyperparameters)
        pruning = MedianPruning(spec.objective, spec.sign, spec.thresholds, spec.warmup_epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)  # recorded as the trial's state instead
            model, history = train(hp, *spec.train, validation=spec.validation, callbacks=[pruning], verbose=False)
    except Exception as exc:  # a failed trial is recorded with its error; the study goes on
        result.seconds = time.perf_counter() - start
        result.error = f"{type(exc).__name__}: {exc}"
        result.history = {"traceback": traceback.format_exc(limit=6)}
        return result
    result.seconds = time.perf_counter() - start
    result.history = history.to_dict()
    result.epochs = history.epochs
    result.stop_reason = history.stop_reason
    values = history.get(spec.objective)
    if values is None:
        result.error = f"the run records no {spec.objective!r}; recorded: {', '.join(history.keys())}"
        return result
    result.intermediate = [float(v) for v in values]
    good = [v for v in result.intermediate if not math.isnan(v)]
    if history.best_epoch is not None:
        result.score = result.intermediate[history.best_epoch]
    elif good:
        result.score = good[-1]
    result.state = {"diverged": "diverged", "pruned": "pruned"}.get(history.stop_reason, "complete")
    return result
