"""Loading of the compiled core and of the BLAS library it links against.

The default build links OpenBLAS from the ``scipy-openblas32`` package. In an
installed wheel or ``pip install .`` the library sits in that package next to
nnfast in site-packages, where the core's rpath (``$ORIGIN/../scipy_openblas32/lib``)
finds it: the core then loads with no help and the ``scipy_openblas32`` Python
package is not imported (its import costs some 40 ms, most of it in
``importlib.metadata``). Other layouts (an editable install or a checkout built in
place, a user install beside a system one) leave the rpath pointing nowhere: the
core's import fails naming the missing library, and only then is the library located
through the package's files and loaded by path with ``RTLD_GLOBAL``, after which the
core loads, because the dynamic loader reuses a library already loaded under the
same soname.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing itself is not imported by ``import nnfast``
if TYPE_CHECKING:
    from types import ModuleType

#: True when the BLAS library had to be loaded by path before the core (see the module docstring)
preloaded = False


def _library_path() -> str | None:
    """The scipy_openblas32 shared library's path, found without running the package
    (``importlib.util.find_spec`` gives its directory); None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or not spec.submodule_search_locations:
        return None
    for package in spec.submodule_search_locations:
        lib = os.path.join(package, "lib")
        if not os.path.isdir(lib):
            continue
        names = sorted(name for name in os.listdir(lib) if name.startswith("libscipy_openblas")
                       and (".so" in name or name.endswith(".dylib") or name.endswith(".dll")))
        if names:
            return os.path.join(lib, names[0])
    return None


def _preload() -> bool:
    """Load scipy_openblas32's library globally; False when there is none to load."""
    path = _library_path()
    if path is None:
        try:  # a layout this search does not know: ask the package itself
            import scipy_openblas32
        except ImportError:
            return False
        path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
    import ctypes

    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    return True


def load_core() -> ModuleType:
    """Import and return ``nnfast._core``, loading its BLAS library first only when the
    core cannot find it by itself.

    Raises the core's ImportError when it fails for another reason, or when no
    scipy_openblas32 library is there to load.
    """
    global preloaded
    try:
        from . import _core
    except ImportError as error:
        _refuse_an_unbuilt_tree(error)
        if "scipy_openblas" not in str(error) or not _preload():
            raise
        from . import _core

        preloaded = True
    return _core


def _refuse_an_unbuilt_tree(error: ImportError) -> None:
    """Raise a clear ImportError when this package directory holds no compiled core at all:
    a source tree imported as it is (typically Python run from inside the nnfast checkout,
    which shadows the installed package), rather than Python's "partially initialized
    module" message."""
    import importlib.machinery

    here = os.path.dirname(os.path.abspath(__file__))
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    if any(name.startswith("_core.") and name.endswith(suffixes) for name in os.listdir(here)):
        return
    raise ImportError(
        f"nnfast's compiled core is not in {here}: this is a source tree that was not built. "
        f"Run Python from another directory to use the installed nnfast (inside the nnfast "
        f"checkout, its nnfast/ directory shadows it), or build this tree: pip install -e . "
        f"(or python setup.py build_ext --inplace)") from error
