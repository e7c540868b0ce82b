"""Files: writing them so that a failure never destroys the previous one, and reading
numbanet's ZIP archives without trusting what they declare.

Every numbanet writer (``nb.save``, graph saves, Keras models, weights and checkpoints)
goes through :func:`write_atomically`: the bytes go to a temporary file in the target's
own folder, are flushed to the disk, and only then renamed over the target. A full disk,
an exception in the middle or a killed process leaves the old file as it was (and no
half-written file under its name).

Readers open archives with :func:`open_zip` and take their members through
:func:`read_json_member` and :func:`read_npy_member`, which check every declared size
(the member's inflated size, the array header's shape) against the bytes really there
before allocating anything.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
import zlib
from typing import IO, Callable

import numpy as np
import numpy.lib.format as npformat


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


# ---- reading archives without trusting their declared sizes --------------------------------
# A member may inflate to at most this many times its compressed size, or to _SMALL bytes,
# whichever is larger. numbanet writes its own archives uncompressed (ratio 1); deflate
# cannot exceed about 1032:1, which only a crafted member (all zeros) approaches.
_RATIO = 200
_SMALL = 64 << 20
_JSON_LIMIT = 64 << 20


class ArchiveError(ValueError):
    """A numbanet archive (``.nbz``, ``.nbg``, ``.keras``) that is damaged or crafted."""


def _member_info(z: zipfile.ZipFile, member: str, where: str) -> zipfile.ZipInfo:
    try:
        info = z.getinfo(member)
    except KeyError:
        raise ArchiveError(f"{where}: the member {member!r} is missing; the file is damaged or "
                           "incomplete") from None
    if info.file_size > max(_SMALL, _RATIO * info.compress_size):
        raise ArchiveError(f"{where}: the member {member!r} declares {info.file_size} bytes "
                           f"from {info.compress_size} compressed bytes; numbanet refuses "
                           "members that inflate this much (a compression bomb)")
    return info


def read_json_member(z: zipfile.ZipFile, member: str, where: str):
    """The JSON document in ``member``; ``where`` (the op and file) starts every error."""
    info = _member_info(z, member, where)
    if info.file_size > _JSON_LIMIT:
        raise ArchiveError(f"{where}: {member!r} is {info.file_size} bytes, more than the "
                           f"{_JSON_LIMIT} that a numbanet header may have")
    try:
        return json.loads(z.read(member))
    except (ValueError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
        raise ArchiveError(f"{where}: {member!r} can't be read ({type(e).__name__}: {e}); the "
                           "file is damaged") from e


def read_npy_member(z: zipfile.ZipFile, member: str, where: str) -> np.ndarray:
    """The array in the ``.npy`` member ``member``, read without pickle, and only after its
    header's shape and dtype have been checked against the member's real size, so a
    header that claims 10^12 floats fails before anything is allocated."""
    info = _member_info(z, member, where)
    try:
        with z.open(info) as f:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npformat.read_array_header_2_0(f)
            else:
                raise ValueError(f"unknown .npy format version {version}")
            if dtype.hasobject:
                raise ValueError(f"dtype {dtype} holds Python objects, which numbanet never "
                                 "loads")
            header_bytes = f.tell()
            count = math.prod(shape)
            if any(d < 0 for d in shape) or header_bytes + count * dtype.itemsize \
                    != info.file_size:
                raise ValueError(f"its header declares shape {tuple(shape)} of {dtype} "
                                 f"({count * dtype.itemsize} bytes), but the member holds "
                                 f"{info.file_size - header_bytes} bytes of data")
            data = f.read(count * dtype.itemsize)
            array = np.frombuffer(data, dtype=dtype, count=count)
    except (ValueError, TypeError, SyntaxError, zipfile.BadZipFile, EOFError, OSError,
            zlib.error) as e:
        raise ArchiveError(f"{where}: the array {member!r} is damaged or crafted "
                           f"({type(e).__name__}: {e})") from e
    array = array.reshape(shape, order="F" if fortran else "C")
    return np.array(array, order="C")  # writable and C-contiguous, owning its memory


def open_zip(path, where: str) -> zipfile.ZipFile:
    """``path`` opened as a ZIP archive; FileNotFoundError when it is missing, ArchiveError
    (a ValueError naming the file, the zip error chained) when it is not a ZIP."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no such file {path!r}")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ArchiveError(f"{where}: {path!r} is not a ZIP archive ({type(e).__name__}: {e}); "
                           "it may be truncated, corrupted or of another format") from e
