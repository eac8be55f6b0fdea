"""Optuna's own output kept out of nnfast's, without touching the caller's logging."""

from __future__ import annotations

import logging
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator

import optuna

__all__ = ["quiet_optuna"]


class _InsideNnfast(logging.Filter):
    """Drops Optuna's log records made inside nnfast's own calls (in the thread that makes
    them), leaving the caller's logging and other threads' Optuna studies alone."""

    active = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.active, "on", False)


_FILTER = _InsideNnfast()


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's per-trial log lines and warnings stay out of nnfast's output, without
    changing Optuna's log level for the caller."""
    for name in ["optuna", *[n for n in logging.root.manager.loggerDict if n.startswith("optuna.")]]:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    before = getattr(_InsideNnfast.active, "on", False)
    _InsideNnfast.active.on = True
    try:
        with warnings.catch_warnings():
            # Optuna's warnings name the module that warned, or from Python 3.12 the first
            # module outside Optuna: that is nnfast.tune's own, inside this context
            warnings.filterwarnings("ignore", module=r"(optuna|nnfast\.tune)(\..*)?$")
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        _InsideNnfast.active.on = before
