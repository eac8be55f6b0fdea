"""The study's data reaches each worker of a process pool or a Dask cluster once, not with
every trial (issue 13), and the trials' results are the same as on threads."""

import concurrent.futures as cf
import dataclasses
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
# a grid of four, two of which fail in training (two layers of 2^31 - 1 units: buffers past 2^63 bytes,
# refused when the network is built, which the space check cannot foresee): errors stay per trial
SPACE = {"hidden": tune.choice([(16,), (2**31 - 1, 2**31 - 1)]), "lr": tune.choice([1e-2, 3e-2])}


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
    assert all("cannot size the network's training buffers" in t.error
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
        assert not any(client.has_what().values()), client.has_what()  # the scattered data released with the study
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


def _cluster(distributed, **config):
    dask = pytest.importorskip("dask")
    return dask.config.set(config), distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                                             dashboard_address=None, processes=True)


def _incoming_transfers(dask_worker):
    return dask_worker.state.transfer_incoming_count_total


def test_each_dask_worker_keeps_its_own_copy_for_the_whole_study(small, monkeypatch):
    # Dask's Active Memory Manager (here every 5 ms) drops the extra replicas of a key, which a
    # broadcast made: a worker then fetched the data from its peer again for its next trial
    distributed = pytest.importorskip("distributed")
    scattered = []
    real = ship._scatter

    def spy(client, shipment):
        held, copies = real(client, shipment)
        scattered.append((client.who_has(held), copies, sorted(client.nthreads())))
        return held, copies

    monkeypatch.setattr(ship, "_scatter", spy)
    config, cluster = _cluster(distributed, **{"distributed.scheduler.active-memory-manager.interval": "5ms"})
    # trials of uneven length, so that a worker sits idle while the other trains
    space = {"epochs": tune.choice([1, 30]), "lr": tune.choice([1e-2, 2e-2, 3e-2])}
    kwargs = dict(train=small, strategy="grid", progress=False, pruning=False, n_jobs=2)
    with config, cluster, distributed.Client(cluster) as client:
        on_dask = tune.search(BASE, space, executor=client.get_executor(), **kwargs)
        assert client.run(_incoming_transfers) == dict.fromkeys(client.nthreads(), 0)
    [(who_has, copies, workers)] = scattered
    assert sorted(copies) == workers and len(set(copies.values())) == 2  # one key for each worker
    assert all(len(holders) == 1 for holders in who_has.values())  # each key on one worker only
    assert _outcome(on_dask) == _outcome(tune.search(BASE, space, **kwargs))


def test_a_trial_landed_on_a_dask_worker_without_a_copy_is_sent_again_with_the_data(small, monkeypatch):
    distributed = pytest.importorskip("distributed")
    real = ship._scatter

    def elsewhere(client, shipment):  # as if the copies were on workers that left, the trials' on workers that joined
        held, copies = real(client, shipment)
        return held, {"tcp://gone:1": key for key in copies.values()}

    monkeypatch.setattr(ship, "_scatter", elsewhere)
    kwargs = dict(train=small, strategy="grid", progress=False, pruning=False, n_jobs=2)
    config, cluster = _cluster(distributed)
    with config, cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            on_dask = tune.search(BASE, SPACE, executor=client.get_executor(), **kwargs)
        ran = [task["key"].split("-")[0] for task in stream.data]
        assert ran.count("run_on_dask") == ran.count("run_shipped") == 4  # each sent again, with the data
        spec = ship.TrialSpec(0, BASE.to_dict(), None, None)  # type: ignore[arg-type]
        assert client.submit(ship.run_on_dask, spec, {}, 0, 1, 0, pure=False).result() is None
    assert _outcome(on_dask) == _outcome(tune.search(BASE, SPACE, **kwargs))


def test_a_stopped_dask_study_cancels_its_queued_trials(small):
    distributed = pytest.importorskip("distributed")
    X, y = np.asarray(small[0], dtype=np.float32), small[1]
    shipment = ship.Shipment((X, y), (X, y))
    long = dataclasses.replace(BASE, epochs=500)
    config, cluster = _cluster(distributed)
    with config, cluster, distributed.Client(cluster) as client:
        pool = ship.Pool(client.get_executor(), 2, shipment, [((X, y), (X, y))])
        futures = [pool.submit(ship.TrialSpec(i, long.to_dict(), None, None, "val_loss", -1.0), 0)  # type: ignore
                   for i in range(6)]
        pool.shutdown()
        assert sum(f.cancelled() for f in futures) >= 4  # two workers of one thread: at most two were running
        assert pool._trials == set()


def test_the_folds_futures_of_a_trial_are_freed_without_the_garbage_collector():
    # a reference cycle kept them (and on Dask the results on the cluster) until gc ran
    import gc
    import weakref
    folds = [cf.Future() for _ in range(3)]
    refs = [weakref.ref(f) for f in folds]
    gc.disable()
    try:
        combined = search_module._gather(folds, 0)
        for f in folds:
            f.set_result(ship.TrialResult(0, "complete", score=1.0, objective="val_accuracy"))
        del folds, f
        assert combined.done() and [r() for r in refs] == [None] * 3
    finally:
        gc.enable()


def _arrival(key):
    from distributed import get_worker
    shipment = get_worker().data[key]
    return [a.flags.aligned for a in (*shipment.train, *shipment.validation)], getattr(shipment, "_settled", False)


def test_a_dask_worker_receives_the_arrays_aligned(small):
    # Dask read the first array of a message into its header's buffer, at an odd byte: each worker then
    # copied X once before its first trial (80 MB: up to 0.16 s here)
    distributed = pytest.importorskip("distributed")
    X, y = np.asarray(small[0], dtype=np.float32), np.asarray(small[1])
    config, cluster = _cluster(distributed)
    with config, cluster, distributed.Client(cluster) as client:
        held, copies = ship._scatter(client, ship.Shipment((X, y), (X[:50], y[:50])))
        for address, key in copies.items():
            aligned, settled = client.submit(_arrival, key, workers=[address], pure=False).result()
            assert aligned == [True] * 4 and not settled
        client.cancel(held)


def test_each_dask_worker_warms_up_while_the_data_travels(small):
    # a fresh worker process's first training imported NumPy's random and masked-array modules: its first
    # trial paid them (~10-25 ms here); now a tiny training on each worker pays them, beside the scatter
    distributed = pytest.importorskip("distributed")
    config, cluster = _cluster(distributed)
    X, y = np.asarray(small[0], dtype=np.float32), np.asarray(small[1])
    with config, cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            pool = ship.Pool(client.get_executor(), 2, ship.Shipment((X, y), (X[:50], y[:50])), [])
            try:  # a study that ends first forgets the warm-ups still queued: wait for them here
                distributed.wait(pool._warming, timeout=60)
            finally:
                pool.shutdown()
        warmed = sorted(task["worker"] for task in stream.data if task["key"].startswith("warm_up-"))
        assert warmed == sorted(client.nthreads())
