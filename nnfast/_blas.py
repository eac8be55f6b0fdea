"""Loading of the BLAS library that the compiled core links against.

The default build links OpenBLAS from the ``scipy-openblas32`` package. Its
library sits in that package, next to nnfast in site-packages, where the core's
rpath finds it; loading it here first also covers other layouts (editable and
user installs), because the dynamic loader reuses a library already loaded under
the same soname.
"""

from __future__ import annotations

import ctypes
import os


def preload() -> None:
    try:
        import scipy_openblas32
    except ImportError:  # built against another BLAS
        return
    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
