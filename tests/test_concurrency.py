"""One change of a model at a time: a second concurrent change is refused with an error,
never shared workspaces (a heap use-after-free before); predictions run alongside."""

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nnfast as nf
from nnfast import _core


def classification(n=5000, features=64, classes=10, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, features)).astype(np.float32)
    return X, np.arange(n) % classes


class Pause(nf.Callback):
    """Holds fit at its start until the test has tried what it wants to try."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()

    def on_train_begin(self, model, history):
        self.started.set()
        assert self.release.wait(30)


class BlockingArray:
    """Data whose conversion to an array waits: holds fit before it builds the model."""

    def __init__(self, X):
        self.X, self.started, self.release = X, threading.Event(), threading.Event()

    def __array__(self, dtype=None, copy=None):
        self.started.set()
        assert self.release.wait(30)
        return self.X if dtype is None else self.X.astype(dtype)


def run_in_thread(fn, *args, **kwargs):
    errors = []

    def target():
        try:
            fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


def test_the_reported_crash_two_fits_on_one_model_refuse_instead(tmp_path):
    """The battery's case, in a child process so that a crash fails the test: two threads
    fit one model with batch sizes 16 and 1024; one of them is refused, with a clear error."""
    code = """
import threading, numpy as np, nnfast as nf
X = np.random.default_rng(0).normal(size=(5000, 64)).astype(np.float32); y = np.arange(5000) % 10
refused = 0
for run in range(4):
    m = nf.Sequential([nf.Dense(256), nf.Dense(10, "softmax")], inputs=64 if run % 2 else None)
    errors = []
    def fit(b):
        try:
            m.fit(X, y, epochs=4, batch_size=b, verbose=False)
        except nf.ModelBusyError as exc:
            errors.append(str(exc))
    ts = [threading.Thread(target=fit, args=(b,)) for b in (16, 1024)]
    [t.start() for t in ts]; [t.join() for t in ts]
    assert len(errors) <= 1, errors
    refused += len(errors)
    assert all("fit" in e and "busy" in e for e in errors), errors
    assert m.evaluate(X, y)["accuracy"] > 0.1
print("ok", refused)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok")


@pytest.mark.parametrize("built", [True, False], ids=["built", "unbuilt"])
def test_a_second_fit_is_refused_before_it_touches_anything(built):
    X, y = classification(600)
    model = nf.Sequential([nf.Dense(32), nf.Dense(10, "softmax")], inputs=64 if built else None, seed=1)
    if built:
        pause = Pause()
        thread, errors = run_in_thread(model.fit, X, y, epochs=2, verbose=False, callbacks=[pause])
        gate = pause
    else:  # the first fit waits while converting X, before it builds the model
        data = BlockingArray(X)
        thread, errors = run_in_thread(model.fit, data, y, epochs=2, verbose=False)
        gate = data
    assert gate.started.wait(30)
    before = {k: v.copy() for k, v in model.parameters().items()} if built else None
    with pytest.raises(nf.ModelBusyError, match=r"busy: fit is running on it in another thread.*fit was refused"):
        model.fit(X, y, epochs=1, batch_size=16, verbose=False)
    with pytest.raises(RuntimeError):  # ModelBusyError is a RuntimeError
        model.build(64)
    if built:
        for key, value in before.items():
            np.testing.assert_array_equal(model.parameters()[key], value)
    else:
        assert not model.built
    gate.release.set()
    thread.join(60)
    assert not errors, errors
    # the first fit finished normally and the model takes the next change
    assert model.fit(X, y, epochs=1, verbose=False).stop_reason == "max_epochs"


def test_a_callback_cannot_start_a_fit_inside_a_fit():
    X, y = classification(200)
    model = nf.Sequential([nf.Dense(8), nf.Dense(10, "softmax")], inputs=64)

    class Nested(nf.Callback):
        def on_epoch_end(self, model, epoch, history):
            model.fit(X, y, epochs=1, verbose=False)

    with pytest.raises(nf.ModelBusyError, match="in this thread"):
        model.fit(X, y, epochs=1, verbose=False, callbacks=[Nested()])
    model.fit(X, y, epochs=1, verbose=False)  # the guard was released


