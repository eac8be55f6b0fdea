"""Writing an export's files all or none: a full disk, a read-only directory or a path that
is a directory leaves the old files as they were and no new or half-written ones."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from typing import List, Optional, Sequence, Tuple


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
            raise _error(type(exc), exc.errno, f"cannot create the directory {path}: {exc.strerror or exc}") from None
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

    Every file is first written whole to a temporary file beside it (with a replaced file's
    permission bits, else a new file's under the umask), then the temporaries are renamed
    over the targets, which the system does whole. A target that is a symbolic link has
    the file it points to replaced (the link stays). Refused before anything is written: a target that exists
    and is not a regular file (a directory, a device such as /dev/null, a FIFO: renaming
    over it would replace it), and a file name longer than its directory allows. A failure
    while writing or renaming (a full disk, no permission) removes every temporary and
    raises OSError naming the path, its ``errno`` set.
    """
    targets = []
    for path, data in files:
        try:
            real = os.path.realpath(path, strict=False)
            if os.path.islink(real):  # realpath stops at a link it cannot resolve: a loop
                raise OSError(errno.ELOOP, "")
        except OSError:
            raise _error(OSError, errno.ELOOP, f"cannot write {path}: its symbolic links form a loop") from None
        if os.path.exists(real) and not os.path.isfile(real):
            kind = "a directory" if os.path.isdir(real) else "not a regular file (a device, a FIFO or a socket)"
            raise _error(IsADirectoryError if os.path.isdir(real) else OSError, errno.EEXIST,
                         f"cannot write {path}: it is {kind}, which is never replaced")
        head, tail = os.path.split(real)
        try:
            too_long = len(os.fsencode(tail)) > os.pathconf(head, "PC_NAME_MAX")
        except (OSError, ValueError):
            too_long = False  # no such limit known: the rename tells
        if too_long:
            raise _error(OSError, errno.ENAMETOOLONG, f"cannot write {path}: its file name is too long")
        targets.append((real, path, data))
    written: List[Tuple[str, str]] = []
    try:
        for real, path, data in targets:
            head, tail = os.path.split(real)
            # a short name beside the target: cut in bytes (200 characters of "é" are 400 bytes)
            stem = os.fsdecode(os.fsencode(tail)[:100]) if len(os.fsencode(tail)) > 100 else tail
            temporary = os.path.join(head, f".{stem}.{secrets.token_hex(4)}.tmp")
            try:
                descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                written.append((temporary, real))
                with os.fdopen(descriptor, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                if os.path.isfile(real):  # a replaced file keeps its permission bits (a private 0600 stays so)
                    os.chmod(temporary, stat.S_IMODE(os.stat(real).st_mode))
            except OSError as exc:
                raise _error(type(exc), exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
        for index, (temporary, real) in enumerate(written):
            try:
                os.replace(temporary, real)
            except OSError as exc:
                written = written[index:]
                raise _error(type(exc), exc.errno, f"cannot write {real}: {exc.strerror or exc}") from None
        written = []
    finally:
        for temporary, _ in written:  # what was not renamed, after a failure
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _error(kind: type, number: Optional[int], message: str) -> OSError:
    """An OSError of ``kind`` whose text is ``message`` alone (not "[Errno N] ..."), its
    ``errno`` set."""
    error: OSError = kind(message)
    error.errno = number
    return error
