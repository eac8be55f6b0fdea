"""Learning-rate schedules: the rate for each epoch, set between epochs.

Every schedule is a pure function of the epoch (0-based), the base rate and the history
so far, so a run can be replayed and a schedule needs no state of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Union

from ._validation import check_float, check_int

if TYPE_CHECKING:
    from .callbacks import History

__all__ = ["Constant", "Step", "Exponential", "InverseTime", "Cosine", "ReduceOnPlateau", "SCHEDULES",
           "Schedule", "make_schedule"]


@dataclass(frozen=True)
class Constant:
    """The base rate throughout."""

    def lr(self, epoch: int, base_lr: float, history: History) -> float:
        """The learning rate of ``epoch`` (0-based), from the base rate ``base_lr`` and the run's history so far."""
        return base_lr


@dataclass(frozen=True)
class Step:
    """``base_lr * gamma ** (epoch // step_size)``: the rate falls by ``gamma`` every ``step_size`` epochs.

    ``step_size`` is in epochs (int >= 1); ``gamma`` is a factor in (0, 1]. As PyTorch's
    ``StepLR``, https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html

    Raises
    ------
    TypeError, ValueError
        For a ``step_size`` or ``gamma`` of the wrong type or outside its range.
    """

    step_size: int = 10
    gamma: float = 0.1

    def __post_init__(self) -> None:
        check_int(self.step_size, "step_size", low=1)
        check_float(self.gamma, "gamma", low=0.0, high=1.0, low_open=True)

    def lr(self, epoch: int, base_lr: float, history: History) -> float:
        """The learning rate of ``epoch`` (0-based), from the base rate ``base_lr`` and the run's history so far."""
        return base_lr * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class Exponential:
    """``base_lr * gamma ** epoch``: the rate falls by ``gamma`` each epoch.

    ``gamma`` is a factor in (0, 1]. As PyTorch's ``ExponentialLR``,
    https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ExponentialLR.html

    Raises
    ------
    TypeError, ValueError
        For a ``gamma`` of the wrong type or outside (0, 1].
    """

    gamma: float = 0.95

    def __post_init__(self) -> None:
        check_float(self.gamma, "gamma", low=0.0, high=1.0, low_open=True)

    def lr(self, epoch: int, base_lr: float, history: History) -> float:
        """The learning rate of ``epoch`` (0-based), from the base rate ``base_lr`` and the run's history so far."""
        return base_lr * self.gamma**epoch


@dataclass(frozen=True)
class InverseTime:
    """``base_lr / (1 + decay * epoch / step_size)``.

    ``decay`` >= 0 (unitless); ``step_size`` in epochs (int >= 1). As Keras's
    ``InverseTimeDecay`` with ``staircase=False`` (counted in epochs, not steps),
    https://keras.io/api/optimizers/learning_rate_schedules/inverse_time_decay/

    Raises
    ------
    TypeError, ValueError
        For a ``decay`` or ``step_size`` of the wrong type or outside its range.
    """

    decay: float = 1.0
    step_size: int = 1

    def __post_init__(self) -> None:
        check_float(self.decay, "decay", low=0.0)
        check_int(self.step_size, "step_size", low=1)

    def lr(self, epoch: int, base_lr: float, history: History) -> float:
        """The learning rate of ``epoch`` (0-based), from the base rate ``base_lr`` and the run's history so far."""
        return base_lr / (1.0 + self.decay * epoch / self.step_size)


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing from the base rate to ``min_lr`` over ``period`` epochs (default: all).

    ``min_lr + (base_lr - min_lr) * (1 + cos(pi * min(epoch, period) / period)) / 2``: one
    half-cosine without restarts, then ``min_lr``. Loshchilov and Hutter (2017), "SGDR:
    Stochastic Gradient Descent with Warm Restarts", ICLR, eq. 5; as PyTorch's
    ``CosineAnnealingLR``,
    https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingLR.html

    Raises
    ------
    TypeError, ValueError
        For a ``period`` (epochs, int >= 1) or ``min_lr`` (>= 0) of the wrong type or range.
    """

    period: Optional[int] = None
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.period is not None:
            check_int(self.period, "period", low=1)
        check_float(self.min_lr, "min_lr", low=0.0)

    def lr(self, epoch: int, base_lr: float, history: History) -> float:
        """The learning rate of ``epoch`` (0-based), from the base rate ``base_lr`` and the run's history so far."""
        period = self.period or max(history.max_epochs, 1)
        progress = min(epoch, period) / period
        return self.min_lr + (base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class ReduceOnPlateau:
    """Multiply the rate by ``factor`` each time ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs (never below ``min_lr``).

    ``monitor`` is ``"val_loss"`` by default and falls back to ``"loss"`` when training
    has no validation data. ``patience`` is in epochs; ``factor`` in (0, 1); ``min_delta``
    in the units of the monitored cost. As PyTorch's ``ReduceLROnPlateau`` (mode
    ``"min"``, absolute threshold, no cooldown),
    https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html

    Raises
    ------
    TypeError, ValueError
        For a setting of the wrong type or outside its range.
    """

    factor: float = 0.1
    patience: int = 5
    min_lr: float = 0.0
    min_delta: float = 0.0
    monitor: str = "val_loss"

    def __post_init__(self) -> None:
        check_float(self.factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
        check_int(self.patience, "patience", low=1)
        check_float(self.min_lr, "min_lr", low=0.0)
        check_float(self.min_delta, "min_delta", low=0.0)

    def lr(self, epoch: int, base_lr: float, history: History) -> float:
        """The learning rate of ``epoch`` (0-based), from the base rate ``base_lr`` and the run's history so far."""
        values = history.get(self.monitor) or history.get("loss") or []
        rate, best, waited = base_lr, math.inf, 0
        for value in values[:epoch]:
            if value < best - self.min_delta:
                best, waited = value, 0
            else:
                waited += 1
                if waited >= self.patience:
                    rate, waited = max(rate * self.factor, self.min_lr), 0
        return rate


#: the type :func:`make_schedule` returns, any of the schedule specs above
Schedule = Union[Constant, Step, Exponential, InverseTime, Cosine, ReduceOnPlateau]

#: schedule name -> spec class
SCHEDULES: dict[str, type[Schedule]] = {"constant": Constant, "step": Step, "exponential": Exponential,
                                         "inverse_time": InverseTime, "cosine": Cosine, "plateau": ReduceOnPlateau}


def make_schedule(schedule: "str | Schedule") -> Schedule:
    """A schedule from a name (default settings) or a schedule spec.

    Raises
    ------
    TypeError
        If ``schedule`` is neither a string nor one of the schedule specs of
        :data:`SCHEDULES` (:class:`Constant`, :class:`Step`, ...).
    ValueError
        If ``schedule`` is a string that is not a key of :data:`SCHEDULES`; the message
        lists the valid names.
    """
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
        return SCHEDULES[schedule]()
    if isinstance(schedule, (Constant, Step, Exponential, InverseTime, Cosine, ReduceOnPlateau)):  # SCHEDULES' values
        return schedule
    raise TypeError(f"schedule must be a name or an nnfast schedule, got {schedule!r}")
