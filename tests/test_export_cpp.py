"""C++ without a checkout: nnfast.get_include() holds the header-only reader and predictor,
the wheel ships them, and examples/predict.cpp built against them predicts as nnfast does
(issue 13)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnfast as nf

ROOT = Path(__file__).resolve().parent.parent
HEADERS = sorted(p.name for p in (ROOT / "csrc").glob("*.hpp"))


def _included(directory: Path, name: str, seen: set) -> set:
    """``name`` and every header it includes with quotes, recursively."""
    if name not in seen:
        seen.add(name)
        for other in re.findall(r'#include "([^"]+)"', (directory / name).read_text()):
            _included(directory, other, seen)
    return seen


def test_get_include_holds_what_predict_cpp_includes():
    directory = Path(nf.get_include())
    needed = _included(directory, "model_file.hpp", set())
    assert needed >= {"model_file.hpp", "network.hpp", "blas.hpp", "vmath.hpp"}
    assert all((directory / name).is_file() for name in needed)


@pytest.mark.skipif(not (ROOT / "setup.py").is_file(), reason="a copy of the tests without the build script "
                                                             "(tests/sanitize.sh)")
def test_the_built_package_ships_the_headers(tmp_path):
    """What a wheel holds: build_py copies every csrc/*.hpp into nnfast/include/."""
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True)
    shipped = tmp_path / "nnfast" / "include"
    assert sorted(p.name for p in shipped.glob("*.hpp")) == HEADERS
    assert (shipped / "network.hpp").read_bytes() == (ROOT / "csrc" / "network.hpp").read_bytes()


def _trained(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6)) * 4.0 + 1.0
    y = (X[:, 0] + X[:, 1] > 2.0).astype(int) + (X[:, 2] > 1.0)
    model = nf.Sequential([nf.Dense(12, "elu"), nf.Dense(8, "tanh"), nf.Dense(3, "softmax")], dtype=dtype)
    model.fit(X, y, epochs=3, standardize=True, verbose=False)
    return model, X


def _run(exe, model_file, X):
    rows = "\n".join(" ".join(repr(float(v)) for v in row) for row in X)
    out = subprocess.run([str(exe), str(model_file)], input=rows, capture_output=True, text=True, check=True).stdout
    return np.array([[float(v) for v in line.split()] for line in out.splitlines()])


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_predict_cpp_built_with_get_include_matches_the_one_row_path(tmp_path):
    import scipy_openblas32 as ob

    exe, lib = tmp_path / "predict", ob.get_lib_dir()
    subprocess.run(["g++", "-std=c++17", "-O1", f"-I{nf.get_include()}", f"-I{ob.get_include_dir()}",
                    "-DNNFAST_BLAS_SCIPY_OPENBLAS", str(ROOT / "examples" / "predict.cpp"), f"-L{lib}",
                    f"-l{ob.get_library()}", f"-Wl,-rpath,{lib}", "-o", str(exe)], check=True)
    model, X = _trained("float32")
    model.save(tmp_path / "m.nnf")
    X = X.astype(np.float32)
    out = _run(exe, tmp_path / "m.nnf", X).astype(np.float32)  # 9 digits: a float32 reads back exactly
    one_row = np.concatenate([model.forward(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_array_equal(out, one_row)
    np.testing.assert_array_equal(model.classes_[out.argmax(axis=1)], model.predict(X))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("g++") is None, reason="needs cmake and g++")
def test_examples_cmakelists_builds_against_the_installed_package(tmp_path):
    build = tmp_path / "build"
    # run from the checkout's root, as the README shows: CMake's `python -c "import nnfast"` runs in
    # the build directory, so it finds the installed package, not the checkout's uncompiled nnfast/
    subprocess.run(["cmake", "-S", str(ROOT / "examples"), "-B", str(build), f"-DPython3_EXECUTABLE={sys.executable}"],
                   check=True, capture_output=True, cwd=ROOT)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    model, X = _trained("float64")
    model.save(tmp_path / "m.nnf")
    out = _run(build / "predict", tmp_path / "m.nnf", X)  # 17 digits: a float64 reads back exactly
    np.testing.assert_array_equal(out, np.concatenate([model.forward(X[i:i + 1]) for i in range(len(X))]))
    np.testing.assert_allclose(out, model.predict_proba(X), rtol=1e-12, atol=1e-14)
