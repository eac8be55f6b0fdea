"""Build of nnfast's compiled core, nnfast._core.

Which BLAS: NNFAST_BLAS selects it at build time.
  scipy-openblas (default)  OpenBLAS from PyPI's scipy-openblas32, the one NumPy and
                            SciPy build against; found through its package, loaded at
                            run time from the installed scipy_openblas32 package.
  openblas                  a system OpenBLAS (e.g. Debian's libopenblas-dev).
  cblas                     any other CBLAS; set NNFAST_BLAS_LIBS (comma-separated
                            library names, default "cblas") and NNFAST_BLAS_INCLUDE.
NNFAST_NATIVE=1 adds -march=native: faster on the build machine, not portable, so
never set for wheels.
"""

import os
import sys
from glob import glob

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup
from setuptools.command.build_py import build_py

VERSION = "0.1.0"


def blas_settings():
    choice = os.environ.get("NNFAST_BLAS", "scipy-openblas")
    include = [d for d in os.environ.get("NNFAST_BLAS_INCLUDE", "").split(os.pathsep) if d]
    if choice == "scipy-openblas":
        import scipy_openblas32

        origin = "@loader_path" if sys.platform == "darwin" else "$ORIGIN"
        return {
            "define_macros": [("NNFAST_BLAS_SCIPY_OPENBLAS", "1")],
            "include_dirs": [scipy_openblas32.get_include_dir()],
            "library_dirs": [scipy_openblas32.get_lib_dir()],
            "libraries": [scipy_openblas32.get_library()],
            # The library lives in the scipy_openblas32 package next to nnfast in
            # site-packages; nnfast/_blas.py also preloads it for other layouts.
            # (@loader_path is macOS's $ORIGIN; the macOS build is untested here.)
            "extra_link_args": [f"-Wl,-rpath,{origin}/../scipy_openblas32/lib"],
        }
    if choice == "openblas":
        return {"define_macros": [("NNFAST_BLAS_OPENBLAS", "1")], "include_dirs": include or ["/usr/include/openblas"],
                "libraries": ["openblas"]}
    if choice == "cblas":
        libs = os.environ.get("NNFAST_BLAS_LIBS", "cblas").split(",")
        return {"define_macros": [("NNFAST_BLAS_CBLAS", "1")], "include_dirs": include, "libraries": libs}
    sys.exit(f"NNFAST_BLAS={choice!r} is not one of scipy-openblas, openblas, cblas")


blas = blas_settings()
# -fno-math-errno: lets sqrt/exp loops vectorise; nnfast never reads errno after math calls.
# -fno-trapping-math: lets compare-and-select loops (relu and its derivative) vectorise
# (189 us -> 10 us for relu' on 128x256 here); nnfast never enables FP exceptions.
compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
if os.environ.get("NNFAST_NATIVE") == "1":
    compile_args.append("-march=native")

core = Pybind11Extension(
    "nnfast._core",
    sorted(glob("csrc/*.cpp")),
    depends=sorted(glob("csrc/*.hpp")),  # rebuild when a kernel header changes
    cxx_std=17,
    include_dirs=["csrc", *blas["include_dirs"]],
    define_macros=[("NNFAST_VERSION", f'"{VERSION}"'), *blas["define_macros"]],
    library_dirs=blas.get("library_dirs", []),
    libraries=blas["libraries"],
    extra_compile_args=compile_args,
    extra_link_args=blas.get("extra_link_args", []),
)



class build_py_with_headers(build_py):
    """Also copies the header-only C++ core (csrc/*.hpp) into the package as nnfast/include/,
    which nnfast.get_include() returns: a program can read and run model files against an
    installed nnfast (examples/CMakeLists.txt). An editable install or an in-place build
    has no copy: get_include() then returns the checkout's csrc/."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = os.path.join(self.build_lib, "nnfast", "include")
        self.mkpath(target)
        for header in sorted(glob("csrc/*.hpp")):
            self.copy_file(header, target)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [os.path.join(self.build_lib, "nnfast", "include", os.path.basename(h))
                          for h in sorted(glob("csrc/*.hpp"))]


setup(version=VERSION, ext_modules=[core], cmdclass={"build_ext": build_ext, "build_py": build_py_with_headers})
