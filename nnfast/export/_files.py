"""Writing an export's files all or none: a full disk, a read-only directory or a path that
is a directory leaves the old files as they were and no new or half-written ones."""

from __future__ import annotations

import os
import secrets
from typing import List, Sequence, Tuple


def make_directory(directory: str) -> List[str]:
    """Create ``directory`` and its missing parents; returns the ones created, deepest
    last, for :func:`remove_directories` to undo. OSError names the path."""
    missing = []
    path = os.path.abspath(directory)
    while not os.path.exists(path):
        missing.append(path)
        path = os.path.dirname(path)
    made: List[str] = []
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except OSError as exc:
            remove_directories(made)
            raise type(exc)(exc.errno, f"cannot create the directory {path}: {exc.strerror or exc}") from None
        made.append(path)
    return made


def remove_directories(made: Sequence[str]) -> None:
    """Remove the directories :func:`make_directory` created, if they are still empty."""
    for path in reversed(made):
        try:
            os.rmdir(path)
        except OSError:
            return  # something else put a file there: keep it and its parents


def write_all(files: Sequence[Tuple[str, bytes]]) -> None:
    """Write each ``(path, data)``, all or none.

    Every file is first written whole to a temporary file beside it (permissions as a new
    file's under the umask), then the temporaries are renamed over the targets, which the
    system does whole. A failure while writing (a full disk, no permission) removes the
    temporaries and raises OSError naming the path; targets that are directories are
    refused before anything is written (IsADirectoryError).
    """
    for path, _ in files:
        if os.path.isdir(path):
            raise IsADirectoryError(21, f"cannot write {path}: it is a directory")
    written: List[Tuple[str, str]] = []
    try:
        for path, data in files:
            head, tail = os.path.split(os.path.abspath(path))
            temporary = os.path.join(head, f".{tail[:200]}.{secrets.token_hex(4)}.tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            written.append((temporary, path))
            with os.fdopen(descriptor, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    except OSError as exc:
        for temporary, _ in written:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        raise type(exc)(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
    for temporary, path in written:
        os.replace(temporary, path)
