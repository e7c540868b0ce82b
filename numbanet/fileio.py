"""Writing files so that a failure never destroys the previous one.

Every numbanet writer (``nb.save``, graph saves, Keras models, weights and checkpoints)
goes through :func:`write_atomically`: the bytes go to a temporary file in the target's
own folder, are flushed to the disk, and only then renamed over the target. A full disk,
an exception in the middle or a killed process leaves the old file as it was (and no
half-written file under its name).
"""
from __future__ import annotations

import os
import tempfile
from typing import Callable, IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path, write: Callable[[IO[bytes]], None], what: str = "save") -> None:
    """Call ``write(f)`` on a binary file that becomes ``path`` once it is complete.

    ``what`` names the caller in errors (``"save"``, ``"Model.save"``, ...). A missing
    folder is a ``FileNotFoundError`` that names the target, not the temporary file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what}: can't write {path!r}: the folder {folder!r} does not "
                                "exist; create it first (os.makedirs(folder, exist_ok=True))")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: can't write {path!r}: it is a folder; give a file "
                                "name inside it")
    fd, tmp = tempfile.mkstemp(prefix=".numbanet-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
