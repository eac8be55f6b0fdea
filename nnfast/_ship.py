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
- a Dask executor (``distributed.Client.get_executor()``): one copy is scattered to each
  worker, under a key of its own, straight from the driver to every worker at once
  (``Client.scatter`` of one key per worker, which Dask deals out one to a worker); a trial
  carries the small map of worker address to key and takes, where it runs, its worker's copy
  (:func:`worker_copy`). The copies are released when the study ends. One key per worker,
  rather than one key broadcast to every worker: a broadcast went to one worker and was then
  copied worker to worker (``Client.replicate``, coordinated by the scheduler; 0.1-0.4 s here
  for 80 MB against 0.05-0.13 s for the copies sent at once), and Dask's Active Memory
  Manager (policy ``ReduceReplicas``) dropped the extra replicas while a worker waited, so the
  data was fetched again for the worker's next trial. A key with one replica is left alone.
  A trial that lands on a worker without a copy (one that joined the cluster during the
  study) is sent again with a copy as its dependency, which Dask fetches to that worker.
  The arrays arrive aligned (:meth:`Shipment.__getstate__`), and each worker makes a first
  training's imports (:func:`warm_up`) while the data travels;
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
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _core
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

    def __getstate__(self) -> Dict[str, Any]:
        """The state pickled, led by a small array. Dask (distributed 2024-2026) reads a
        message's first out-of-band buffer into the buffer of its header, right after a few
        hundred bytes of it, so that buffer's arrays start at any byte; each buffer after the
        first gets a fresh allocation of its own, aligned. Without the lead, the first was X,
        which every worker then copied once (:meth:`settle`), 80 MB in 0.01-0.16 s."""
        return {"_lead": np.zeros(8, dtype=np.uint8), **self.__dict__}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state.items() if k != "_lead"})

    def settle(self) -> "Shipment":
        """The arrays C-contiguous and aligned, in place, once per copy (a worker's), so that no
        trial copies them again: Dask may hand a worker the arrays of a scattered object in
        its receive buffer, where they start at any byte (an 80 MB X at an odd address was
        copied by every trial's ``nf.train``; :meth:`__getstate__` now makes them arrive
        aligned, and this copies only what still does not). Returns self."""
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
    nnfast threads."""
    if os.getpid() == driver_pid:
        return run_trial(spec)
    _core.set_num_threads(threads)
    return run_trial(spec)


def run_carried(spec: TrialSpec, threads: int, driver_pid: int) -> TrialResult:
    """Entry point of a trial that carries its own data (an executor nnfast does not know)."""
    return _in_worker(spec, threads, driver_pid)


def run_shipped(spec: TrialSpec, shipment: Optional[Shipment], index: int, threads: int,
                driver_pid: int) -> TrialResult:
    """Entry point of a trial whose data was shipped: ``shipment`` is the worker's copy (a
    Dask worker's, see :func:`run_on_dask`), or None for the one the pool's initializer
    received."""
    if shipment is None:
        shipment = _received
    if shipment is None:  # never expected: the initializer runs before any task
        return TrialResult(spec.number, "failed", error="RuntimeError: the worker process did not receive the "
                                                        "study's data (its pool initializer did not run)")
    train, validation = shipment.settle().data(index)
    return _in_worker(dataclasses.replace(spec, train=train, validation=validation), threads, driver_pid)


def run_on_dask(spec: TrialSpec, copies: Dict[str, str], index: int, threads: int,
                driver_pid: int) -> Optional[TrialResult]:
    """Entry point of a trial on a Dask worker: ``copies`` maps each worker's address to the
    key of its copy of the study's data (:func:`worker_copy`). None when this worker holds no
    copy: the driver then sends the trial again, with the data as a dependency."""
    shipment = worker_copy(copies)
    return None if shipment is None else run_shipped(spec, shipment, index, threads, driver_pid)


def worker_copy(copies: Dict[str, str]) -> Optional[Shipment]:
    """The study's data as the Dask worker running the calling task holds it (its copy
    ``copies[worker address]``, in the worker's store, not copied), or None for a worker
    that holds none (it joined the cluster during the study, or lost its copy)."""
    from distributed import get_worker  # only ever called on a Dask worker

    worker = get_worker()
    key = copies.get(worker.address)
    try:
        copy = None if key is None else worker.data[key]
    except KeyError:  # not (or no longer) in this worker's store
        return None
    return copy if isinstance(copy, Shipment) else None


def warm_up() -> None:
    """Trains a tiny model once, so that a fresh worker process pays the imports a first
    training makes (NumPy's random and masked-array modules, ~10-25 ms here) while the
    study's data travels, not in its first trial."""
    from .hyperparams import Hyperparameters
    from .training import train

    X = np.zeros((8, 2), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(Hyperparameters(hidden=(2,), epochs=1, batch_size=8, patience=None, seed=0), X, np.arange(8) % 2,
              verbose=False)


def _dask_client(executor: Any) -> Any:
    """The ``distributed.Client`` behind ``client.get_executor()``, or None."""
    if type(executor).__module__.split(".")[0] != "distributed":
        return None
    client = getattr(executor, "_client", None)
    return client if callable(getattr(client, "scatter", None)) else None


def _scatter(client: Any, shipment: Shipment) -> Tuple[List[Any], Dict[str, str]]:
    """A copy of the shipment on each worker of the client's cluster: the Dask futures
    holding them, and the map of worker address to key.

    One key per worker (waiting for a first worker if there is none yet), scattered in one
    call, which deals the keys out one to a worker and sends them to all at once. Straight to
    the workers unless the client was told otherwise (``direct_to_workers=False``): through
    the scheduler, an 80 MB scatter took 0.9-2.4 s here against 0.1 s direct. A client that
    cannot reach its workers (e.g. behind a gateway) scatters through the scheduler."""
    n = len(client.nthreads())
    if n == 0:
        client.wait_for_workers(1)
        n = len(client.nthreads())
    token = uuid.uuid4().hex
    data = {f"nnfast-shipment-{token}-{i}": shipment for i in range(n)}
    direct = client.direct_to_workers
    futures = None
    if direct is None:
        try:
            futures = client.scatter(data, direct=True)
        except OSError:  # workers out of the client's reach
            pass
    if futures is None:
        futures = client.scatter(data, direct=bool(direct))
    held = list(futures.values())
    copies = {address: key for key, holders in client.who_has(held).items() for address in holders}
    return held, copies


class Pool:
    """The executor of a study's trials and the way its data reaches them.

    ``submit(spec, index)`` sends trial ``spec`` (its data fields unused) to run on the
    shipment's data ``index``; ``local``: threads of this process, which share the driver's
    arrays and stop event; ``threads``: nnfast's threads per trial."""

    def __init__(self, executor: Any, n_jobs: int, shipment: Shipment, local_data: List[Tuple[Pair, Pair]]) -> None:
        cores = _core.get_num_threads()
        self.shipment, self.local_data = shipment, local_data
        self.owned, self.local, self.threads = True, False, max(1, cores // n_jobs)
        self._client: Any = None
        self._held: List[Any] = []  # the Dask futures of the workers' copies
        self._copies: Dict[str, str] = {}  # worker address -> the key of its copy
        self._trials: "set[cf.Future[Optional[TrialResult]]]" = set()  # the trials sent to Dask and not done yet
        self._warming: List[Any] = []  # the Dask futures of the workers' warm-ups (:func:`warm_up`)
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
                # each worker's first training's imports, made while the data travels
                self._warming = [self._client.submit(warm_up, workers=[address], allow_other_workers=False, pure=False)
                                 for address in self._client.nthreads()]
                self._held, self._copies = _scatter(self._client, shipment)
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
        if self._held:  # Dask: shipped once per worker
            return self._on_dask(spec, index)
        train, validation = self.local_data[index]
        return self.executor.submit(run_carried, dataclasses.replace(spec, train=train, validation=validation),
                                    self.threads, os.getpid())

    def _on_dask(self, spec: TrialSpec, index: int) -> "cf.Future[TrialResult]":
        """Trial ``spec`` sent to the Dask cluster, on the copy of the data of the worker it
        lands on; landed on a worker without one, sent again with the data of the first
        copy still held as its dependency, which Dask fetches to the worker it then runs on."""
        outcome: "cf.Future[TrialResult]" = cf.Future()

        def relay(future: "cf.Future[Optional[TrialResult]]", again: bool = True) -> None:
            if future.cancelled():
                outcome.cancel()
                outcome.set_running_or_notify_cancel()
            elif future.exception() is not None:
                outcome.set_exception(future.exception())
            elif (result := future.result()) is not None:
                outcome.set_result(result)
            elif not again or not self._held:  # never expected: the data given is there
                outcome.set_exception(RuntimeError("no Dask worker received the study's data"))
            else:
                held = next((f for f in self._held if f.status == "finished"), self._held[0])
                track(self.executor.submit(run_shipped, spec, held, index, self.threads, os.getpid()), False)

        def track(future: "cf.Future[Optional[TrialResult]]", again: bool) -> None:
            self._trials.add(future)
            future.add_done_callback(self._trials.discard)
            future.add_done_callback(lambda f: relay(f, again))

        track(self.executor.submit(run_on_dask, spec, self._copies, index, self.threads, os.getpid()), True)
        return outcome

    def shutdown(self) -> None:
        """Ends an owned executor (its running trials finish, queued ones are cancelled);
        on a Dask cluster, cancels the study's trials not done and releases the workers'
        copies of the data. Safe to call more than once."""
        if self.owned:
            self.executor.shutdown(wait=True, cancel_futures=True)
        for future in list(self._trials):  # a stopped study's trials still queued or running on Dask
            future.cancel()
        self._warming = []  # released: a warm-up still queued is forgotten
        if self._held:
            held, self._held = self._held, []
            try:
                self._client.cancel(held)
            except Exception:  # a closed client: its cluster holds nothing of ours any more
                pass
