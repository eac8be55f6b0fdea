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
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, Iterable, List, Optional, overload

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


@overload
def storage_url(storage: str) -> str: ...
@overload
def storage_url(storage: None) -> None: ...
def storage_url(storage: Optional[str]) -> Optional[str]:
    """Where a study is kept, as the study records it: a file path made absolute (so the
    study can be found again from another directory), a URL as it is, None in memory."""
    if storage is None or "://" in storage:
        return storage
    return os.path.abspath(storage)


def sqlite_path(storage: str) -> Optional[str]:
    """The file a study location names: a path as it is (any characters), the file of an
    ``sqlite:///`` URL (percent-decoded, without its query), None for other URLs and
    in-memory SQLite."""
    if "://" not in storage:
        return storage
    prefix = "sqlite:///"
    if not storage.startswith(prefix):
        return None
    path = urllib.parse.unquote(storage[len(prefix):].split("?")[0])
    return None if path in ("", ":memory:") else path


def _uri(path: str, options: str) -> str:
    """An SQLite ``file:`` URI for path (percent-encoded: ?, # and % are data in a path)."""
    return "file:" + urllib.request.pathname2url(os.path.abspath(path)) + "?" + options


def _writable(path: str) -> bool:
    directory = os.path.dirname(os.path.abspath(path))
    return os.access(directory, os.W_OK) and (not os.path.exists(path) or os.access(path, os.W_OK))


class SQLiteJournal(BaseJournalBackend):
    """Optuna's journal of a study in an SQLite file: log ``k`` is row ``k + 1`` of
    :data:`JOURNAL_TABLE` (JSON text). Appends are one transaction each; SQLite's locking
    makes them safe across processes, as Optuna's journal requires.

    The file is in WAL mode with ``synchronous=NORMAL``: a commit appends to the
    write-ahead log without waiting for the disk (the default mode waits for two to four
    fsyncs, 1-20 ms here). A killed driver loses nothing it committed; a power cut can lose
    the last commits, never the file. Readers (reports) do not block the writer. WAL needs
    the file on a local disk. A study file in a place this process may not write (a
    read-only mount, someone else's directory) is opened read-only: reports work, writes
    raise PermissionError.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.read_only = os.path.exists(path) and not _writable(path)
        self._lock = threading.Lock()
        self._connection: Optional[sqlite3.Connection] = None
        with self._lock:
            self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            if self.read_only:
                connection = _read_only(self.path)
            else:
                connection = sqlite3.connect(_uri(self.path, "mode=rwc"), uri=True, timeout=60.0,
                                             isolation_level=None, check_same_thread=False)
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
        if self.read_only:
            raise PermissionError(f"{self.path} is read-only here: the study can be read, not changed")
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
        type(self).__init__(self, state["path"])


def _read_only(path: str) -> sqlite3.Connection:
    """A read-only connection to an SQLite file. A WAL reader needs to write the -shm file
    beside it; where it cannot, the file is read as it is (``immutable``: without what a
    writer that was killed left in its write-ahead log)."""
    connection = sqlite3.connect(_uri(path, "mode=ro"), uri=True, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return connection
    except sqlite3.OperationalError:
        connection.close()
    return sqlite3.connect(_uri(path, "mode=ro&immutable=1"), uri=True, isolation_level=None,
                           check_same_thread=False)


def _tables(path: str) -> List[str]:
    connection = _read_only(path)
    try:
        return [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    finally:
        connection.close()


def open_storage(storage: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """Optuna storage for a study file (a path, or an ``sqlite:///`` URL) or a database URL.

    A study file is nnfast's journal (``SQLiteJournal``), new or existing, unless
    Optuna created it with its relational schema; other URLs get that schema
    (``optuna.storages.RDBStorage``). Optuna's own functions take the result, e.g.
    ``optuna.load_study(study_name="nnfast", storage=open_storage("study.db"))``; given
    the plain path or URL they would read (and extend) the file as a relational database. Two processes creating that schema in a new database
    at once race, and the loser sees the winner's half-made tables as an SQL error:
    opening again once the winner is done succeeds, so such errors are retried.

    Raises
    ------
    ValueError
        If the file exists but is not an SQLite database.
    """
    path = sqlite_path(storage)
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
            return optuna.storages.RDBStorage(storage if "://" in storage else f"sqlite:///{path}")
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


def _process_state(pid: int) -> Optional[str]:
    """The state letter of process ``pid`` (Linux: R, S, ..., Z for a zombie), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _alive(lease: Dict[str, Any], now: float) -> bool:
    """Whether the driver that wrote ``lease`` still runs (a killed process its parent has
    not reaped yet, a zombie, does not)."""
    if lease.get("host") == socket.gethostname():
        pid: Any = lease.get("pid")  # as the lease's JSON holds it: int() refuses what is no process id
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, TypeError, ValueError):
            pass  # someone else's process, or no pid: fall back on the heartbeat
        else:
            if _process_state(int(pid)) in ("Z", "X"):
                return False
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
