"""The study's data, sent to each worker once rather than with every trial.

A trial's :class:`~nnfast._trial.TrialSpec` is small (hyperparameters, pruning
thresholds); its data is not. Pickled into every trial, an 80 MB training set costs a
process pool or a Dask cluster more than the training itself. So the driver ships the data
once per worker and sends each trial with an index into it:

- threads: the workers share the driver's arrays; nothing is sent;
- ``executor="processes"`` (nnfast's own pool): the pool's ``initializer`` receives the
  data, once per worker process, when the process starts (pickled through the start pipe
  with ``spawn``, inherited with ``fork``). A worker that replaces a dead one receives it
  again; nothing outlives the pool, so nothing is left to clean up after a crash or a Ctrl-C;
- a Dask executor (``distributed.Client.get_executor()``): the data is scattered to every
  worker once (``Client.scatter(..., broadcast=True)``, straight to the workers), each trial's task takes the
  resulting future as an argument, which Dask resolves to the worker's copy; the future is
  released when the study ends. Dask's Active Memory Manager (on by default, policy
  ``ReduceReplicas``) may drop all copies but one between trials; a worker that lost its copy
  then fetches it from a peer, worker to worker, before its next trial: a transfer, still
  never the large task graph of a trial that carries its data;
- any other executor: each trial carries its data, as before (nnfast cannot reach into an
  executor it does not know).
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import dataclasses
import multiprocessing
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np

from . import _core
from ._targets import TargetWarning
from .callbacks import DivergenceWarning
from ._trial import TrialResult, TrialSpec, run_trial

Pair = Tuple[np.ndarray, np.ndarray]

#: the error recorded for trials running or queued in a process pool when one of its
#: workers died
WORKER_DIED = ("a worker process of the study died while this trial was running or queued (killed by a signal: "
               "the system's out-of-memory killer, or kill -9); the study went on in new worker processes")


@dataclass
class Shipment:
    """What every trial of a study trains and validates on: the training pair and the
    validation pair, or (cross-validation, ``parts`` given) the training pair and per fold
    its validation rows, a fold's data cut where the trial runs (:meth:`data`)."""

    train: Pair
    validation: Optional[Pair] = None
    parts: Optional[List[np.ndarray]] = None

    def settle(self) -> "Shipment":
        """The arrays C-contiguous and aligned, in place, once per copy (a worker's), so that no
        trial copies them again: Dask hands a worker the arrays of a scattered object in its
        receive buffer, where they may start at any byte (an 80 MB X at an odd address was
        copied by every trial's ``nf.train``). Returns self."""
        with _settling:
            if not getattr(self, "_settled", False):
                def fix(pair: Optional[Pair]) -> Optional[Pair]:
                    return None if pair is None else tuple(np.require(a, requirements=["C_CONTIGUOUS", "ALIGNED"])
                                                           for a in pair)  # type: ignore[return-value]
                self.train, self.validation = fix(self.train), fix(self.validation)  # type: ignore[assignment]
                self._settled = True
        return self

    def data(self, index: int) -> Tuple[Pair, Pair]:
        """((X_train, y_train), (X_val, y_val)) of the one validation set (``index`` 0) or of
        fold ``index``: the rows outside the fold train, the fold's validate (as
        ``search._fold_data`` cuts them for threads, so the arrays are the same)."""
        if self.parts is None:
            assert self.validation is not None  # one validation set: given when there are no folds
            return self.train, self.validation
        X, y = self.train
        part = self.parts[index]
        rest = np.ones(len(X), dtype=bool)
        rest[part] = False
        return (X[rest], y[rest]), (X[part], y[part])


_settling = threading.Lock()  # a worker's threads settle its copy of the data once

#: in a worker process of nnfast's pool, the study's data (set once by the pool's initializer)
_received: Optional[Shipment] = None


def _receive(shipment: Shipment) -> None:
    """The process pool's initializer: keeps the study's data for the worker's trials."""
    global _received
    _received = shipment


def _in_worker(spec: TrialSpec, threads: int, driver_pid: int) -> TrialResult:
    """Runs a trial where it landed: in a thread of the driver's process (e.g. a Dask
    cluster of threads), with the driver's settings; in another process, with that process's
    nnfast threads and warning filter."""
    if os.getpid() == driver_pid:
        return run_trial(spec)
    _core.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        warnings.simplefilter("ignore", TargetWarning)
        return run_trial(spec)


def run_carried(spec: TrialSpec, threads: int, driver_pid: int) -> TrialResult:
    """Entry point of a trial that carries its own data (an executor nnfast does not know)."""
    return _in_worker(spec, threads, driver_pid)


