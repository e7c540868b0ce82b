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

import io
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
    try:  # the new file keeps the old one's permissions, as open(path, 'wb') would
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()  # mkstemp makes 0600; give the usual permissions
    try:
        fd, tmp = tempfile.mkstemp(prefix=".numbanet-", suffix=".tmp", dir=folder)
    except OSError as e:
        raise _naming(e, what, path) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _naming(e, what, path) from e
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


def _naming(e: OSError, what: str, path: str) -> OSError:
    """``e`` (a full disk, a refused folder...) said of ``path``, not of the temporary file;
    the same errno, so the same OSError subclass."""
    message = f"{what}: can't write {path!r}: {e.strerror or e}; a file already there is " \
              "unchanged"
    return OSError(e.errno, message) if e.errno is not None else OSError(message)


# ---- reading archives without trusting their declared sizes --------------------------------
# A member may inflate to at most this many times its compressed size, or to _SMALL bytes,
# whichever is larger. numbanet writes its own archives uncompressed (ratio 1); deflate
# cannot exceed about 1032:1, which only a crafted member (all zeros) approaches.
_RATIO = 200
_SMALL = 64 << 20
# A JSON header becomes Python objects 20 to 60 times its size, so it gets a smaller floor:
# only its real size, not its inflated one, may bring it near _JSON_LIMIT.
_JSON_SMALL = 1 << 20
_JSON_LIMIT = 64 << 20


class ArchiveError(ValueError):
    """A numbanet archive (``.nbz``, ``.nbg``, ``.keras``) that is damaged or crafted."""


def _member_info(z: zipfile.ZipFile, member: str, where: str) -> zipfile.ZipInfo:
    try:
        info = z.getinfo(member)
    except KeyError:
        raise ArchiveError(f"{where}: the member {member!r} is missing; the file is damaged or "
                           "incomplete") from None
    _check_ratio(info, where)
    return info


def _check_ratio(info: zipfile.ZipInfo, where: str, small: int = _SMALL) -> None:
    if info.file_size > max(small, _RATIO * info.compress_size):
        raise ArchiveError(f"{where}: the member {info.filename!r} declares {info.file_size} "
                           f"bytes from {info.compress_size} compressed bytes; numbanet "
                           "refuses members that inflate this much (a compression bomb)")


# what zipfile and zlib raise on a damaged, truncated or crafted archive (an unknown
# compression method is NotImplementedError, an encrypted member RuntimeError)
_ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError,
               RuntimeError)
_NUMBER_KINDS = "biufc"


def read_json_member(z: zipfile.ZipFile, member: str, where: str):
    """The JSON document in ``member``; ``where`` (the op and file) starts every error."""
    info = _member_info(z, member, where)
    _check_ratio(info, where, _JSON_SMALL)
    if info.file_size > _JSON_LIMIT:
        raise ArchiveError(f"{where}: {member!r} is {info.file_size} bytes, more than the "
                           f"{_JSON_LIMIT} that a numbanet header may have")
    try:
        return json.loads(z.read(info))
    except (ValueError, RecursionError, *_ZIP_ERRORS) as e:  # RecursionError: nested too deep
        raise ArchiveError(f"{where}: {member!r} can't be read ({type(e).__name__}: {e}); the "
                           "file is damaged") from e


def _npy_header(f, info: zipfile.ZipInfo):
    """(shape, fortran order, dtype, count) of the ``.npy`` stream ``f`` of member ``info``,
    checked against the member's real size; ValueError when they disagree."""
    version = npformat.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = npformat.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = npformat.read_array_header_2_0(f)
    else:
        raise ValueError(f"unknown .npy format version {version}")
    if dtype.kind not in _NUMBER_KINDS or dtype.fields is not None:
        raise ValueError(f"its dtype {dtype} is not a number type; numbanet only loads "
                         "arrays of numbers (never Python objects)")
    header_bytes = f.tell()
    count = math.prod(shape)
    if any(d < 0 for d in shape) or header_bytes + count * dtype.itemsize != info.file_size:
        raise ValueError(f"its header declares shape {tuple(shape)} of {dtype} "
                         f"({count * dtype.itemsize} bytes), but the member holds "
                         f"{info.file_size - header_bytes} bytes of data")
    return tuple(shape), fortran, dtype, count


