"""Where a study is kept, and who may write it.

A study file (``study.db``, or an ``sqlite:///`` URL) is an SQLite database holding
Optuna's *journal* of the study: one row per storage operation, read back by Optuna's
``JournalStorage`` (:class:`SQLiteJournal`). Writing a finished trial is one insert in
one transaction (a fraction of a millisecond), where Optuna's relational schema costs
about 10 ms of SQLAlchemy per trial and a third of a second to create; other SQLAlchemy
URLs (a database server) use that schema, and so do SQLite files Optuna created.

Only the driver writes a study, and only one driver at a time: a driver holds a *lease*
on the study while it runs (a study attribute naming its host, process and last
heartbeat). A second driver that finds a live lease refuses to start; a lease whose
process is gone (same host: the process no longer exists; another host: no heartbeat for
:data:`LEASE_GRACE` seconds) is dead and does not count. Trials are written only when
they have finished, whole, so the storage never holds a half-recorded trial and a study
killed at any moment keeps every trial that was written.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
from typing import Any, Dict, Iterable, List, Optional

import numpy as np
import optuna
from optuna.storages.journal import BaseJournalBackend, JournalStorage

__all__ = ["storage_url", "sqlite_path", "open_storage", "SQLiteJournal", "data_fingerprint", "StudyBusyError",
           "DriverLease", "LEASE_INTERVAL", "LEASE_GRACE"]

#: seconds between two heartbeats of a driver's lease
LEASE_INTERVAL = 20.0
#: a lease on another host without a heartbeat for this long belongs to a dead driver
LEASE_GRACE = 90.0
#: study attribute prefix of the leases (one key per driver run)
LEASE_PREFIX = "nnfast:driver:"
#: the table of a study file's journal
JOURNAL_TABLE = "nnfast_journal"


class StudyBusyError(RuntimeError):
    """Another live driver is running the study."""


def storage_url(storage: Optional[str]) -> Optional[str]:
    """A path such as ``study.db`` means SQLite; URLs pass through; None keeps it in memory."""
    if storage is None or "://" in storage:
        return storage
    return f"sqlite:///{storage}"


def sqlite_path(url: str) -> Optional[str]:
    """The file an ``sqlite:///`` URL names (None for other URLs and in-memory SQLite)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix):].split("?")[0]
    return None if path in ("", ":memory:") else path


class SQLiteJournal(BaseJournalBackend):
    """Optuna's journal of a study in an SQLite file: log ``k`` is row ``k + 1`` of
    :data:`JOURNAL_TABLE` (JSON text). Appends are one transaction each; SQLite's locking
    makes them safe across processes, as Optuna's journal requires.

    The file is in WAL mode with ``synchronous=NORMAL``: a commit appends to the
    write-ahead log without waiting for the disk (the default mode waits for two to four
    fsyncs, 1-20 ms here). A killed driver loses nothing it committed; a power cut can lose
    the last commits, never the file. Readers (reports) do not block the writer. WAL needs
    the file on a local disk.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: Optional[sqlite3.Connection] = None
        with self._lock:
            self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} "
                               "(number INTEGER PRIMARY KEY AUTOINCREMENT, log TEXT NOT NULL)")
            self._connection = connection
        return self._connection

    def read_logs(self, log_number_from: int) -> Iterable[Dict[str, Any]]:
        with self._lock:
            rows = self._connect().execute(f"SELECT log FROM {JOURNAL_TABLE} WHERE number > ? ORDER BY number",
                                           (log_number_from,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def append_logs(self, logs: List[Dict[str, Any]]) -> None:
        texts = [(json.dumps(log),) for log in logs]
        with self._lock:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(f"INSERT INTO {JOURNAL_TABLE} (log) VALUES (?)", texts)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __getstate__(self) -> Dict[str, Any]:  # a connection does not travel between processes
        return {"path": self.path}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["path"])


def _tables(path: str) -> List[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    finally:
        connection.close()


def open_storage(url: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """Optuna storage for ``url``.

    An SQLite file is nnfast's journal (:class:`SQLiteJournal`), new or existing, unless
    Optuna created it with its relational schema; other URLs get that schema
    (``optuna.storages.RDBStorage``). Two processes creating that schema in a new database
    at once race, and the loser sees the winner's half-made tables as an SQL error:
    opening again once the winner is done succeeds, so such errors are retried.

    Raises
    ------
    ValueError
        If the file exists but is not an SQLite database.
    """
    path = sqlite_path(url)
    if path is not None:
        tables = []
        if os.path.exists(path):
            try:
                tables = _tables(path)
            except sqlite3.DatabaseError as exc:
                raise ValueError(f"{path} is not a study database: {exc}") from None
        if JOURNAL_TABLE in tables or "studies" not in tables:
            return JournalStorage(SQLiteJournal(path))
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


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
