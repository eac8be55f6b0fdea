"""What every command shares: the one-line error, checks of output paths before any work,
the task line, and the formatting of scores."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any, List, Mapping, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..hyperparams import Hyperparameters
    from ..model import Sequential


class CommandError(Exception):
    """A problem with the user's input, reported as one line and exit status 1."""


def require_tune() -> None:
    """Import nnfast.tune, or raise CommandError (one line) when its extra is not installed.
    The caller then imports what it needs from it (by name, so its types are known)."""
    try:
        from .. import tune  # noqa: F401
    except ImportError as exc:
        raise CommandError(str(exc)) from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- outputs: checked before any work goes into filling them ------------------------------

def check_output(path: Optional[str], option: str, *, replaced: bool = True, inputs: Sequence[Optional[str]] = ()) -> None:
    """Raise CommandError unless ``path`` can be written, before hours of work go into it.

    ``option`` names the command-line option in the message (``--out``). The file may
    exist (it is replaced) or not; its directory must exist, be a directory and accept
    a new file: checked by creating and removing a temporary one there, since only
    trying tells (a read-only file system, a directory of /proc, permissions that
    root ignores). ``replaced``: the file is written as a new file beside it and
    renamed (model files, reports), so the directory must accept files even when the
    file exists, and an existing path must be a regular file (or a link to one): a
    device, FIFO or socket is refused (renaming over /dev/null would replace the device;
    opening a FIFO here would wait for a reader). ``inputs``: files the command reads (its data, its model), which the
    output must not be: writing it would destroy what was read.
    """
    if not path:
        return
    shown = f"{option} {path}"
    for source in inputs:
        if source and os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
            raise CommandError(f"{shown} is the file the command reads ({source}); writing it would replace it: "
                               f"give another file name")
    if os.path.isdir(path):
        raise CommandError(f"{shown} is a directory; give a file name, e.g. {os.path.join(path, 'out')}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        missing = os.path.dirname(path) or directory
        reason = f"{missing} is not a directory" if os.path.exists(directory) else f"there is no directory {missing}"
        raise CommandError(f"cannot write {shown}: {reason}")
    exists = os.path.exists(path)
    if replaced and exists and not os.path.isfile(path):  # a rename over it would replace the device itself
        raise CommandError(f"{shown} is not a regular file (a device, a FIFO or a socket): it is never replaced; "
                           f"give a file name")
    try:
        if exists:
            with open(path, "ab"):  # opens for writing without changing a byte (or the mtime)
                pass
        if replaced or not exists:
            fd, probe = tempfile.mkstemp(prefix=".nnfast-check-", dir=directory)
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise CommandError(f"cannot write {shown}: {exc.strerror or first_line(exc)}") from None


def check_fraction(value: float, option: str) -> None:
    """Raise CommandError unless ``value`` is strictly between 0 and 1 (``option`` names it)."""
    if not 0.0 < value < 1.0:
        raise CommandError(f"{option} must be between 0 and 1, got {value}")


def save_model(model: Sequential, path: str, feature_names: Optional[List[str]] = None) -> None:
    """model.save(path), a failure (a disk that filled up) as a one-line error. The names of
    the CSV header's feature columns, when given and distinct, are saved with the model
    (``nnfast predict`` checks a header against them)."""
    if feature_names is not None and len(set(feature_names)) == len(feature_names):
        model.feature_names_in_ = np.array(feature_names, dtype=object)
    try:
        model.save(path)
    except (OSError, RuntimeError) as exc:
        raise CommandError(f"cannot save the model to {path}: {first_line(exc)}") from None


def check_columns(model: Sequential, X: np.ndarray, feature_names: Optional[List[str]], data: str, model_file: str,
                  label_hint: bool = False) -> None:
    """Raise CommandError unless the rows ``X`` of ``data`` (with the CSV header's
    ``feature_names``, when it has one) hold the features ``model`` was trained on: as many
    columns, and the same names in the same order when both sides know them. The
    messages name ``data`` and ``model_file``; with ``label_hint`` (rows read without a
    target) a column too many is pointed out as a likely label column to leave out."""
    if X.shape[1] != model.n_inputs:
        hint = (" (is one of them a label column? leave it out with --target)"
                if X.shape[1] == model.n_inputs + 1 and label_hint else "")
        raise CommandError(f"{data} has {X.shape[1]} feature columns but {model_file} takes {model.n_inputs}{hint}")
    from .._validation import column_mismatch

    fitted = model.feature_names_in_
    names = None if feature_names is None else np.array(feature_names, dtype=object)
    problem = column_mismatch(fitted, names)
    if problem is not None and fitted is not None:
        raise CommandError(f"the header of {data}: its feature columns {problem}; the model's: "
                           f"{', '.join(map(str, fitted.tolist()))}")


# --- what the commands print ------------------------------------------------------------

def describe_task(hp: Hyperparameters, y: Any) -> str:
    """What training ``hp`` on targets ``y`` will learn, in words: ``"classification (10 classes)"``,
    ``"regression"``, ``"regression (3 outputs)"``, ``"multi-label classification (4 labels)"``.

    The one place the command line decides what to call the task: it asks the rule
    training follows, :meth:`Hyperparameters.resolve_task` (its warnings are training's to give).
    """
    choice = hp.resolve_task(y, warn=False)
    loss, arr = choice.loss, np.asarray(choice.y)
    if loss in ("mse", "mae"):
        return "regression" if arr.ndim == 1 else f"regression ({arr.shape[1]} outputs)"
    if arr.ndim == 2:
        if loss == "binary_cross_entropy":
            return f"multi-label classification ({arr.shape[1]} labels)"
        return f"classification ({arr.shape[1]} classes, one-hot)"
    try:
        n = len(np.unique(arr))
    except TypeError:  # labels of mixed types: training will refuse them in its own words
        return "classification"
    return f"classification ({n} class{'es' if n != 1 else ''})"


def scores_text(scores: Mapping[str, float]) -> str:
    """``accuracy: 0.9806   cost: 0.0712`` (the metric first, the cost last)."""
    parts = [f"{k}: {v:.4f}" for k, v in scores.items() if k != "loss"]
    if "loss" in scores:
        parts.append(f"cost: {scores['loss']:.4f}")
    return "   ".join(parts)
