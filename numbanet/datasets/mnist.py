"""MNIST from local files: the IDX format, read and checked.

An IDX file is a header and the raw numbers of one array, big-endian::

    bytes 0-1   0, 0
    byte  2     the type of the numbers: 0x08 uint8, 0x09 int8, 0x0B int16,
                0x0C int32, 0x0D float32, 0x0E float64
    byte  3     the number of dimensions, d
    then        d sizes, 4 bytes each
    then        the numbers, in C order

So MNIST's image files start with the magic number 0x00000803 (uint8, 3 dimensions:
count, rows, columns) and its label files with 0x00000801 (uint8, 1 dimension).
The files are often kept gzipped; both forms are read.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_PREFIX = {"train": "train", "test": "t10k", "t10k": "t10k"}


def load_mnist(path, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The MNIST images and labels of ``kind`` (``'train'`` or ``'test'``) from the folder
    ``path``, where the four files of the data set were downloaded::

        train-images-idx3-ubyte  train-labels-idx1-ubyte   (60,000 images)
        t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte    (10,000 images)

    each of them plain or gzipped (``.gz``). Returns NumPy arrays ``(images, labels)``:
    images uint8 of shape (n, 28, 28), pixel values 0..255, and labels int64 of shape
    (n,), the digits. Fashion-MNIST and other data sets in the same files work too.

    >>> images, labels = nb.datasets.load_mnist("~/data/mnist", kind="test")
    >>> x = nb.tensor(images.reshape(len(images), -1) / 255, dtype=nb.float32)
    """
    if kind not in _PREFIX:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    folder = Path(os.path.expanduser(os.fspath(path)))
    if not folder.is_dir():
        raise FileNotFoundError(f"load_mnist: {folder} is not a folder; pass the folder that "
                                "holds the MNIST files (train-images-idx3-ubyte[.gz], ...)")
    prefix = _PREFIX[kind]
    images_file = _find(folder, f"{prefix}-images-idx3-ubyte")
    labels_file = _find(folder, f"{prefix}-labels-idx1-ubyte")
    images = read_idx(images_file, magic=IMAGES_MAGIC)
    labels = read_idx(labels_file, magic=LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"load_mnist: {images_file.name} holds {len(images)} images but "
                         f"{labels_file.name} holds {len(labels)} labels; the two files must "
                         "come from the same download")
    return images, labels.astype(np.int64)


def read_idx(path, magic: int | None = None) -> np.ndarray:
    """The array stored in one IDX file (plain or gzipped), in native byte order.

    With ``magic``, the file must start with that magic number (``IMAGES_MAGIC``,
    ``LABELS_MAGIC``). Raises ``ValueError`` naming the file when it is not IDX, is
    truncated, holds more bytes than its header announces, or is a gzip file that would
    inflate far beyond what IDX data does (a compression bomb). The header's sizes are
    checked against the file's before anything of that size is allocated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"  # gzip's magic number; IDX files start with 0, 0
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as f:
            return _read_idx(f, path, magic, size, gzipped)
    except (OSError, EOFError, zlib.error) as e:
        if not gzipped:
            raise
        raise ValueError(f"{path}: a damaged gzip file ({type(e).__name__}: {e}); download it "
                         "again") from e


# A gzipped IDX file may inflate to at most this many times its size, or to _SMALL bytes;
# MNIST's files inflate 2 to 5 times, deflate can't exceed about 1032 (a file of zeros).
_RATIO = 200
_SMALL = 64 << 20


def _read_idx(f, path: Path, magic, size: int, gzipped: bool) -> np.ndarray:
    raw = f.read(4)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX file (a 4-byte magic "
                         "number comes first); the file is truncated or empty")
    found = struct.unpack(">I", raw)[0]
    if raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file: it starts with 0x{found:08X}, but an IDX "
                         "magic number is 0x0000TTDD (TT a type code, DD the number of "
                         "dimensions; MNIST images 0x00000803, labels 0x00000801)")
    if magic is not None and found != magic:
        raise ValueError(f"{path}: magic number 0x{found:08X}, expected 0x{magic:08X} "
                         f"({_describe(magic)}); is it the right file?")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path}: truncated: the header announces {ndim} dimensions "
                         f"({header} bytes of header) but the file has only "
                         f"{4 + len(dims)} bytes")
    shape = struct.unpack(f">{ndim}I", dims)
    expected = math.prod(shape) * dtype.itemsize
    if gzipped and expected > max(_SMALL, _RATIO * size):
        raise ValueError(f"{path}: the header announces an array of shape {shape} ({expected} "
                         f"bytes of data), which a {size}-byte gzip file would inflate to: "
                         "more than IDX data ever does (a compression bomb?); download the "
                         "file again")
    # a plain file is read only up to its real size; one byte more tells a file that goes on
    data = f.read((expected if gzipped else min(expected, size)) + 1)
    if len(data) != expected:
        problem, holds = ("truncated", len(data)) if len(data) < expected else \
            ("too long", f"more than {expected}")
        raise ValueError(f"{path}: {problem}: the header announces an array of shape {shape} "
                         f"({expected} bytes of data) but the file holds {holds} bytes after "
                         "the header; download the file again")
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape))
    return array.reshape(shape).astype(dtype.newbyteorder("="))  # a writable native copy


def _find(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, plain or gzipped, also spelled with a dot
    (``train-images.idx3-ubyte``, as some mirrors name the files)."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    raise FileNotFoundError(f"load_mnist: {folder} has no file {name} (nor {name}.gz); put the "
                            "four MNIST files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) "
                            "in that folder")


def _describe(magic: int) -> str:
    kind = IDX_TYPES.get((magic >> 8) & 0xFF)
    return f"{kind.name if kind is not None else 'unknown type'}, {magic & 0xFF} dimensions"
