"""The study's data reaches each worker of a process pool or a Dask cluster once, not with
every trial (issue 13), and the trials' results are the same as on threads."""

import concurrent.futures as cf
import importlib
import multiprocessing
import os
import pickle
import time
import warnings

import numpy as np
import pytest

import nnfast as nf

tune = pytest.importorskip("nnfast.tune")
from nnfast import _ship as ship  # noqa: E402
search_module = importlib.import_module("nnfast.tune.search")

BASE = nf.Hyperparameters(hidden=(16,), epochs=3, standardize=True, batch_size=64, patience=None)
# a grid of four, two of which fail in training (binary cross-entropy on ten classes): errors stay per trial
SPACE = {"loss": tune.choice(["cross_entropy", "binary_cross_entropy"]), "lr": tune.choice([1e-2, 3e-2])}


@pytest.fixture(scope="module")
def small():
    X, y = nf.data.load_digits()
    return X[:600], y[:600]


def _outcome(study):
    return [(t.params, t.state, None if t.score is None or np.isnan(t.score) else round(t.score, 6), t.error)
            for t in study.trials]


def _rebuild(log, state):
    """Unpickles a shipment in a worker, noting the worker's process id in ``log``."""
    with open(log, "a") as f:
        f.write(f"{os.getpid()}\n")
    shipment = ship.Shipment.__new__(ship.Shipment)
    shipment.__dict__.update(state)
    return shipment


class _RecordingPool(cf.ProcessPoolExecutor):
    """nnfast's process pool, recording how large each submitted call pickles."""
    sizes: list = []

    def submit(self, fn, *args, **kwargs):
        _RecordingPool.sizes.append(len(pickle.dumps((fn, args, kwargs))))
        return super().submit(fn, *args, **kwargs)


def test_a_process_pool_receives_the_data_once_per_worker(small, tmp_path, monkeypatch):
    log = tmp_path / "unpickled.txt"
    pickled = []

    def reduce(self):
        pickled.append(1)
        return _rebuild, (str(log), dict(self.__dict__))

    kwargs = dict(train=small, strategy="grid", cv=2, progress=False, pruning=False, n_jobs=2)
    threads = tune.search(BASE, SPACE, **kwargs)
    monkeypatch.setattr(ship.Shipment, "__reduce__", reduce, raising=False)
    monkeypatch.setattr(ship.cf, "ProcessPoolExecutor", _RecordingPool)
    _RecordingPool.sizes = []
    processes = tune.search(BASE, SPACE, executor="processes", **kwargs)
    # the same trials, scores and errors as on threads, the folds cut in the workers
    assert _outcome(processes) == _outcome(threads)
    assert {t.state for t in processes.trials} == {"complete", "failed"}
    assert all("binary_cross_entropy needs exactly two classes" in t.error
               for t in processes.trials if t.state == "failed")
    # 8 fold runs, but the data went out once per worker process (at most 2), not once per run
    workers = log.read_text().split()
    assert 1 <= len(pickled) <= 2 and len(workers) == len(pickled) == len(set(workers))
    assert len(_RecordingPool.sizes) == 8
    X_bytes = np.asarray(small[0], dtype=np.float32).nbytes
    assert max(_RecordingPool.sizes) < X_bytes / 10, (_RecordingPool.sizes, X_bytes)
    assert multiprocessing.active_children() == []  # the pool is gone: nothing of the study is left running


def test_a_dask_cluster_receives_the_data_once(small):
    distributed = pytest.importorskip("distributed")
    dask = pytest.importorskip("dask")
    kwargs = dict(train=small, strategy="grid", progress=False, pruning=False, n_jobs=2)
    threads = tune.search(BASE, SPACE, **kwargs)
    # the training data (~120 kB) pickled into a trial made Dask warn of a large graph
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "40kB"}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                     processes=True) as cluster, distributed.Client(cluster) as client:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            on_dask = tune.search(BASE, SPACE, executor=client.get_executor(), **kwargs)
            cv = tune.search(BASE, SPACE, executor=client.get_executor(), cv=2, **kwargs)
        assert [str(w.message) for w in caught if "large graph" in str(w.message)] == []
        deadline = time.monotonic() + 10
        while any(client.has_what().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(client.has_what().values())  # the scattered data released with the study
    assert _outcome(on_dask) == _outcome(threads)
    assert _outcome(cv) == _outcome(tune.search(BASE, SPACE, cv=2, **kwargs))


def test_a_shipment_cuts_the_folds_as_the_driver_does():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)).astype(np.float32), rng.integers(0, 3, 30)
    parts = [np.arange(0, 30, 3), np.arange(1, 30, 3), np.arange(2, 30, 3)]
    shipment = ship.Shipment((X, y), parts=parts)
    for i, ((X_tr, y_tr), (X_val, y_val)) in enumerate(search_module._fold_data(X, y, parts)):
        (A_tr, b_tr), (A_val, b_val) = shipment.data(i)
        for a, b in ((X_tr, A_tr), (y_tr, b_tr), (X_val, A_val), (y_val, b_val)):
            np.testing.assert_array_equal(a, b)


def test_a_shipment_settles_arrays_received_at_odd_addresses():
    # as Dask hands them over: inside a receive buffer, at any byte
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    buffer = bytearray(X.nbytes + 1)
    odd = np.frombuffer(buffer, dtype=np.float32, count=X.size, offset=1).reshape(4, 3)
    odd[...] = X
    assert not odd.flags.aligned
    shipment = ship.Shipment((odd, np.arange(4)), (odd[:2], np.arange(2))).settle()
    for a in (*shipment.train, *shipment.validation):
        assert a.flags.aligned and a.flags.c_contiguous
    np.testing.assert_array_equal(shipment.train[0], X)
    assert shipment.settle().train[0] is shipment.train[0]  # once


def test_an_unknown_executor_is_refused():
    with pytest.raises(TypeError, match="executor must be 'threads', 'processes' or a concurrent.futures.Executor"):
        tune.search(BASE, SPACE, train=(np.zeros((20, 2)), np.arange(20) % 2), executor="dask", progress=False)


class _KillingPool(cf.ProcessPoolExecutor):
    """A process pool whose first instance has a worker killed (as the out-of-memory killer
    would) right after its second trial is submitted."""
    made = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _KillingPool.made += 1
        self.kill, self.submitted = _KillingPool.made == 1, 0

    def submit(self, fn, *args, **kwargs):
        future = super().submit(fn, *args, **kwargs)
        self.submitted += 1
        if self.kill and self.submitted == 2:
            os.kill(next(iter(self._processes)), 9)
        return future


def test_a_worker_killed_fails_its_trials_by_name_and_the_study_goes_on(small, monkeypatch):
    monkeypatch.setattr(ship.cf, "ProcessPoolExecutor", _KillingPool)
    _KillingPool.made = 0
    study = tune.search(BASE, {"lr": tune.loguniform(1e-3, 1e-1)}, train=small, strategy="random", n_trials=5,
                        executor="processes", n_jobs=2, progress=False, pruning=False)
    states = [t.state for t in study.trials]
    assert len(states) == 5 and _KillingPool.made == 2  # one pool replaced the broken one
    died = [t for t in study.trials if t.state == "failed"]
    assert died and all(t.error == ship.WORKER_DIED for t in died)
    assert states[-1] == "complete" and states.count("complete") == 5 - len(died)
    assert multiprocessing.active_children() == []
