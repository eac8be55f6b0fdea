"""nnfast: a minimal, fast neural-network engine for CPUs.

Hot loops (dense layers forward and backward, costs, optimizer updates, whole epochs)
run in C++ over BLAS; this package gives them a small Python API.

>>> import nnfast as nf
>>> X, y = nf.data.load_digits()
>>> hp = nf.Hyperparameters(hidden=(64,), epochs=2, standardize=True)
>>> model, history = nf.train(hp, X, y, verbose=False)
>>> sorted(history.keys())
['accuracy', 'loss', 'lr', 'time']
"""

# ``if TYPE_CHECKING:`` without importing typing (which ``import nnfast`` does not need):
# type checkers treat any name TYPE_CHECKING as true
TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import _core
else:
    from ._blas import load_core as _load_core

    _core = _load_core()
    del _load_core

from . import _lifecycle  # noqa: E402,F401 - fork and exit hooks, registered before any model exists

__version__ = _core.__version__

# Everything else loads on first use (PEP 562): ``import nnfast`` costs little more than
# NumPy's import (bench/import_time.py), and ``nf.train``, ``from nnfast import Dense``,
# ``nf.data`` and the rest work as if imported here.
_SUBMODULES = frozenset({"data", "diagnosis", "losses", "optimizers", "schedules", "callbacks", "hyperparams",
                         "io", "layers", "model", "training"})
_NAMES = {
    "Callback": "callbacks", "DivergenceWarning": "callbacks", "EarlyStopping": "callbacks",
    "History": "callbacks", "LearningRateWarning": "callbacks", "ProgressBar": "callbacks",
    "TimeLimit": "callbacks",
    "AutoTaskWarning": "_targets", "LabelColumnWarning": "_targets", "TargetWarning": "_targets",
    "Hyperparameters": "hyperparams",
    "load": "io", "save": "io",
    "Dense": "layers", "Dropout": "layers",
    "ModelBusyError": "model", "Sequential": "model",
    "SGD": "optimizers", "Adagrad": "optimizers", "Adam": "optimizers", "AdamW": "optimizers",
    "RMSProp": "optimizers",
    "train": "training",
}


if TYPE_CHECKING:  # what __getattr__ gives, seen by type checkers and IDEs
    from . import callbacks, data, diagnosis, hyperparams, io, layers, losses, model, optimizers, schedules, training
    from ._targets import AutoTaskWarning, LabelColumnWarning, TargetWarning
    from .callbacks import (Callback, DivergenceWarning, EarlyStopping, History, LearningRateWarning, ProgressBar,
                            TimeLimit)
    from .hyperparams import Hyperparameters
    from .io import load, save
    from .layers import Dense, Dropout
    from .model import ModelBusyError, Sequential
    from .optimizers import SGD, Adagrad, Adam, AdamW, RMSProp
    from .training import train


if not TYPE_CHECKING:  # type checkers see the names above, and an unknown name as an error

    def __getattr__(name: str) -> object:
        import importlib

        if name in _NAMES:
            value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        elif name in _SUBMODULES:
            value = importlib.import_module(f".{name}", __name__)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | _SUBMODULES | set(_NAMES))


from . import _threadpoolctl  # noqa: E402

_threadpoolctl.install()

__all__ = [
    "Hyperparameters", "train", "Sequential", "Dense", "Dropout", "load", "save",
    "SGD", "Adagrad", "RMSProp", "Adam", "AdamW",
    "History", "Callback", "EarlyStopping", "TimeLimit", "ProgressBar", "DivergenceWarning", "LearningRateWarning",
    "ModelBusyError",
    "TargetWarning", "LabelColumnWarning", "AutoTaskWarning",
    "data", "diagnosis", "losses", "optimizers", "schedules", "get_include",
    "set_num_threads", "get_num_threads", "usable_cpus", "blas_info",
]


def set_num_threads(n: int) -> None:
    """Threads nnfast may use (process-wide).

    The default is ``NNFAST_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the CPUs this
    process may use: its affinity mask (``taskset``, ``os.sched_setaffinity``), lowered
    to the cgroup CPU quota of a container where one is set. It is read once, when nnfast
    is imported: a process that changes its affinity later calls ``set_num_threads``
    (e.g. ``set_num_threads(usable_cpus())``). A variable that is not a positive integer
    is ignored, and one above the limit below lowered to it, each with a RuntimeWarning
    at import. Training splits each batch
    over up to ``n`` threads when the batch is big enough to be worth it, and prediction
    splits rows; the BLAS underneath runs single-threaded inside each. A run is
    reproducible for a given seed and thread count (the gradient sums are added in an
    order that depends on the split). ``threadpoolctl.threadpool_limits`` limits these
    threads too. With ``n >= 2``, one-row predictions that arrive in a stream through a
    layer of 65,536 weights or more use a partner thread on a second core, which spins
    for about 1-2 ms after the last of them (README, "Threading contract"); ``n = 1``
    turns it off.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is below 1 or above 4 threads per usable CPU (at most 256).
    """
    from ._validation import check_int

    n, most = check_int(n, "n"), _core.max_threads()
    if not 1 <= n <= most:  # said here for any integer: the core takes 64-bit ones only
        raise ValueError(f"the thread count must be between 1 and {most} (4 per CPU this process may use, "
                         f"{usable_cpus()}, and at most 256), got {n}")
    _core.set_num_threads(n)


def _check_thread_variables() -> None:
    """Say so when a thread-count variable is not used as written (the core's rule,
    csrc/parallel.hpp default_threads: the first positive integer wins)."""
    import os
    import re
    import warnings

    for name in ("NNFAST_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if not value:
            continue
        if not (re.fullmatch(r"\s*[+-]?[0-9]+", value, flags=re.ASCII) and int(value) >= 1):  # strtol's form
            warnings.warn(f"{name}={value!r} is not a positive integer: nnfast ignores it", RuntimeWarning,
                          stacklevel=3)
            continue
        if int(value) > _core.max_threads():
            warnings.warn(f"{name}={value} is more than nnfast's limit of {_core.max_threads()} threads (4 per "
                          f"usable CPU, at most 256): it uses {_core.max_threads()}", RuntimeWarning, stacklevel=3)
        return


_check_thread_variables()


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, lowered to the cgroup CPU quota."""
    return _core.usable_cpus()


def get_num_threads() -> int:
    """Threads nnfast may use."""
    return _core.get_num_threads()


def blas_info() -> str:
    """Which BLAS nnfast is linked to, its build configuration and the CPU kernel it chose."""
    return _core.blas_info()


def get_include() -> str:
    """The directory of nnfast's header-only C++ core, for programs that read model files.

    ``#include "model_file.hpp"`` there gives ``nnfast::read_model_file`` and
    ``nnfast::network_from_file`` (see examples/predict.cpp and examples/CMakeLists.txt);
    the program also needs a CBLAS, e.g. scipy_openblas32's (``get_include_dir()``,
    ``get_lib_dir()``, ``get_library()``). An installed nnfast ships the headers as
    ``nnfast/include/``; an editable install or a checkout built in place gives its ``csrc/``.

    Raises FileNotFoundError when neither holds the headers (a broken install).
    """
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    for directory in (os.path.join(here, "include"), os.path.join(os.path.dirname(here), "csrc")):
        if os.path.isfile(os.path.join(directory, "model_file.hpp")):
            return directory
    raise FileNotFoundError(f"nnfast's C++ headers are missing: neither {here}/include nor a checkout's csrc/ holds "
                            f"model_file.hpp; reinstall nnfast")
