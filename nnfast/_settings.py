"""The model dtypes, and the check of training settings the core uses in them.

Below both the record (:mod:`nnfast.hyperparams`) and the model (:mod:`nnfast.model`),
which validate the same settings the same way.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ._validation import check_for_dtype
from .optimizers import Optimizer
from .schedules import Schedule

#: dtype name -> NumPy scalar type of a model's parameters and data
DTYPES = {"float32": np.float32, "float64": np.float64}


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
