"""What nnfast does when the process forks and when the interpreter exits.

Fork: a model that a thread of the parent was changing (``fit``, ``build``) at the
moment of ``fork()`` would stay busy forever in the child, where that thread does not
exist; the child forgets such changes (the core does the same for its networks'
flags, csrc/network.hpp). The parameters are whatever they were at that moment.

Exit: a daemon thread inside ``fit`` runs the core without the GIL; had the
interpreter finalized meanwhile, taking the GIL back would end that thread inside
C++ and abort the process. The exit hook asks every epoch running to stop after its
current batch (``fit`` then returns with ``stop_reason == "interpreter_exit"``), stops
the core from releasing the GIL at all, and waits until no call runs without it (at
most :data:`EXIT_WAIT_SECONDS`: that wait is what keeps the exit from aborting), then
a little longer (at most :data:`EXIT_GRACE_SECONDS`) for the fits to return.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref

from . import _core

TYPE_CHECKING = False  # typing itself is not imported by ``import nnfast``
if TYPE_CHECKING:
    from .model import Sequential

#: the longest the exit hook waits for calls into the core that run without the GIL
EXIT_WAIT_SECONDS = 60.0
#: the longest it then waits for running fits to return (a callback may block forever)
EXIT_GRACE_SECONDS = 2.0

#: every Sequential alive (weakly): what a forked child looks through
_MODELS: "weakref.WeakSet[Sequential]" = weakref.WeakSet()
#: how many changes of models (fit, build) are running, in any thread
_running = [0]
_running_lock = threading.Lock()


class running_change:
    """Context of one change of a model, counted: the exit hook waits for them to end."""

    def __enter__(self) -> None:
        with _running_lock:
            _running[0] += 1

    def __exit__(self, *exc: object) -> None:
        with _running_lock:
            _running[0] -= 1


def track(model: Sequential) -> None:
    """Register a Sequential so that a forked child can clear its busy state."""
    _MODELS.add(model)


def _after_fork_in_child() -> None:
    me = threading.get_ident()
    for model in list(_MODELS):
        model._forget_changes_of_other_threads(me)


def _at_exit() -> None:
    _core.stop_for_exit()
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    me = threading.get_ident()
    # a change running in this very thread (exit from a callback) cannot end while we wait
    mine = sum(1 for model in list(_MODELS) if (model._change_holder or (None,))[0] == me)
    while _core.gil_free_calls() > 0 and time.monotonic() < deadline:
        time.sleep(0.002)  # releases the GIL: the threads in the core take it back and return
    grace = time.monotonic() + EXIT_GRACE_SECONDS
    while _running[0] > mine and time.monotonic() < grace:
        time.sleep(0.002)
    left = _core.gil_free_calls()
    if left:
        sys.stderr.write(f"nnfast: {left} call(s) into the core still running after {EXIT_WAIT_SECONDS:g} s at "
                         f"interpreter exit; the process may abort\n")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