def long_epoch(net, X, Y):
    return run_in_thread(net.train_epoch, X, Y, None, 8, True, _core.Loss.cross_entropy, _core.Metric.accuracy)


def wait_until_busy(net, timeout=30.0):
    """Probes with a change that leaves the network as it is, until one is refused."""
    lr = net.optimizer.lr
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            net.set_learning_rate(lr)
        except nf.ModelBusyError:
            return
        time.sleep(0.001)
    raise AssertionError("the epoch never started")


def test_the_core_refuses_every_change_while_it_trains():
    """The guard lives in the C++ network, so it holds for any caller of the core."""
    X, y = classification(20000, 64, 4)
    Y = np.eye(4, dtype=np.float32)[y]
    model = nf.Sequential([nf.Dense(256), nf.Dense(256), nf.Dense(4, "softmax")], inputs=64)
    net = model._net
    net.configure(nf.Adam().config())
    thread, errors = long_epoch(net, X, Y)  # about 2500 batches: a second or more
    wait_until_busy(net)
    Li = _core.Loss.cross_entropy
    changes = {
        "train_epoch": lambda: net.train_epoch(X[:64], Y[:64], None, 32, True, Li, _core.Metric.accuracy),
        "lr_sweep": lambda: net.lr_sweep(X[:64], Y[:64], None, 16, 1e-4, 1.0, 10, Li, 4.0, 0.9),
        "cost_and_gradient": lambda: net.cost_and_gradient(X[:64], Y[:64], None, Li),
        "configure": lambda: net.configure(nf.SGD().config()),
        "initialize": lambda: net.initialize([_core.Init.zeros] * 3, [0.0] * 3, 0),
        "reseed": lambda: net.reseed(3),
        "set_standardization": lambda: net.set_standardization(np.zeros(64, np.float32), np.ones(64, np.float32)),
        "set_learning_rate": lambda: net.set_learning_rate(0.5),
    }
    for name, change in changes.items():
        with pytest.raises(nf.ModelBusyError, match=rf"train_epoch is changing it.*\({name} was refused\)"):
            change()
    # reading stays defined meanwhile
    assert np.isfinite(model.forward(X[:500])).all()
    assert thread.is_alive(), "the epoch ended before every change was tried; make it longer"
    thread.join(120)
    assert not errors, errors
    assert net.optimizer.kind == _core.Optimizer.adam and net.optimizer.lr == nf.Adam().lr
    assert np.isfinite(net.params).all()


def test_a_change_that_fails_releases_the_guard():
    X, y = classification(100)
    model = nf.Sequential([nf.Dense(8), nf.Dense(10, "softmax")], inputs=64)
    Y = np.eye(10, dtype=np.float32)[y]
    with pytest.raises(ValueError):
        model._net.train_epoch(X, Y, None, 0, True, _core.Loss.cross_entropy, _core.Metric.accuracy)
    with pytest.raises(ValueError):
        model._net.set_standardization(np.zeros(64, np.float32), np.zeros(64, np.float32))
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=0)
    model.fit(X, y, epochs=1, verbose=False)


def test_predictions_run_alongside_a_fit_with_standardisation():
    """The scaling a prediction uses is one snapshot: a fit that starts standardising while
    predictions run can never hand them a half-made scaling."""
    X, y = classification(3000)
    model = nf.Sequential([nf.Dense(64), nf.Dense(10, "softmax")], inputs=64)
    stop = threading.Event()
    failures = []

    def predict_loop():
        while not stop.is_set():
            out = model.forward(X[:300])
            if out.shape != (300, 10) or not np.isfinite(out).all():
                failures.append(out)

    readers = [threading.Thread(target=predict_loop) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        for _ in range(3):
            model.fit(X, y, epochs=1, batch_size=64, standardize=True, verbose=False)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert not failures