def run_shipped(spec: TrialSpec, shipment: Optional[Shipment], index: int, threads: int,
                driver_pid: int) -> TrialResult:
    """Entry point of a trial whose data was shipped: ``shipment`` is the worker's copy (Dask
    passes the scattered data here), or None for the one the pool's initializer received."""
    if shipment is None:
        shipment = _received
    if shipment is None:  # never expected: the initializer runs before any task
        return TrialResult(spec.number, "failed", error="RuntimeError: the worker process did not receive the "
                                                        "study's data (its pool initializer did not run)")
    train, validation = shipment.settle().data(index)
    return _in_worker(dataclasses.replace(spec, train=train, validation=validation), threads, driver_pid)


def _dask_client(executor: Any) -> Any:
    """The ``distributed.Client`` behind ``client.get_executor()``, or None."""
    if type(executor).__module__.split(".")[0] != "distributed":
        return None
    client = getattr(executor, "_client", None)
    return client if callable(getattr(client, "scatter", None)) else None


def _scatter(client: Any, shipment: Shipment) -> Any:
    """The shipment on every worker of the client's cluster, as one Dask future.

    A random key (``hash=False``: hashing 80 MB costs more than it saves), and straight to the
    workers unless the client was told otherwise (``direct_to_workers=False``): through the
    scheduler, an 80 MB scatter took 0.9-2.4 s here against 0.1 s direct. A client that
    cannot reach its workers (e.g. behind a gateway) scatters through the scheduler."""
    direct = client.direct_to_workers
    if direct is None:
        try:
            return client.scatter(shipment, broadcast=True, hash=False, direct=True)
        except OSError:  # workers out of the client's reach
            pass
    return client.scatter(shipment, broadcast=True, hash=False, direct=bool(direct))


class Pool:
    """The executor of a study's trials and the way its data reaches them.

    ``submit(spec, index)`` sends trial ``spec`` (its data fields unused) to run on the
    shipment's data ``index``; ``local``: threads of this process, which share the driver's
    arrays and stop event; ``threads``: nnfast's threads per trial."""

    def __init__(self, executor: Any, n_jobs: int, shipment: Shipment, local_data: List[Tuple[Pair, Pair]]) -> None:
        cores = _core.get_num_threads()
        self.shipment, self.local_data = shipment, local_data
        self.owned, self.local, self.threads = True, False, max(1, cores // n_jobs)
        self._client = self._scattered = None
        if executor is None or executor == "threads":
            self.executor: cf.Executor = cf.ThreadPoolExecutor(max_workers=n_jobs)
            self.local = True
        elif executor == "processes":
            self.n_jobs = n_jobs
            self.executor = self._process_pool()
        elif isinstance(executor, cf.Executor):
            self.executor, self.owned, self.threads = executor, False, 1
            self._client = _dask_client(executor)
            if self._client is not None:
                self._scattered = _scatter(self._client, shipment)
        else:
            raise TypeError("executor must be 'threads', 'processes' or a concurrent.futures.Executor "
                            "(e.g. distributed.Client(...).get_executor())")

    def _process_pool(self) -> cf.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")  # safe with BLAS thread pools, unlike fork
        return cf.ProcessPoolExecutor(max_workers=self.n_jobs, mp_context=context, initializer=_receive,
                                      initargs=(self.shipment,))

    def submit(self, spec: TrialSpec, index: int, stop: Any = None) -> "cf.Future[TrialResult]":
        if self.local:
            train, validation = self.local_data[index]
            return self.executor.submit(run_trial, dataclasses.replace(spec, train=train, validation=validation),
                                        stop)
        if self.owned:  # nnfast's process pool: shipped once per worker process
            try:
                return self.executor.submit(run_shipped, spec, None, index, self.threads, os.getpid())
            except BrokenProcessPool:
                # a worker died (killed by a signal, such as the out-of-memory killer's): the
                # trials it took down are recorded failed (see WORKER_DIED); the study goes on
                # in a new pool
                self.executor.shutdown(wait=False, cancel_futures=True)
                self.executor = self._process_pool()
                return self.executor.submit(run_shipped, spec, None, index, self.threads, os.getpid())
        if self._scattered is not None:  # Dask: shipped once per worker
            return self.executor.submit(run_shipped, spec, self._scattered, index, self.threads, os.getpid())
        train, validation = self.local_data[index]
        return self.executor.submit(run_carried, dataclasses.replace(spec, train=train, validation=validation),
                                    self.threads, os.getpid())

    def shutdown(self) -> None:
        """Ends an owned executor (its running trials finish, queued ones are cancelled) and
        releases the data scattered to a Dask cluster. Safe to call more than once."""
        if self.owned:
            self.executor.shutdown(wait=True, cancel_futures=True)
        if self._scattered is not None and self._client is not None:
            scattered, self._scattered = self._scattered, None
            try:
                self._client.cancel([scattered])
            except Exception:  # a closed client: its cluster holds nothing of ours any more
                pass
