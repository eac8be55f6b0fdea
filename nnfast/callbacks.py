"""What happens between epochs: the history, early stopping, progress, user callbacks."""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Any, Dict, KeysView, List, Optional, Protocol

import numpy as np

from ._settings import IMPROVEMENT_OVER
from ._validation import check_float, check_int, check_name

if TYPE_CHECKING:  # pragma: no cover
    from .diagnosis import Finding
    from .model import Sequential  # which imports this module

__all__ = ["History", "Callback", "EarlyStopping", "TimeLimit", "ProgressBar", "DivergenceWarning",
           "LearningRateWarning", "STOP_REASONS"]

#: dict: why training stopped, ``History.stop_reason`` -> the sentence :attr:`nnfast.History.message` gives
STOP_REASONS = {
    "max_epochs": "ran every epoch",
    "early_stopped": "the monitored cost stopped improving",
    "diverged": "the cost, parameters or outputs became non-finite, or the cost exploded; weights whose cost "
                "was measured finite were restored",
    "callback": "a callback asked to stop",
    "lr_underflow": "the schedule's learning rate became 0 or subnormal in the model's dtype (a LearningRateWarning "
                    "said so): the weights would no longer move",
    "interpreter_exit": "the Python interpreter was exiting: the epoch stopped after its current batch",
    "timed_out": "the run's time budget ran out (TimeLimit, a study's trial_timeout): it stopped after the epoch "
                 "that passed it",
}


class LearningRateWarning(RuntimeWarning):
    """Training stopped because the schedule's learning rate became 0 or subnormal in the
    model's dtype (a plateau schedule without ``min_lr``)."""


class DivergenceWarning(RuntimeWarning):
    """Training diverged: the cost, the parameters or the outputs on the training data
    became NaN or infinite, or the cost exploded. The message says when and which weights
    were restored (see :meth:`nnfast.Sequential.fit`)."""


class History:
    """Per-epoch record of a training run.

    ``history["loss"]``, ``history["val_loss"]``, ``history[metric]`` and
    ``history["val_" + metric]`` (``metric`` is ``"accuracy"`` or ``"r2"``), ``history["lr"]``
    and ``history["time"]`` (seconds per epoch) are lists with one entry per epoch run.
    The cost is the one the optimizer minimises: the mean loss plus any l1/l2 penalty.
    ``stop_reason`` says why training stopped (see :data:`nnfast.callbacks.STOP_REASONS`); ``task`` is
    ``"classification"`` or ``"regression"``, as the run decided it (what ``task="auto"``
    chose, for instance).
    """

    def __init__(self, metric: str, max_epochs: int, validation: bool, task: Optional[str] = None) -> None:
        self.metric = metric
        self.task = task if task is not None else ("classification" if metric == "accuracy" else "regression")
        self.max_epochs = max_epochs
        self.validation = validation
        keys = ["loss", metric]
        if validation:
            keys += ["val_loss", "val_" + metric]
        self._data: Dict[str, List[float]] = {k: [] for k in (*keys, "lr", "time")}
        self.stop_reason: Optional[str] = None
        self.best_epoch: Optional[int] = None
        self.initial_loss: float = math.nan
        self.diverged_epoch: Optional[int] = None

    def append(self, **values: float) -> None:
        """Record one epoch: each named series gets its value, the others NaN."""
        for key, series in self._data.items():
            series.append(float(values.get(key, math.nan)))

    def __getitem__(self, key: str) -> List[float]:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        """The series ``key`` (a list of floats, one per epoch), or ``default``."""
        return self._data.get(key, default)

    def keys(self) -> KeysView[str]:
        """The names of the recorded series (``loss``, ``accuracy`` or ``r2``, ``lr``, ``time``, ``val_*``)."""
        return self._data.keys()

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self._data["loss"])

    @property
    def monitor(self) -> str:
        """str: the cost early stopping reads: ``"val_loss"`` with validation data, else ``"loss"``."""
        return "val_loss" if self.validation else "loss"

    @property
    def message(self) -> str:
        """Why training stopped, in a sentence (from ``stop_reason``)."""
        return STOP_REASONS.get(self.stop_reason or "", "training has not finished")

    def diagnose(self) -> List["Finding"]:
        """What the cost curves show and what to do about it: learning, stuck, diverging,
        oscillating, generalising, overfitting, stopped at the epoch cap while improving.

        Returns
        -------
        list of :class:`nnfast.diagnosis.Finding`
            Each with ``kind``, ``evidence`` (the numbers read from the curves) and
            ``advice``; the rules and their thresholds are in :func:`nnfast.diagnosis.diagnose`.
        """
        from .diagnosis import diagnose

        return diagnose(self)

    def to_dict(self) -> Dict[str, Any]:
        """Plain data (JSON-ready): the series plus how the run ended."""
        return {"task": self.task, "metric": self.metric, "epochs": self.epochs, "stop_reason": self.stop_reason,
                "best_epoch": self.best_epoch, "initial_loss": self.initial_loss,
                "diverged_epoch": self.diverged_epoch, **{k: list(v) for k, v in self._data.items()}}

    def __repr__(self) -> str:
        last = {k: round(v[-1], 5) for k, v in self._data.items() if v and k != "time"}
        return f"History(task={self.task!r}, epochs={self.epochs}, stop_reason={self.stop_reason!r}, last={last})"


