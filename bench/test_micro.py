"""Micro-benchmarks of nnfast's compiled core (pytest-benchmark).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/test_micro.py --benchmark-only
    ... --benchmark-group-by=group        # one table per kernel family
    ... -k "optimizer and adam"           # a subset

Not part of the test suite: pyproject.toml sets testpaths = ["tests"], so a plain
``pytest`` never collects this file. Every case runs in float32 and float64. BLAS
threads: NNFAST_BENCH_THREADS (default 1, the steadiest numbers). Each case stops
after about 0.25 s (at least 5 rounds), so the whole file takes about a minute.

Before the first case the session runs one 1024^3 GEMM per dtype: OpenBLAS runs the
layer shapes here up to 3x slower in a fresh process until some larger GEMM has run
(see bench/README.md), and the numbers should not depend on the order of the cases.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")

import nnfast as nf  # noqa: E402
from nnfast import _core  # noqa: E402

pytestmark = pytest.mark.benchmark(min_rounds=5, max_time=0.25, warmup=True, warmup_iterations=3)

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
A = _core.Activation

# (inputs, outputs, batch): the layers of the MNIST-shaped network at batch 128 and of the
# small one at batch 32
LAYERS = [(784, 256, 128), (256, 128, 128), (128, 10, 128), (64, 64, 32)]
LAYER_IDS = [f"{i}x{o}-b{b}" for i, o, b in LAYERS]

# name -> optimizer spec: every optimizer the core has
OPTIMIZERS = {
    "sgd": nf.SGD(lr=1e-3),
    "sgd_momentum": nf.SGD(lr=1e-3, momentum=0.9),
    "adagrad": nf.Adagrad(),
    "rmsprop": nf.RMSProp(),
    "adam": nf.Adam(),
    "adamw": nf.AdamW(),
}
# 10k, the MNIST-shaped network's 235,146, and 1M parameters
PARAM_COUNTS = [10_000, 235_146, 1_000_000]

# (loss, output activation): the fused pairs and the plain regression losses
LOSSES = [("cross_entropy", A.softmax), ("binary_cross_entropy", A.sigmoid), ("mse", A.identity),
          ("mae", A.identity)]

NETWORKS = {"784-256-128-10": (784, 256, 128, 10), "64-64-10": (64, 64, 10)}


@pytest.fixture(scope="session", autouse=True)
def blas_setup():
    threads = int(os.environ.get("NNFAST_BENCH_THREADS", "1"))
    nf.set_num_threads(threads)
    for dtype in DTYPES:  # put OpenBLAS in its steady state (see the module docstring)
        big = np.ones((1024, 1024), dtype=dtype)
        _core.dense_forward(big, big)
    return threads


def rand(rng, shape, dtype, scale=1.0):
    return np.ascontiguousarray(rng.standard_normal(shape) * scale, dtype=dtype)


# --- dense layers ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", LAYERS, ids=LAYER_IDS)
def test_dense_forward(benchmark, shape, dtype):
    I, O, B = shape
    rng = np.random.default_rng(0)
    x, w = rand(rng, (B, I), dtype), rand(rng, (I, O), dtype, 0.05)
    benchmark.group = f"dense_forward {np.dtype(dtype).name}"
    benchmark.extra_info["gflop"] = 2 * B * I * O / 1e9
    z = benchmark(_core.dense_forward, x, w)
    assert z.shape == (B, O)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", LAYERS, ids=LAYER_IDS)
def test_dense_backward(benchmark, shape, dtype):
    """dW = x^T dz, db, and dx = dz W^T (the first layer of a network skips dx)."""
    I, O, B = shape
    rng = np.random.default_rng(0)
    x, w, dz = rand(rng, (B, I), dtype), rand(rng, (I, O), dtype, 0.05), rand(rng, (B, O), dtype, 0.01)
    benchmark.group = f"dense_backward {np.dtype(dtype).name}"
    benchmark.extra_info["gflop"] = 4 * B * I * O / 1e9
    dx, dw, db = benchmark(_core.dense_backward, dz, x, w, True)
    assert dx.shape == (B, I) and dw.shape == (I, O) and db.shape == (O,)


# --- activations -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("activation", [A.relu, A.tanh, A.sigmoid], ids=["relu", "tanh", "sigmoid"])
def test_bias_activation_forward(benchmark, activation, dtype):
    rng = np.random.default_rng(0)
    z, b = rand(rng, (128, 256), dtype), rand(rng, (256,), dtype, 0.1)
    benchmark.group = f"activation {np.dtype(dtype).name}"
    benchmark(_core.bias_activation_forward, z, b, activation, 0.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("activation", [A.relu, A.tanh, A.sigmoid], ids=["relu", "tanh", "sigmoid"])
def test_activation_backward(benchmark, activation, dtype):
    """The derivative from the activation value; for relu about half the values are zero,
    in random places (as after a real forward pass)."""
    rng = np.random.default_rng(0)
    a = _core.bias_activation_forward(rand(rng, (128, 256), dtype), np.zeros(256, dtype), activation, 0.0)
    da = rand(rng, (128, 256), dtype)
    benchmark.group = f"activation {np.dtype(dtype).name}"
    benchmark(_core.activation_backward, da, a, activation, 0.0)


# --- losses ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("loss,activation", LOSSES, ids=[name for name, _ in LOSSES])
def test_loss_forward_backward(benchmark, loss, activation, dtype):
    """Loss and gradient of a (128, 10) output batch."""
    rng = np.random.default_rng(0)
    z = rand(rng, (128, 10), dtype)
    a = _core.bias_activation_forward(z, np.zeros(10, dtype), activation, 0.0)
    if loss == "cross_entropy":
        y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 128)]
    elif loss == "binary_cross_entropy":
        y = (rng.random((128, 10)) < 0.5).astype(dtype)
    else:
        y = rand(rng, (128, 10), dtype)
    benchmark.group = f"loss {np.dtype(dtype).name}"
    total, dz = benchmark(_core.loss_forward_backward, getattr(_core.Loss, loss), activation, 0.0, z, a, y, None,
                          True, 1 / 128)
    assert np.isfinite(total) and dz.shape == (128, 10)


# --- optimizer step ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", PARAM_COUNTS, ids=[f"{n}p" for n in PARAM_COUNTS])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_step(benchmark, name, n, dtype):
    """One fused in-place step over a flat buffer (weights first, the last 1% biases)."""
    rng = np.random.default_rng(0)
    p, g = rand(rng, n, dtype, 0.05), rand(rng, n, dtype, 1e-3)
    s1, s2 = np.zeros(n, dtype), np.zeros(n, dtype)
    config = OPTIMIZERS[name].config()
    benchmark.group = f"optimizer {n:,} params {np.dtype(dtype).name}"
    benchmark.extra_info["ns_per_param"] = None
    benchmark(_core.optimizer_step, config, p, g, s1, s2, n - n // 100, 10)
    if benchmark.stats is not None:  # None with --benchmark-disable (CI's smoke run)
        benchmark.extra_info["ns_per_param"] = benchmark.stats.stats.min * 1e9 / n
    assert np.isfinite(p).all()


# --- prediction ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained():
    """(network name, dtype name) -> a model fitted for one epoch on 512 random rows."""
    models = {}
    rng = np.random.default_rng(0)
    for net_name, dims in NETWORKS.items():
        X = rng.standard_normal((512, dims[0]))
        y = rng.integers(0, dims[-1], 512)
        for dtype in DTYPES:
            dt = np.dtype(dtype).name
            model = nf.Sequential([nf.Dense(u, "relu") for u in dims[1:-1]] + [nf.Dense(dims[-1], "softmax")],
                                  inputs=dims[0], seed=0, dtype=dt)
            model.fit(X.astype(dtype), y, epochs=1, batch_size=128, verbose=False)
            models[(net_name, dt)] = model
    return models


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("net", list(NETWORKS))
@pytest.mark.parametrize("rows", [1, 2048])
def test_predict(benchmark, trained, rows, net, dtype):
    """model.predict on one row and on 2,048: the public path, input checks and label decoding included."""
    model = trained[(net, np.dtype(dtype).name)]
    X = rand(np.random.default_rng(1), (rows, NETWORKS[net][0]), dtype)
    benchmark.group = f"predict {rows} row{'s' if rows > 1 else ''}"
    labels = benchmark(model.predict, X)
    assert labels.shape == (rows,)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("net", list(NETWORKS))
def test_core_predict_single(benchmark, net, dtype):
    """The core's forward pass on one row (_core.Network*.predict): no Python-side checks."""
    dims = NETWORKS[net]
    cls = _core.Network32 if dtype is np.float32 else _core.Network64
    layers = [_core.LayerSpec(u, A.relu) for u in dims[1:-1]] + [_core.LayerSpec(dims[-1], A.softmax)]
    core = cls(dims[0], layers)
    core.initialize([_core.Init.he_normal] * (len(dims) - 2) + [_core.Init.xavier_normal], [0.0] * (len(dims) - 1), 0)
    x = rand(np.random.default_rng(1), (1, dims[0]), dtype)
    benchmark.group = "predict 1 row"
    out = benchmark(core.predict, x)
    assert out.shape == (1, dims[-1])
