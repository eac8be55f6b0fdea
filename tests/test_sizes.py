"""Sizes: every buffer size is computed with checked arithmetic (an impossible size is a
ValueError before any allocation, one that cannot be had a MemoryError with a sentence),
and a model holds the memory its job needs: parameters to predict, 4x that to train."""

import subprocess
import sys

import numpy as np
import pytest

import nnfast as nf
from nnfast import _core


def test_a_parameter_count_whose_buffers_overflow_64_bits_is_a_value_error():
    """The battery's case: 4 x n_params wrapped and the network wrote past a 20 KB buffer."""
    with pytest.raises(ValueError, match=r"cannot size the network's training buffers: \d+ x 4 is past 2\^63"):
        nf.Sequential([nf.Dense(2**31 - 1), nf.Dense(2)], inputs=2**31 - 2)


@pytest.mark.parametrize("layers, inputs", [
    ([2**31 - 1] * 3, 2**31 - 1),           # the weight count itself passes 2^63
    ([2**31 - 1, 2**31 - 1], 2**31 - 1),     # weights fit, bytes do not
])
def test_the_core_refuses_impossible_sizes_directly(layers, inputs):
    with pytest.raises(ValueError, match="cannot size"):
        _core.Network32(inputs, [_core.LayerSpec(u, _core.Activation.relu) for u in layers])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_network_larger_than_memory_is_a_memory_error_with_a_sentence(dtype):
    """1e15 parameters fit in int64 but in no machine: a clean MemoryError, not a crash
    and not "std::bad_alloc"."""
    with pytest.raises(MemoryError, match=r"the network's buffers would need \d+ MiB, more than the \d+ MiB this process "
                                          r"can still have \((MemAvailable|the cgroup|RLIMIT_AS|the machine)"):
        nf.Sequential([nf.Dense(10**7), nf.Dense(2)], inputs=10**8, dtype=dtype)


def test_a_batch_workspace_larger_than_memory_is_a_memory_error_and_the_model_survives():
    """Batch size x layer width sizes the workspaces: 32768 rows x 2^20 units of
    activations is 128 GiB."""
    model = nf.Sequential([nf.Dense(2**20, "relu"), nf.Dense(1, "identity")], inputs=1)
    net = model._net
    net.configure(nf.SGD(lr=1e-6).config())
    X = np.linspace(-1, 1, 2**15, dtype=np.float32).reshape(-1, 1)
    Y = X ** 2
    mse, r2 = _core.Loss.mse, _core.Metric.r2
    with pytest.raises(MemoryError, match="MiB"):
        net.train_epoch(X, Y, None, len(X), False, mse, r2)
    result = net.train_epoch(X[:64], Y[:64], None, 32, False, mse, r2)  # still usable
    assert result.batches == 2 and result.finite


def test_a_new_or_loaded_model_holds_its_parameters_and_training_adds_the_rest(tmp_path):
    X = np.random.default_rng(0).normal(size=(512, 784)).astype(np.float32)
    y = np.arange(512) % 10
    model = nf.Sequential([nf.Dense(256), nf.Dense(128), nf.Dense(10, "softmax")], inputs=784)
    param_bytes = model.n_params * 4
    slack = 4 * 4096  # the arena's page staggering
    assert param_bytes <= model.nbytes <= param_bytes + slack
    assert model._net.grads is None  # no gradient before training
    model.fit(X, y, epochs=1, batch_size=64, verbose=False)
    trained = model.nbytes
    assert trained >= 4 * param_bytes  # parameters, gradient, two optimizer states
    model.save(tmp_path / "m.nnf")
    loaded = nf.load(tmp_path / "m.nnf")
    assert param_bytes <= loaded.nbytes <= param_bytes + slack
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.nbytes <= param_bytes + slack  # predicting allocates no training state
    loaded.fit(X, y, epochs=1, batch_size=64, verbose=False)
    assert loaded.nbytes >= 4 * param_bytes


