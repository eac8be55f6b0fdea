"""nnfast's thread pool, seen and limited by threadpoolctl (>= 3.5, which takes custom controllers).

``threadpoolctl.threadpool_info()`` lists nnfast (user_api and internal_api "nnfast"), and
``threadpool_limits(n)`` caps nnfast's threads like those of BLAS and OpenMP, as
scikit-learn and joblib do around parallel work. The compiled module exports plain C
functions for this (``nnfast_get_num_threads``, ``nnfast_set_num_threads``,
``nnfast_version``); threadpoolctl finds the module among the loaded libraries by its
file name (``_core...``) and keeps it only if it has them.

``import nnfast`` does not import threadpoolctl: when it is already imported the
controller is registered at once, otherwise on its first import (a one-shot import hook).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any


def _controller_class(threadpoolctl: ModuleType) -> type:
    # the base class comes from the module object given (threadpoolctl ships no types)
    base: Any = threadpoolctl.LibController

    class NnfastController(base):  # type: ignore[misc]  # subclassing Any: see base above
        user_api = "nnfast"
        internal_api = "nnfast"
        filename_prefixes = ("_core",)
        check_symbols = ("nnfast_get_num_threads", "nnfast_set_num_threads")

        # threadpoolctl builds a controller for every library whose name matches before it
        # looks for check_symbols: each method must survive a foreign "_core" library
        def get_num_threads(self) -> int | None:
            getter = getattr(self.dynlib, "nnfast_get_num_threads", None)
            return None if getter is None else getter()

        def set_num_threads(self, num_threads: int) -> None:
            setter = getattr(self.dynlib, "nnfast_set_num_threads", None)
            if setter is not None:
                setter(int(num_threads))

        def get_version(self) -> str | None:
            version = getattr(self.dynlib, "nnfast_version", None)
            if version is None:
                return None
            import ctypes

            version.restype = ctypes.c_char_p
            text: bytes = version()
            return text.decode()

    return NnfastController


def register(threadpoolctl: ModuleType) -> None:
    """Register nnfast's controller with a threadpoolctl module that can take one."""
    if hasattr(threadpoolctl, "register") and hasattr(threadpoolctl, "LibController"):
        threadpoolctl.register(_controller_class(threadpoolctl))


class _RegisterOnImport:
    """A meta path finder that steps aside for threadpoolctl's own import and registers
    nnfast's controller once that module has run; it removes itself on first use."""

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if name != "threadpoolctl":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            return None
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            try:
                register(module)
            except Exception:  # noqa: BLE001 - an unexpected threadpoolctl must not break its import
                pass

        setattr(spec.loader, "exec_module", exec_module)  # on this loader object only
        return spec


def install() -> None:
    """Register now if threadpoolctl is imported, else when it is."""
    module = sys.modules.get("threadpoolctl")
    if module is not None:
        register(module)
    elif not any(isinstance(finder, _RegisterOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
