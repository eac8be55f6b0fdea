"""One trial, as a worker runs it: plain data in, plain data out, no storage.

The driver sends a :class:`TrialSpec` (hyperparameters, data, and the pruning thresholds
of the moment) to any executor; :func:`run_trial` trains and returns a
:class:`TrialResult`. Workers keep no state, so threads, processes and Dask clusters run
trials alike.

It lives outside :mod:`nnfast.tune` (whose public name, :mod:`nnfast.tune.trial`, re-exports
it) so that a worker process imports nnfast and this, not Optuna and the whole tuning
package: a spawned worker of ``executor="processes"`` took ~1-2 s to import ``nnfast.tune``.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _silence
from .callbacks import Callback, History, TimeLimit
from .hyperparams import Hyperparameters
from .training import train

if TYPE_CHECKING:
    from .model import Sequential

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
    #: per epoch, the median of completed trials' running average of the objective: prune below it
    thresholds: List[float] = field(default_factory=list)
    warmup_epochs: int = 5
    #: the run's time budget in seconds (stopped after the epoch that passes it), or None
    timeout: Optional[float] = None


@dataclass
class TrialResult:
    number: int
    state: str
    score: float = math.nan          # the objective's mean over the final epochs (see run_trial)
    score_loss: float = math.nan     # the validation cost's mean over the same epochs (breaks ties)
    score_se: float = math.nan       # the standard error of the score (see score_standard_error, merge_folds)
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
    so far is below the median of completed trials' running averages at the same epoch (after a
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

    def value(self, history: History, name: str) -> List[float]:
        """The per-epoch values of ``name``: one per epoch of ``history`` (NaN for an epoch
        that ended training before it was watched, such as a diverged one)."""
        if not name.startswith("val_"):
            return history[name]
        values = self.series.get(name, [])
        return values + [math.nan] * (history.epochs - len(values))

    def on_epoch_end(self, model: Sequential, epoch: int, history: History) -> Optional[bool]:
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


def score_standard_error(model: Sequential, objective: str, score: float, data: Tuple[np.ndarray, np.ndarray]) -> float:
    """The standard error of a trial's score on one set of rows (the validation data for a
    ``val_*`` objective, else the training data), from the trained model's per-sample results.

    - accuracy: the binomial standard error of a proportion ``p`` (the score) over ``n``
      rows, in Agresti and Coull's form ``sqrt(q (1 - q) / (n + 4))`` with
      ``q = (p n + 2) / (n + 4)`` (A. Agresti and B. A. Coull, "Approximate is better than
      'exact' for interval estimation of binomial proportions", The American Statistician
      52, 1998): close to the textbook ``sqrt(p (1 - p) / n)`` for scores inside (0, 1), and
      not 0 at a perfect (or null) score, which a few rows give by chance: 54 rows all
      right and 53 of 54 cannot be told apart;
    - loss: the spread of the per-sample losses over the rows, ``std(l_i) / sqrt(n)`` (the
      standard error of a mean; the losses as in :mod:`nnfast.losses`, the penalty left
      out, which shifts every sample alike);
    - R^2 ``= 1 - mean(a_i) / mean(b_i)`` with ``a_i`` the squared residuals and ``b_i`` the
      squared deviations from the mean target: the delta method for a ratio of means
      (Casella and Berger, *Statistical Inference*, 2nd ed., section 5.5.4), whose
      influence terms are ``z_i = -(a_i - (1 - R^2) b_i) / mean(b_i)``, so the standard error
      is ``std(z_i) / sqrt(n)`` (per output, averaged as R^2 is; NaN for a constant target).

    Returns NaN when it cannot be estimated (fewer than two rows, outputs not finite).
    """
    X, y = data
    n = len(X)
    metric = objective[4:] if objective.startswith("val_") else objective
    if n < 2 or math.isnan(score):
        return math.nan
    if metric == "accuracy":
        q = (min(max(score, 0.0), 1.0) * n + 2.0) / (n + 4.0)
        return math.sqrt(q * (1.0 - q) / (n + 4.0))
    try:
        targets = model._trained_targets()
        Y = np.asarray(targets.transform(y, np.dtype(np.float64)), dtype=np.float64).reshape(n, -1)
        P = np.asarray(model.forward(X), dtype=np.float64).reshape(n, -1)
    except (TypeError, ValueError):
        return math.nan
    if metric == "loss":
        eps = 1e-15
        if model.loss == "mse":
            per_sample = ((P - Y) ** 2).mean(axis=1)
        elif model.loss == "mae":
            per_sample = np.abs(P - Y).mean(axis=1)
        elif model.loss == "binary_cross_entropy":
            Q = np.clip(P, eps, 1 - eps)
            per_sample = -(Y * np.log(Q) + (1 - Y) * np.log1p(-Q)).mean(axis=1)
        else:  # cross_entropy
            per_sample = -(Y * np.log(np.clip(P, eps, 1.0))).sum(axis=1)
        return float(np.std(per_sample, ddof=1) / math.sqrt(n))
    a = (P - Y) ** 2
    b = (Y - Y.mean(axis=0)) ** 2
    mean_b = b.mean(axis=0)
    if not (mean_b > 0).all():
        return math.nan
    r2 = 1.0 - a.mean(axis=0) / mean_b
    z = (-(a - (1.0 - r2) * b) / mean_b).mean(axis=1)
    se = float(np.std(z, ddof=1) / math.sqrt(n))
    return se if math.isfinite(se) else math.nan


def _carried(curves: Sequence[Sequence[Optional[float]]]) -> List[float]:
    """Per epoch, the mean over folds of each fold's value, a fold that ended sooner
    counting with its last value (early stopping keeps that model); NaN values left out."""
    length = max((len(c) for c in curves), default=0)
    if length == 0:
        return []
    table = np.full((len(curves), length), np.nan)
    for i, curve in enumerate(curves):
        if curve:
            values = np.asarray([math.nan if v is None else v for v in curve], dtype=float)
            table[i, :len(values)] = values
            table[i, len(values):] = values[-1]
    with np.errstate(all="ignore"):
        counts = np.sum(~np.isnan(table), axis=0)
        sums = np.nansum(table, axis=0)
    return [float(s / c) if c else math.nan for s, c in zip(sums, counts)]


def merge_folds(number: int, results: List[TrialResult]) -> TrialResult:
    """One trial's result from its ``k`` folds' (in fold order).

    The score is the mean of the folds' scores and ``score_se`` their standard error,
    ``std(scores, ddof=1) / sqrt(k)``: the standard error of a mean of ``k`` values; never
    below ``sqrt(sum(se_i^2)) / k``, what the folds' own standard errors ``se_i`` give for
    their mean (folds that all score 1.0 have no spread, but 1.0 on few rows is not certain). The
    folds' training sets overlap, so their scores are correlated and this underestimates
    the true spread of a cross-validation estimate (Bengio and Grandvalet, "No unbiased
    estimator of the variance of K-fold cross-validation", JMLR 5, 2004); it is the
    estimate in common use (e.g. the "one standard error rule", Hastie, Tibshirani and
    Friedman, *The Elements of Statistical Learning*, 2nd ed., section 7.10).

    The per-epoch curve and history are fold averages (a fold that stopped sooner counting
    with its last value). The state is the worst
    of the folds' (interrupted, failed, diverged, pruned, complete); ``seconds`` is the
    folds' total training time, ``epochs`` the longest fold's; the stop reason the most common
    of the folds' ("timed_out" when any fold timed out); ``history["folds"]`` keeps
    each fold's score, epochs, stop reason and curve (the objective per epoch, None for
    a NaN; pruning compares fold by fold).
    """
    merged = TrialResult(number=number, state="complete", objective=results[0].objective if results else "")
    for state in ("interrupted", "failed", "diverged", "pruned"):
        hit = [r for r in results if r.state == state]
        if hit:
            merged.state = state
            merged.error = hit[0].error
            break
    merged.seconds = float(sum(r.seconds for r in results))
    merged.epochs = max((r.epochs for r in results), default=0)
    reasons = [r.stop_reason for r in results if r.stop_reason]
    merged.stop_reason = ("timed_out" if "timed_out" in reasons else  # any fold cut short: the trial was
                          max(reasons, key=reasons.count) if reasons else "")
    if merged.state == "failed" and any(r.history.get("traceback") for r in results):
        merged.history = {"traceback": next(r.history["traceback"] for r in results if r.history.get("traceback"))}
    else:
        keys = [k for k in results[0].history if all(isinstance(r.history.get(k), list) for r in results)]
        merged.history = {k: _carried([r.history[k] for r in results]) for k in keys}
        # what reading the curves needs besides them (nnfast.diagnosis): why the trial stopped,
        # and the cost before training, which scales every threshold
        merged.history["stop_reason"] = merged.stop_reason
        initial = [r.history.get("initial_loss") for r in results]
        finite = [v for v in initial if isinstance(v, (int, float)) and math.isfinite(v)]
        if len(finite) == len(initial):
            merged.history["initial_loss"] = float(np.mean(finite))
    merged.history["folds"] = [{"score": None if math.isnan(r.score) else r.score,
                                "score_se": None if math.isnan(r.score_se) else r.score_se, "epochs": r.epochs,
                                "stop_reason": r.stop_reason or r.state,
                                "curve": [None if math.isnan(v) else float(v) for v in r.intermediate]}
                               for r in results]
    merged.intermediate = _carried([r.intermediate for r in results])
    if merged.state in ("complete", "pruned", "diverged"):
        scores = np.asarray([r.score for r in results], dtype=float)
        losses = np.asarray([r.score_loss for r in results], dtype=float)
        if not np.isnan(scores).any():
            merged.score = float(scores.mean())
            merged.score_se = float(scores.std(ddof=1) / math.sqrt(len(scores))) if len(scores) > 1 else math.nan
            own = np.asarray([r.score_se for r in results], dtype=float)
            if not np.isnan(own).any() and len(own):
                floor = float(math.sqrt(np.sum(own ** 2)) / len(own))
                merged.score_se = floor if math.isnan(merged.score_se) else max(merged.score_se, floor)
        if not np.isnan(losses).any():
            merged.score_loss = float(losses.mean())
    return merged


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
    (state "interrupted"). A run past ``spec.timeout`` seconds (:class:`~nnfast.TimeLimit`)
    stops after the epoch that passed it, with stop reason "timed_out", and is scored like
    any other (state "complete"): the same mean over its last epochs, the epochs it had. A
    divergence is the trial's state, not a warning: :class:`~nnfast.DivergenceWarning` and
    :class:`~nnfast.TargetWarning` are silenced in the trial's own thread only
    (``nnfast._silence``; a process-wide warning filter silenced other threads too).
    """
    result = TrialResult(number=spec.number, state="failed", objective=spec.objective)
    start = time.perf_counter()
    try:
        hp = Hyperparameters.from_dict(spec.hyperparameters)
        monitor = TrialMonitor(spec.objective, spec.sign, spec.thresholds, spec.warmup_epochs, spec.validation,
                               stop)
        limit = [] if spec.timeout is None else [TimeLimit(spec.timeout)]  # after the monitor: pruning first
        with _silence.silenced():  # divergence is the trial's state, the targets were described once
            model, history = train(hp, *spec.train, callbacks=[monitor, *limit], verbose=False)
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
    result.stop_reason = history.stop_reason or ""  # never None here: a finished fit sets it
    result.intermediate = [float(v) for v in monitor.value(history, spec.objective)]
    result.score = _final_mean(result.intermediate)
    result.score_loss = _final_mean(monitor.series.get("val_loss", []))
    if not math.isnan(result.score):
        result.score_se = score_standard_error(model, spec.objective, result.score,
                                               spec.validation if spec.objective.startswith("val_") else spec.train)
    result.state = {"diverged": "diverged", "pruned": "pruned"}.get(result.stop_reason, "complete")
    if result.state == "complete" and math.isnan(result.score):
        result.state = "failed"
        result.error = f"the objective {spec.objective!r} is NaN in each of the last {SCORE_EPOCHS} epochs"
    return result