def _read_npy(z: zipfile.ZipFile, member: str, where: str, data: bool):
    info = _member_info(z, member, where)
    try:
        with z.open(info) as f:
            shape, fortran, dtype, count = _npy_header(f, info)
            if not data:
                return shape, dtype
            array = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype, count=count)
            array = array.reshape(shape, order="F" if fortran else "C")
    except (ValueError, TypeError, SyntaxError, *_ZIP_ERRORS) as e:
        raise ArchiveError(f"{where}: the array {member!r} is damaged or crafted "
                           f"({type(e).__name__}: {e})") from e
    return np.array(array, order="C")  # writable and C-contiguous, owning its memory


def read_npy_member(z: zipfile.ZipFile, member: str, where: str) -> np.ndarray:
    """The array in the ``.npy`` member ``member``, read without pickle, and only after its
    header's shape and dtype have been checked against the member's real size, so a
    header that claims 10^12 floats fails before anything is allocated. Only arrays of
    numbers are read (bool, int, uint, float, complex)."""
    return _read_npy(z, member, where, data=True)


def read_npy_header(z: zipfile.ZipFile, member: str, where: str) -> tuple:
    """(shape, dtype) of the ``.npy`` member ``member``, checked as by
    :func:`read_npy_member`, without reading its data."""
    return _read_npy(z, member, where, data=False)


def open_zip_member(z: zipfile.ZipFile, member: str, where: str) -> zipfile.ZipFile:
    """The ZIP archive stored as ``member`` of ``z`` (the ``.npz`` inside a ``.keras``
    file), read into memory after the same size checks as any member."""
    info = _member_info(z, member, where)
    try:
        inner = zipfile.ZipFile(io.BytesIO(z.read(info)))
    except (ValueError, *_ZIP_ERRORS) as e:
        raise ArchiveError(f"{where}: the member {member!r} is not a readable ZIP archive "
                           f"({type(e).__name__}: {e}); the file is damaged") from e
    return _bounded(inner, info.file_size, f"{where}: {member!r}")


def _bounded(z: zipfile.ZipFile, size: int, where: str) -> zipfile.ZipFile:
    """``z`` (of ``size`` bytes) once the sizes its members declare, which bound what
    reading them inflates, are within the ratio (a compression bomb has many members that
    each pass the test alone)."""
    try:
        for info in z.infolist():
            _check_ratio(info, where)
        declared = sum(info.file_size for info in z.infolist())
        if declared > max(_SMALL, _RATIO * size):
            raise ArchiveError(f"{where}: its members declare {declared} bytes in a "
                               f"{size}-byte archive; numbanet refuses archives that inflate "
                               "this much (a compression bomb)")
    except ArchiveError:
        z.close()
        raise
    return z


def npz_names(z: zipfile.ZipFile, where: str) -> dict:
    """``{array name: member}`` of an ``.npz`` archive (NumPy's ``savez``: one ``.npy``
    member per array); ArchiveError when a member is something else."""
    names = {}
    for member in z.namelist():
        if not member.endswith(".npy"):
            raise ArchiveError(f"{where}: {member!r} is not an array (.npy); the file is not "
                               "a NumPy .npz archive")
        names[member[:-len(".npy")]] = member
    return names


def open_zip(path, where: str) -> zipfile.ZipFile:
    """``path`` opened as a ZIP archive; FileNotFoundError when it is missing, ArchiveError
    (a ValueError naming the file, the zip error chained) when it is not a ZIP."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no such file {path!r}")
    try:
        z = zipfile.ZipFile(path)
    except (ValueError, *_ZIP_ERRORS) as e:
        raise ArchiveError(f"{where}: {path!r} is not a ZIP archive ({type(e).__name__}: {e}); "
                           "it may be truncated, corrupted or of another format") from e
    return _bounded(z, os.path.getsize(path), f"{where}: {path!r}")
