"""Warnings a tuning trial records instead of issuing, silenced in its own thread only.

A trial's divergence is its recorded state and what its targets are was said once, by the
search; issuing those warnings from every trial would repeat them. Python's warning
filters belong to the process: a filter set while a search runs in one thread silenced
the same warnings in every other thread too (a diverging ``nnfast.train`` in the main
thread said nothing). So the warnings that trials record go through :func:`warn`, which
a thread turns off for itself with :func:`silenced`.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from typing import Iterator, Type

_state = threading.local()


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """In this thread, :func:`warn` issues nothing until the block ends."""
    before = getattr(_state, "on", False)
    _state.on = True
    try:
        yield
    finally:
        _state.on = before


def warn(message: str, category: Type[Warning], stacklevel: int = 1) -> None:
    """``warnings.warn(message, category)``, pointing ``stacklevel`` frames above the
    caller as ``warnings.warn`` would, unless this thread is :func:`silenced`."""
    if not getattr(_state, "on", False):
        warnings.warn(message, category, stacklevel=stacklevel + 1)
