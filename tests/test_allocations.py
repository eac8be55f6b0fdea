"""The batch loop allocates nothing: counted with a replaced operator new in a C++ build."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("threads", [1, 2])
def test_an_epoch_allocates_the_same_whatever_its_number_of_batches(tmp_path, threads):
    import scipy_openblas32 as ob

    exe = tmp_path / "allocations"
    lib = ob.get_lib_dir()
    subprocess.run(["g++", "-std=c++17", "-O1", "-pthread", f"-I{ROOT / 'csrc'}", f"-I{ob.get_include_dir()}",
                    "-DNNFAST_BLAS_SCIPY_OPENBLAS", str(ROOT / "tests" / "cpp" / "allocations.cpp"), f"-L{lib}",
                    f"-l{ob.get_library()}", f"-Wl,-rpath,{lib}", "-o", str(exe)], check=True)
    out = subprocess.run([str(exe), str(threads)], capture_output=True, text=True, check=True).stdout
    ten, eighty, used = map(int, re.search(r"epoch_allocations (\d+) (\d+) threads (\d+)", out).groups())
    assert used == threads
    assert ten == eighty, f"an epoch of 80 batches allocated {eighty} times, one of 10 batches {ten}"
    assert ten < 20  # per-epoch bookkeeping only
