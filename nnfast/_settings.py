"""The model dtypes, and the check of training settings the core uses in them.

Below both the record (:mod:`nnfast.hyperparams`) and the model (:mod:`nnfast.model`),
which validate the same settings the same way.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._validation import check_for_dtype
from .optimizers import Optimizer
from .schedules import Schedule

#: the most epochs one fit or record may ask for (the largest 32-bit signed integer): more
#: than two billion passes over the data is a mistake (2**70 was taken and ran "forever"),
#: refused by name
MAX_EPOCHS = 2**31 - 1
#: dtype name -> NumPy scalar type of a model's parameters and data
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}

#: what an epoch must beat by ``min_delta`` to count as an improvement (EarlyStopping's
#: ``improvement_over``, Hyperparameters' ``improvement_over``)
IMPROVEMENT_OVER = ("last_improvement", "best")


def check_settings_for_dtype(dtype: str, optimizer: Optimizer, l1: float = 0.0, l2: float = 0.0,
                             clip_norm: Optional[float] = None, schedule: Optional[Schedule] = None) -> None:
    """Refuse training settings that become 0, subnormal or infinite in ``dtype``, where the
    core's optimizer step uses them (e.g. ``eps=1e-300`` is 0 in float32).

    Raises
    ------
    ValueError
        Naming the setting and the smallest or largest value that works.
    """
    optimizer.check_dtype(DTYPES[dtype])
    for name, value in (("l1", l1), ("l2", l2), ("clip_norm", clip_norm or 0.0),
                        ("min_lr", getattr(schedule, "min_lr", 0.0))):
        check_for_dtype(value, name, DTYPES[dtype])


def lr_problem(lr: float, dtype: str) -> Optional[str]:
    """What is wrong with learning rate ``lr`` in ``dtype`` (0, subnormal or infinite there), or None."""
    try:
        check_for_dtype(lr, "lr", DTYPES[dtype])
    except ValueError as exc:
        return str(exc).split(";")[0].replace("lr=", "", 1)
    return f"{lr!r} is 0" if lr == 0 else None


def check_schedule_for_dtype(dtype: str, schedule: Schedule, base_lr: float, first_epoch: int, epochs: int) -> None:
    """Refuse a schedule whose learning rate, in one of the epochs ``first_epoch`` to
    ``first_epoch + epochs - 1``, is 0, subnormal or infinite in ``dtype``: training would
    silently stop moving (``Exponential(gamma=1e-3)`` reaches 0 in float32 by epoch 15, a
    cosine schedule with ``min_lr=0`` is 0 once its period is over). Schedules that follow
    the history (plateau) are checked epoch by epoch as training runs instead.

    Raises
    ------
    ValueError
        Naming the schedule, the first such epoch and its learning rate.
    """
    from .callbacks import History
    from .schedules import ReduceOnPlateau

    if isinstance(schedule, ReduceOnPlateau):
        return
    probe = History("loss", first_epoch + epochs, False)  # what cosine reads: the run's length
    probe.max_epochs = epochs
    for epoch in range(first_epoch, first_epoch + epochs):
        lr = schedule.lr(epoch, base_lr, probe)
        problem = lr_problem(lr, dtype)
        if problem is not None:
            raise ValueError(f"schedule {schedule!r} gives epoch {epoch - first_epoch + 1} of this fit the learning "
                             f"rate {problem}: the weights would not move. Fit fewer epochs, or change the "
                             f"schedule (its min_lr, gamma or period)" +
                             (" or use dtype float64" if dtype == "float32" else ""))
