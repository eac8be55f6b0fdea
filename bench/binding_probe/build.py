#!/usr/bin/env python
"""Builds the binding probe's two extension modules in place (bench/binding_probe/README.md):

    pip install cython          # only for this probe: nnfast does not depend on Cython
    python bench/binding_probe/build.py

_pb_probe (pybind11) and _cy_probe (Cython) compile csrc/'s header-only network with the
flags and the BLAS of nnfast's own build (setup.py: -O3 -fno-math-errno -fno-trapping-math,
C++17, scipy-openblas32, hidden visibility), so the probes differ from nnfast's core only
in the binding. Outputs: the two .so files here, everything else under build/ (ignored).
"""

import os
import sys
from pathlib import Path

import numpy as np
import scipy_openblas32
from Cython.Build import cythonize
from pybind11.setup_helpers import Pybind11Extension
from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = HERE / "build"

common = dict(
    include_dirs=[str(HERE), str(ROOT / "csrc"), scipy_openblas32.get_include_dir()],
    define_macros=[("NNFAST_BLAS_SCIPY_OPENBLAS", "1")],
    library_dirs=[scipy_openblas32.get_lib_dir()],
    libraries=[scipy_openblas32.get_library()],
    extra_link_args=[f"-Wl,-rpath,{scipy_openblas32.get_lib_dir()}"],
    depends=[str(HERE / "probe.hpp"), *map(str, sorted((ROOT / "csrc").glob("*.hpp")))],
)
flags = ["-O3", "-fno-math-errno", "-fno-trapping-math"]

pb = Pybind11Extension("_pb_probe", [str(HERE / "_pb_probe.cpp")], cxx_std=17, extra_compile_args=flags,
                       **{k: list(v) for k, v in common.items()})
cy_settings = {k: list(v) for k, v in common.items()}
cy_settings["include_dirs"].append(np.get_include())
cy_settings["define_macros"].append(("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"))
cy = Extension("_cy_probe", [str(HERE / "_cy_probe.pyx")], language="c++",
               extra_compile_args=["-std=c++17", "-fvisibility=hidden", *flags], **cy_settings)

if __name__ == "__main__":
    os.chdir(HERE)
    setup(name="nnfast-binding-probe", ext_modules=[pb, *cythonize([cy], build_dir=str(BUILD), quiet=True)],
          script_args=["build_ext", "--inplace", "--build-temp", str(BUILD / "temp")])
    sys.exit(0)
