"""Where a study is kept, and who may write it.

A study lives in Optuna storage (SQLite by default). Only the driver writes it, and only
one driver at a time: a driver holds a *lease* on the study while it runs (a record in
the study naming its host, process and last heartbeat). A second driver that finds a
live lease refuses to start; a lease whose process is gone (same host: the process no
longer exists; another host: no heartbeat for :data:`LEASE_GRACE` seconds) is dead and
does not count. Trials are written to storage only when they have finished, each in one
transaction, by a background writer, so the storage never holds a half-recorded trial
and a study killed at any moment keeps every trial that was written.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import queue
import random
import socket
import threading
import time
import uuid
from typing import Any, Dict, List, Optional

import numpy as np
import optuna

__all__ = ["storage_url", "open_storage", "data_fingerprint", "StudyBusyError", "DriverLease", "TrialWriter",
           "LEASE_INTERVAL", "LEASE_GRACE"]

#: seconds between two heartbeats of a driver's lease
LEASE_INTERVAL = 20.0
#: a lease on another host without a heartbeat for this long belongs to a dead driver
LEASE_GRACE = 90.0
#: study attribute prefix of the leases (one key per driver run)
LEASE_PREFIX = "nnfast:driver:"


class StudyBusyError(RuntimeError):
    """Another live driver is running the study."""


def storage_url(storage: Optional[str]) -> Optional[str]:
    """A path such as ``study.db`` means SQLite; URLs pass through; None keeps it in memory."""
    if storage is None or "://" in storage:
        return storage
    return f"sqlite:///{storage}"


def open_storage(url: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """Optuna storage for ``url``, creating its tables when the database is new.

    Two processes opening a new database at once race on creating the tables; the loser
    sees the winner's half-made schema as an SQL error. Opening again once the winner is
    done succeeds, so such errors are retried a few times before they are raised.
    """
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError):
            if attempt + 1 == attempts:
                raise
            time.sleep(0.05 + 0.1 * random.random() * (attempt + 1))
    raise AssertionError("unreachable")


def data_fingerprint(*arrays: Any) -> str:
    """A short hash of the data's values, shapes and dtypes: the same data, the same print."""
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes() if arr.dtype != object else json.dumps(arr.tolist(), default=str).encode())
    return h.hexdigest()[:16]


def _process_start(pid: int) -> Optional[str]:
    """When process ``pid`` started (clock ticks since boot, Linux), to tell it from a later
    process that reuses its id; None where that is not known."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(lease: Dict[str, Any], now: float) -> bool:
    """Whether the driver that wrote ``lease`` still runs."""
    if lease.get("host") == socket.gethostname():
        pid = lease.get("pid")
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, TypeError, ValueError):
            pass  # someone else's process, or no pid: fall back on the heartbeat
        else:
            start = _process_start(int(pid))
            return start is None or lease.get("start") in (None, start)
    return now - float(lease.get("beat", 0.0)) < LEASE_GRACE


class DriverLease:
    """This driver's claim on a study: written before it runs anything, renewed by
    :meth:`beat`, given up by :meth:`release`.

    Acquiring writes the lease first and then looks for others: of two drivers starting
    together, at least one sees the other's lease (each reads after its own write), so two
    never both run. If both see each other, both back off and try once more after a short
    random wait.
    """

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.key = LEASE_PREFIX + uuid.uuid4().hex[:12]
        self.pid = os.getpid()
        self.record = {"host": socket.gethostname(), "pid": self.pid, "start": _process_start(self.pid),
                       "since": _now()}
        self._held = False

    def acquire(self) -> None:
        for attempt in range(2):
            self.beat()
            others = self.live_others()
            if not others:
                self._held = True
                return
            self.release()
            if attempt == 0:
                time.sleep(0.2 + 0.5 * random.random())
        holder = others[0]
        raise StudyBusyError(f"another nnfast driver is running study {self.study.study_name!r} (pid "
                             f"{holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}); "
                             f"wait for it to finish, or stop it and resume")

    def live_others(self) -> List[Dict[str, Any]]:
        now = time.time()
        attrs = self.study.user_attrs
        return [lease for key, lease in attrs.items()
                if key.startswith(LEASE_PREFIX) and key != self.key and isinstance(lease, dict) and _alive(lease, now)]

    def beat(self) -> None:
        self.study.set_user_attr(self.key, {**self.record, "beat": time.time()})

    def release(self) -> None:
        self.study.set_user_attr(self.key, None)
        self._held = False

    @property
    def held(self) -> bool:
        return self._held


class TrialWriter:
    """Writes finished trials to storage from a background thread, in the order given,
    each in one transaction (Optuna's ``add_trial``), and renews the driver's lease
    between writes. The driver goes on asking and training meanwhile; :meth:`close`
    waits for the queue to drain and raises the first storage error, if any.
    """

    def __init__(self, study: optuna.Study, lease: Optional[DriverLease]) -> None:
        self.study, self.lease = study, lease
        self.error: Optional[BaseException] = None
        self._queue: "queue.Queue[Optional[optuna.trial.FrozenTrial]]" = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="nnfast-study-writer", daemon=True)
        self._thread.start()

    def put(self, trial: optuna.trial.FrozenTrial) -> None:
        if self.error is not None:
            raise RuntimeError(f"writing the study failed: {self.error}") from self.error
        self._queue.put(trial)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"writing the study failed: {self.error}") from self.error

    def _run(self) -> None:
        last_beat = time.monotonic()
        while True:
            try:
                trial = self._queue.get(timeout=LEASE_INTERVAL)
            except queue.Empty:
                trial = False  # no trial for a while: only the heartbeat
            try:
                if trial is None:
                    return
                if trial is not False and self.error is None:
                    self.study.add_trial(trial)
                if self.lease is not None and time.monotonic() - last_beat >= LEASE_INTERVAL:
                    self.lease.beat()
                    last_beat = time.monotonic()
            except Exception as exc:  # kept for the driver, which raises it
                if self.error is None:
                    self.error = exc


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