def test_a_loaded_model_resumes_with_a_fresh_optimizer_whatever_the_order():
    """The training state comes zeroed on the first training call, as configure would leave it:
    training a new model equals training one whose state was configured beforehand."""
    X = np.random.default_rng(1).normal(size=(300, 8))
    y = np.arange(300) % 3
    a = nf.Sequential([nf.Dense(16), nf.Dense(3, "softmax")], inputs=8, seed=4)
    b = nf.Sequential([nf.Dense(16), nf.Dense(3, "softmax")], inputs=8, seed=4)
    b._net.configure(nf.SGD(momentum=0.9).config())  # before any training state exists
    a.fit(X, y, epochs=2, verbose=False)
    b.fit(X, y, epochs=2, verbose=False)
    for key, value in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[key], value)


def test_loading_allocates_about_the_file_not_four_times_it(tmp_path):
    """Peak memory of a load, measured in a child: a 40 MB model must not add 160 MB."""
    model = nf.Sequential([nf.Dense(2500), nf.Dense(10, "softmax")], inputs=4000)  # 10M parameters
    model.save(tmp_path / "big.nnf")
    code = f"""
import resource, nnfast as nf
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m = nf.load({str(tmp_path / 'big.nnf')!r})
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, m.nbytes)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    grown, held = map(int, out.stdout.split())
    params = model.n_params * 4
    assert held < 1.01 * params
    assert grown < 2.6 * params, f"loading grew the process by {grown / params:.2f}x the parameters"


def unaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a that starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    out = np.frombuffer(raw[1:].data, dtype=a.dtype).reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_arrays_are_copied_where_they_enter_and_refused_by_the_core(dtype):
    """A contiguous array may start at an odd address (np.frombuffer on a byte slice; one
    reached the core from a process pool's worker): reading floats there is undefined
    behaviour, which UBSan reported in evaluate. The Python layer copies such arrays, the
    core refuses them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(dtype)
    y = rng.normal(size=200).astype(dtype)
    w = rng.uniform(0.5, 1.0, size=200).astype(dtype)
    name = np.dtype(dtype).name
    a = nf.Sequential([nf.Dense(8, "tanh"), nf.Dense(1, "identity")], inputs=5, seed=0, dtype=name)
    b = nf.Sequential([nf.Dense(8, "tanh"), nf.Dense(1, "identity")], inputs=5, seed=0, dtype=name)
    a.fit(X, y, sample_weight=w, epochs=2, standardize=True, verbose=False)
    b.fit(unaligned(X), unaligned(y), sample_weight=unaligned(w), epochs=2, standardize=True, verbose=False)
    for key, value in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[key], value)
    np.testing.assert_array_equal(b.predict(unaligned(X)), a.predict(X))
    assert b.evaluate(unaligned(X), unaligned(y), unaligned(w)) == a.evaluate(X, y, w)
    assert nf.losses.mse(unaligned(y.astype(np.float64)), unaligned(y.astype(np.float64) + 1)) == pytest.approx(1.0)
    net = b._net
    Y = y.reshape(-1, 1)
    with pytest.raises(TypeError, match="aligned"):
        net.predict(unaligned(X))
    with pytest.raises(TypeError, match="aligned"):
        net.evaluate(unaligned(X), Y, None, _core.Loss.mse, _core.Metric.r2)
    with pytest.raises(TypeError, match="aligned"):
        net.train_epoch(X, unaligned(Y), None, 32, True, _core.Loss.mse, _core.Metric.r2)
    with pytest.raises(TypeError, match="aligned"):
        net.train_epoch(X, Y, unaligned(w), 32, True, _core.Loss.mse, _core.Metric.r2)
    kernel = _core.dense_forward
    with pytest.raises(TypeError, match="aligned"):
        kernel(unaligned(X), np.ones((5, 2), dtype))