class Callback:
    """Base of between-epoch hooks. Return True from :meth:`on_epoch_end` to stop training."""

    #: recorded as the history's stop_reason when this callback stops training
    stop_reason = "callback"

    def on_train_begin(self, model: Sequential, history: History) -> None:
        """Called once before the first epoch, with the model and its (empty) history."""
        pass

    def on_epoch_end(self, model: Sequential, epoch: int, history: History) -> Optional[bool]:
        """Called after each epoch (0-based ``epoch``), its values in ``history``; True stops training."""
        return None

    def on_train_end(self, model: Sequential, history: History) -> None:
        """Called once when training ends, whatever the reason (``history.stop_reason``)."""
        pass



class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs,
    then restore the weights of the best epoch.

    ``monitor`` defaults to ``"val_loss"``, or ``"loss"`` when there is no validation
    data; names ending in ``loss`` are minimised, others (accuracy, r2) maximised.

    Parameters
    ----------
    patience : int, default 5
        Epochs (>= 1) without an improvement after which training stops.
    min_delta : float, default 0.0
        The smallest change (>= 0) that counts as an improvement, in the units of the
        monitored series: the cost's units for a loss (nats for the cross-entropies, the
        target's units squared for ``mse``), a fraction of the samples for accuracy,
        a fraction of the variance for r2.
    monitor : str, optional
        The history series to watch (``"val_loss"``, ``"val_accuracy"``, ...).
    restore_best : bool, default True
        Put back the parameters of the best epoch when training stops.
    improvement_over : {"last_improvement", "best"}, default "last_improvement"
        What an epoch must beat by ``min_delta`` to count as an improvement.
        ``"last_improvement"`` (Keras's ``EarlyStopping``): the value at the last
        improvement, so gains smaller than ``min_delta`` add up until together they
        count. ``"best"`` (scikit-learn's ``n_iter_no_change`` and ``tol`` in
        ``MLPClassifier``): the best value so far, which follows every new best, so each
        epoch must gain ``min_delta`` on its own and a slow, steady decrease stops
        sooner. The same when ``min_delta`` is 0. Either way the best epoch (whose
        weights are restored) is the one with the best value.

    Raises
    ------
    TypeError, ValueError
        If ``patience`` is not an integer >= 1, ``min_delta`` not a finite number >= 0
        or ``improvement_over`` not one of the two names.
    """

    stop_reason = "early_stopped"

    def __init__(self, patience: int = 5, min_delta: float = 0.0, monitor: Optional[str] = None,
                 restore_best: bool = True, improvement_over: str = "last_improvement") -> None:
        self.patience = check_int(patience, "patience", low=1)
        self.min_delta = check_float(min_delta, "min_delta", low=0.0)
        self.monitor = monitor
        self.restore_best = restore_best
        self.improvement_over = check_name(improvement_over, "improvement_over", IMPROVEMENT_OVER)

    def on_train_begin(self, model: Sequential, history: History) -> None:
        """Start watching ``monitor`` (or ``history.monitor`` when it is None): no best yet.

        Raises
        ------
        ValueError
            If the monitored name is not a series this run records (``"val_loss"``
            without validation data, a metric the task does not have); the message
            lists the recorded ones.
        """
        self._key = self.monitor or history.monitor
        if self._key not in history:
            raise ValueError(f"EarlyStopping monitors {self._key!r}, which this run does not record; "
                             f"recorded: {', '.join(history.keys())}")
        self._sign = 1.0 if self._key.endswith("loss") else -1.0
        self._best = math.inf
        self._waited = 0
        self._weights: Optional[np.ndarray] = None
        self._best_epoch: Optional[int] = None

    def on_epoch_end(self, model: Sequential, epoch: int, history: History) -> Optional[bool]:
        value = self._sign * history[self._key][-1]
        improved = value < self._best - self.min_delta
        # the two rules differ only here: whether a gain smaller than min_delta moves the best
        if improved or (self.improvement_over == "best" and value < self._best):
            self._best, self._best_epoch = value, epoch
            if self.restore_best:
                self._weights = model._flat_params().copy()
        if improved:
            self._waited = 0
            return None
        self._waited += 1
        return self._waited >= self.patience

    def on_train_end(self, model: Sequential, history: History) -> None:
        history.best_epoch = self._best_epoch
        if self.restore_best and self._weights is not None:
            model._flat_params()[:] = self._weights


class TimeLimit(Callback):
    """Stop training at the end of the first epoch that ends ``seconds`` or more after
    training began (``stop_reason`` "timed_out"), unless it is the last epoch of the run
    (then the run ends at its epoch cap, ``stop_reason`` "max_epochs"). The clock is ``time.monotonic`` of the
    process that trains, started in ``on_train_begin``; an epoch is never cut short, so a
    run takes its budget plus at most one epoch.

    Raises
    ------
    ValueError
        If ``seconds`` is not a positive finite number.
    """

    stop_reason = "timed_out"

    def __init__(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.integer, np.floating)) \
                or not 0 < seconds < math.inf:
            raise ValueError(f"seconds must be a positive finite number, got {seconds!r}")
        self.seconds = float(seconds)
        self._deadline = math.inf

    def on_train_begin(self, model: Sequential, history: History) -> None:
        self._deadline = time.monotonic() + self.seconds

    def on_epoch_end(self, model: Sequential, epoch: int, history: History) -> Optional[bool]:
        # the last epoch ends the run anyway: then the epoch cap, not the clock, stopped it
        return time.monotonic() >= self._deadline and epoch + 1 < history.max_epochs


class _Stream(Protocol):
    """Where ProgressBar writes: a text file (one with ``isatty`` is asked whether it is a terminal)."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> None: ...


class ProgressBar(Callback):
    """One line per epoch on a stream (stderr): cost, metric, time; rewritten in place on a terminal.

    Parameters
    ----------
    stream : text file, optional
        Where the lines go (default ``sys.stderr``): anything with ``write(str)`` and
        ``flush()``; one whose ``isatty()`` says it is a terminal gets the line rewritten.
    """

    def __init__(self, stream: Optional[_Stream] = None) -> None:
        self.stream: _Stream = stream or sys.stderr

    def on_train_begin(self, model: Sequential, history: History) -> None:
        self._start = time.perf_counter()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def on_epoch_end(self, model: Sequential, epoch: int, history: History) -> Optional[bool]:
        parts = [f"epoch {epoch + 1}/{history.max_epochs}"]
        for key in history.keys():
            if key not in ("lr", "time"):
                parts.append(f"{key} {history[key][-1]:.4f}")
        parts.append(f"{time.perf_counter() - self._start:.1f}s")
        line = "  ".join(parts)
        self.stream.write(("\r" + line + "\x1b[K") if self._tty else line + "\n")
        self.stream.flush()
        return None

    def on_train_end(self, model: Sequential, history: History) -> None:
        if self._tty:
            self.stream.write(f"\n{history.message}\n")
            self.stream.flush()
