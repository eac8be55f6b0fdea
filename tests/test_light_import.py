"""``import nnfast`` is light (issue 13): the heavy modules load on first use, the BLAS
library is located only when the core's rpath misses it, the thread pool starts on the
first parallel call. Import *times* are measured in bench/import_time.py, not here."""

import os
import subprocess
import sys
import tempfile

import pytest

import nnfast as nf


def child(code: str, **env: str) -> str:
    """stdout of ``code`` run in a fresh interpreter, outside the checkout (whose nnfast/ has
    no built core when CI tests an installed package)."""
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, cwd=tempfile.gettempdir()).stdout.strip()


def test_import_loads_no_heavy_module():
    out = child("import sys, nnfast\n"
                "print(nnfast._blas.preloaded)\n"
                "print(' '.join(sorted(sys.modules)))")
    preloaded, modules = out.splitlines()
    modules = set(modules.split())
    assert not modules & {"scipy_openblas32", "json", "difflib", "dataclasses", "numpy", "importlib.metadata"}
    lazy = {"data", "diagnosis", "losses", "optimizers", "schedules", "callbacks", "hyperparams", "io", "layers",
            "model", "training", "_convert", "_targets"}
    assert not modules & {f"nnfast.{name}" for name in lazy}
    # the BLAS library is loaded by path (ctypes) only where the core's rpath misses it (editable installs)
    assert preloaded == "True" or "ctypes" not in modules


def test_training_loads_no_json_or_difflib():
    out = child("import sys\nimport numpy as np\nimport nnfast as nf\n"
                "X = np.random.default_rng(0).random((200, 4)); y = (X[:, 0] > 0.5).astype(int)\n"
                "nf.train(nf.Hyperparameters(hidden=(8,), epochs=1), X, y, verbose=False)\n"
                "print(sorted({'json', 'difflib', 'scipy_openblas32'} & set(sys.modules)))")
    assert out == "[]"


def test_every_public_name_resolves_lazily_in_a_fresh_process():
    out = child("import nnfast\n"
                "missing = [name for name in nnfast.__all__ if getattr(nnfast, name, None) is None]\n"
                "print(missing, set(nnfast.__all__) <= set(dir(nnfast)))")
    assert out == "[] True"
    out = child("from nnfast import *\nfrom nnfast import Sequential, train, Hyperparameters\n"
                "print(Sequential.__module__, train.__module__, Hyperparameters.__module__, data.__name__)")
    assert out == "nnfast.model nnfast.training nnfast.hyperparams nnfast.data"


def test_lazy_names_are_the_modules_objects():
    from nnfast import callbacks, io, model, training

    assert nf.train is training.train and nf.Sequential is model.Sequential
    assert nf.load is io.load and nf.EarlyStopping is callbacks.EarlyStopping
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        nf.no_such_name  # noqa: B018


def test_blas_info_and_the_library_search():
    assert "OpenBLAS" in nf.blas_info() or "CBLAS" in nf.blas_info()
    if "scipy-openblas32" in nf.blas_info():
        path = nf._blas._library_path()
        assert path is not None and os.path.isfile(path) and "scipy_openblas" in os.path.basename(path)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
def test_the_thread_pool_starts_on_first_parallel_call_not_at_import():
    out = child("import os\n"
                "import nnfast as nf\n"
                "at_import = len(os.listdir('/proc/self/task'))\n"
                "import numpy as np\n"
                "before = len(os.listdir('/proc/self/task'))\n"
                "rng = np.random.default_rng(0)\n"
                "X, y = rng.random((4000, 20), dtype=np.float32), rng.random(4000, dtype=np.float32)\n"
                "hp = nf.Hyperparameters(hidden=(64,), epochs=1, batch_size=2000, seed=0)\n"
                "model, _ = nf.train(hp, X, y, verbose=False)\n"
                "print(before, len(os.listdir('/proc/self/task')), model._core_net().last_threads)",
                NNFAST_NUM_THREADS="2")
    before, after, used = map(int, out.split())
    assert used == 2
    assert after == before + 1  # the pool's one worker (the caller is part 0), started by the training


def test_an_unbuilt_source_tree_says_so_on_import(tmp_path):
    # Python run inside the checkout imports its nnfast/ (no compiled core in CI, which tests
    # the installed package): it said "cannot import name '_core' from partially initialized
    # module 'nnfast' (most likely due to a circular import)"
    import shutil

    shutil.copytree(os.path.dirname(nf.__file__), tmp_path / "nnfast",
                    ignore=shutil.ignore_patterns("_core.*.so", "_core.*.pyd", "__pycache__"))
    assert not list((tmp_path / "nnfast").glob("_core.*.so"))
    proc = subprocess.run([sys.executable, "-c", "import nnfast"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: nnfast's compiled core is not in "), last
    assert "Run Python from another directory" in last and "pip install -e ." in last
