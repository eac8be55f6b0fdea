"""Saving and loading: bit-exact round trips, atomic writes, damaged files, embedding from C++."""

import json
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import nnfast as nf
from conftest import regression_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(digits):
    X_tr, X_val, _, y_tr, y_val, _ = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    hp = nf.Hyperparameters(hidden=(32, 16), dropout=0.1, epochs=5, standardize=True, l2=1e-3, seed=3)
    model, _ = nf.train(hp, X_tr, labels[y_tr], verbose=False)
    return model, X_val, labels[y_val]


def test_round_trip_is_bit_exact_and_keeps_everything(trained, tmp_path):
    model, X_val, y_val = trained
    path = tmp_path / "digits.nnf"
    model.save(path)
    loaded = nf.load(path)
    for key, value in model.parameters().items():
        assert loaded.parameters()[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded.parameters()[key], value)
    assert loaded.hyperparameters == model.hyperparameters
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    np.testing.assert_array_equal(loaded.predict(X_val), model.predict(X_val))
    np.testing.assert_array_equal(loaded.predict_proba(X_val), model.predict_proba(X_val))
    assert loaded.evaluate(X_val, y_val) == model.evaluate(X_val, y_val)
    assert loaded.summary() == model.summary()
    assert [p.name for p in tmp_path.iterdir()] == ["digits.nnf"]  # no temporary left behind


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_regression_and_dtypes(tmp_path, dtype):
    X, y = regression_data(100)
    model, _ = nf.train(nf.Hyperparameters(hidden=(8,), epochs=2, dtype=dtype), X, y, verbose=False)
    model.save(tmp_path / "m.nnf")
    loaded = nf.load(str(tmp_path / "m.nnf"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).dtype == np.dtype(dtype) and loaded.predict(X).ndim == 1


def test_a_lower_level_model_round_trips(tmp_path):
    X, y = regression_data(50)
    model = nf.Sequential([nf.Dense(6, "leaky_relu", alpha=0.2), nf.Dropout(0.3), nf.Dense(1, "identity")],
                          inputs=4, seed=2)
    model.fit(X, y, epochs=2, verbose=False)
    model.save(tmp_path / "m.nnf")
    loaded = nf.load(tmp_path / "m.nnf")
    assert loaded.layers == model.layers and loaded.hyperparameters is None
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_saving_replaces_atomically_and_failure_leaves_the_old_file(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "m.nnf"
    path.write_bytes(b"old contents")
    model.save(path)
    assert nf.load(path).hyperparameters == model.hyperparameters
    with pytest.raises(FileNotFoundError, match="cannot write .*missing-dir"):
        model.save(tmp_path / "missing-dir" / "m.nnf")
    assert nf.load(path).hyperparameters == model.hyperparameters


def damaged_copies(good: bytes):
    yield "empty", b""
    yield "truncated", good[: len(good) // 2]
    yield "one byte short", good[:-1]
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    yield "flipped byte", bytes(flipped)
    yield "wrong magic", b"XX" + good[2:]
    yield "pickle", pickle.dumps({"W1": [1, 2, 3]})
    yield "random", np.random.default_rng(0).bytes(4096)


def test_damaged_or_foreign_files_fail_with_a_clear_error(trained, tmp_path):
    model, _, _ = trained
    model.save(tmp_path / "good.nnf")
    good = (tmp_path / "good.nnf").read_bytes()
    for name, content in damaged_copies(good):
        bad = tmp_path / f"{name}.nnf"
        bad.write_bytes(content)
        with pytest.raises(ValueError, match="not a readable nnfast model"):
            nf.load(bad)
    with pytest.raises(FileNotFoundError):
        nf.load(tmp_path / "nothing-here.nnf")


def test_a_valid_checksum_over_a_bad_layer_table_still_fails(trained, tmp_path):
    from nnfast._core import load  # noqa: F401  (the C++ reader validates counts before allocating)

    model, _, _ = trained
    model.save(tmp_path / "good.nnf")
    good = bytearray((tmp_path / "good.nnf").read_bytes())
    good[40:48] = (2**40).to_bytes(8, "little")  # first layer's units
    body = bytes(good[:-8])
    h = 0xCBF29CE484222325
    for byte in body:
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    (tmp_path / "huge.nnf").write_bytes(body + h.to_bytes(8, "little"))
    with pytest.raises(ValueError, match="bad layer width"):
        nf.load(tmp_path / "huge.nnf")


def test_labels_that_json_cannot_hold_are_refused_at_save(tmp_path):
    X, _ = regression_data(40)
    y = np.empty(40, dtype=object)
    y[:] = [(i % 2, "x") for i in range(40)]
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=4)
    model.fit(X, y, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="cannot be saved"):
        model.save(tmp_path / "m.nnf")


def test_the_json_part_is_plain_data(trained, tmp_path):
    model, _, _ = trained
    model.save(tmp_path / "m.nnf")
    raw = (tmp_path / "m.nnf").read_bytes()
    json_bytes = int.from_bytes(raw[24:32], "little")
    n_layers = int.from_bytes(raw[16:20], "little")
    start = 40 + 32 * n_layers
    doc = json.loads(raw[start:start + json_bytes])
    assert doc["hyperparameters"]["hidden"] == [32, 16] and doc["loss"] == "cross_entropy"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_cpp_reads_the_file_without_python(trained, tmp_path):
    import scipy_openblas32 as ob

    model, X_val, _ = trained
    model.save(tmp_path / "m.nnf")
    exe = tmp_path / "predict"
    lib = ob.get_lib_dir()
    subprocess.run(["g++", "-std=c++17", "-O1", f"-I{ROOT / 'csrc'}", f"-I{ob.get_include_dir()}",
                    "-DNNFAST_BLAS_SCIPY_OPENBLAS", str(ROOT / "examples" / "predict.cpp"), f"-L{lib}",
                    f"-l{ob.get_library()}", f"-Wl,-rpath,{lib}", "-o", str(exe)], check=True)
    rows = "\n".join(" ".join(repr(float(v)) for v in row) for row in X_val[:20])
    out = subprocess.run([str(exe), str(tmp_path / "m.nnf")], input=rows, capture_output=True, text=True,
                         check=True).stdout
    np.testing.assert_allclose(np.loadtxt(out.splitlines()), model.predict_proba(X_val[:20]), rtol=1e-5, atol=1e-7)
