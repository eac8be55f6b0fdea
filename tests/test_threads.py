"""nnfast's own threads: a batch split over threads trains the same network, reproducibly."""

import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest

import nnfast as nf


@pytest.fixture
def threads():
    """Sets nnfast's thread count for one test and restores it."""
    before = nf.get_num_threads()
    yield nf.set_num_threads
    nf.set_num_threads(before)


def wide_problem(n=1024, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 64))
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + 2 * (X[:, 3] > 0)
    return X, y


def train(threads_setting, set_threads, dtype="float64", dropout=False, **fit):
    """A network wide enough for the batch to be split (about 11M multiply-adds per batch)."""
    set_threads(threads_setting)
    X, y = wide_problem()
    middle = [nf.Dropout(0.3)] if dropout else []
    model = nf.Sequential([nf.Dense(256, "relu"), *middle, nf.Dense(256, "tanh"), nf.Dense(4, "softmax")],
                          inputs=64, seed=1, dtype=dtype)
    history = model.fit(X, y, epochs=3, batch_size=128, verbose=False, **fit)
    return model, history


@pytest.mark.parametrize("fit", [{}, {"clip_norm": 0.5, "l2": 1e-3, "l1": 1e-4}, {"optimizer": nf.SGD(0.05, 0.9)}],
                         ids=["adam", "clipped-penalised", "momentum"])
def test_two_threads_compute_the_same_training_run(threads, fit):
    one, h1 = train(1, threads, **fit)
    two, h2 = train(2, threads, **fit)
    assert one._net.last_threads == 1 and two._net.last_threads == 2
    for key, value in one.parameters().items():  # the same sums, added in another order
        np.testing.assert_allclose(two.parameters()[key], value, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-9)
    np.testing.assert_allclose(h2["accuracy"], h1["accuracy"])


def test_threaded_runs_are_reproducible_with_dropout(threads):
    a, _ = train(2, threads, dtype="float32", dropout=True)
    b, _ = train(2, threads, dtype="float32", dropout=True)
    assert a._net.last_threads == 2
    for key, value in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[key], value)


def test_threaded_prediction_and_evaluation_match_one_thread(threads):
    model, _ = train(1, threads)
    X, y = wide_problem(3000, seed=5)
    threads(1)
    proba, scores = model.predict_proba(X), model.evaluate(X, y)
    threads(2)
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    two = model.evaluate(X, y)
    assert two["accuracy"] == scores["accuracy"] and two["loss"] == pytest.approx(scores["loss"], rel=1e-12)


def test_divergence_is_caught_in_a_threaded_epoch(threads):
    with pytest.warns(nf.DivergenceWarning):
        model, history = train(2, threads, optimizer=nf.SGD(lr=1e6))
    assert history.stop_reason == "diverged" and all(np.isfinite(v).all() for v in model.parameters().values())


def _train_in_child(queue):
    X, y = wide_problem(512)
    model = nf.Sequential([nf.Dense(256, "relu"), nf.Dense(4, "softmax")], inputs=64, seed=0)
    model.fit(X, y, epochs=1, batch_size=256, verbose=False)
    queue.put(model._net.last_threads)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_can_train_with_threads(threads):
    train(2, threads)  # the parent's pool has workers now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_train_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0, "the child hung or failed"
    assert queue.get(timeout=5) == 2


@pytest.mark.parametrize("env, expected", [
    ({"OMP_NUM_THREADS": "1"}, "1"),                            # what joblib's workers set
    ({"NNFAST_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, "3"),  # nnfast's own variable wins
    ({"NNFAST_NUM_THREADS": "two"}, str(os.cpu_count())),       # not a number: every core
])
def test_default_thread_count_follows_the_environment(env, expected, tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "NNFAST_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", "import nnfast; print(nnfast.get_num_threads())"],
                         env={**base, **env}, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.strip() == expected
