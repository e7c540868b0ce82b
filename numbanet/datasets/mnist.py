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
    truncated, or holds more bytes than its header announces.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX file (a 4-byte magic "
                         "number comes first); the file is truncated or empty")
    found = struct.unpack(">I", raw[:4])[0]
    if raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file: it starts with 0x{found:08X}, but an IDX "
                         "magic number is 0x0000TTDD (TT a type code, DD the number of "
                         "dimensions; MNIST images 0x00000803, labels 0x00000801)")
    if magic is not None and found != magic:
        raise ValueError(f"{path}: magic number 0x{found:08X}, expected 0x{magic:08X} "
                         f"({_describe(magic)}); is it the right file?")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated: the header announces {ndim} dimensions "
                         f"({header} bytes of header) but the file has only {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(shape) * dtype.itemsize
    found_bytes = len(raw) - header
    if found_bytes != expected:
        problem = "truncated" if found_bytes < expected else "too long"
        raise ValueError(f"{path}: {problem}: the header announces an array of shape {shape} "
                         f"({expected} bytes of data) but the file holds {found_bytes} bytes "
                         "after the header; download the file again")
    array = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="))  # a writable native copy


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic number; IDX files start with 0, 0
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: a damaged gzip file ({e}); download it again") from None
    return raw


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
