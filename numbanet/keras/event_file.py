"""TensorBoard's event files, written and read without TensorFlow.

An event file (``events.out.tfevents.<time>.<host>.<pid>.<n>``) is a sequence of
records in the TFRecord framing::

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

(little-endian), where CRC-32C is the Castagnoli checksum and "masked" rotates it
and adds a constant, so that a checksum of data holding checksums stays strong.
Each ``data`` is one serialized ``tensorflow.Event`` protocol buffer. A scalar needs
only a few of its fields, encoded here by hand:

- ``Event``: ``wall_time`` (1, double), ``step`` (2, int64), ``file_version``
  (3, string; the first record says ``"brain.Event:2"``), ``summary`` (5, message);
- ``Summary``: repeated ``value`` (1, message);
- ``Summary.Value``: ``tag`` (1, string), ``simple_value`` (2, float).

A protocol buffer field starts with a key, ``field_number << 3 | wire_type``
(0: varint, 1: 64-bit, 2: length-delimited, 5: 32-bit), written as a varint: 7 bits
per byte, low bits first, the high bit set on all bytes but the last.
"""
from __future__ import annotations

import glob
import os
import socket
import struct
import time

# ---- CRC-32C ----------------------------------------------------------------------------------
_POLY = 0x82F63B78  # the Castagnoli polynomial, bit-reversed


def _crc_table() -> list:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord: the data with its length and both checksums."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + \
        struct.pack("<I", masked_crc32c(data))


# ---- protocol buffer encoding -----------------------------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 fields store negative numbers in ten bytes, two's complement
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def encode_event(wall_time: float, step: int = 0, file_version: str | None = None,
                 scalars: dict | None = None) -> bytes:
    """A serialized ``Event`` with a version string or scalar values."""
    out = _key(1, 1) + struct.pack("<d", wall_time)
    if step:
        out += _key(2, 0) + _varint(int(step))
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if scalars:
        values = b"".join(
            _bytes_field(1, _bytes_field(1, tag.encode()) + _key(2, 5)
                         + struct.pack("<f", float(value)))
            for tag, value in scalars.items())
        out += _bytes_field(5, values)
    return out


# ---- decoding (for tests and for reading logs back) -------------------------------------------
def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of each field of a message."""
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            length, i = _read_varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protocol buffer wire type {wire}")
        yield field, wire, value


def decode_event(data: bytes) -> dict:
    """``{'wall_time', 'step', 'file_version', 'scalars': {tag: value}}`` of an Event."""
    event = {"wall_time": 0.0, "step": 0, "file_version": None, "scalars": {}}
    for field, _, value in _fields(data):
        if field == 1:
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif field == 2:
            event["step"] = value - (1 << 64) if value >= 1 << 63 else value
        elif field == 3:
            event["file_version"] = value.decode()
        elif field == 5:
            for f, _, v in _fields(value):
                if f != 1:
                    continue
                tag, number = None, None
                for vf, _, vv in _fields(v):
                    if vf == 1:
                        tag = vv.decode()
                    elif vf == 2:
                        number = struct.unpack("<f", vv)[0]
                if tag is not None and number is not None:
                    event["scalars"][tag] = number
    return event


def read_records(path: str):
    """The data of each record of a TFRecord file, checking both checksums."""
    with open(path, "rb") as f:
        blob = f.read()
    i = 0
    while i < len(blob):
        if i + 12 > len(blob):
            raise ValueError(f"{path}: truncated record header at byte {i}")
        length_bytes = blob[i:i + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", blob[i + 8:i + 12])
        if length_crc != masked_crc32c(length_bytes):
            raise ValueError(f"{path}: bad length checksum at byte {i}")
        data = blob[i + 12:i + 12 + length]
        if len(data) != length or i + 16 + length > len(blob):
            raise ValueError(f"{path}: truncated record at byte {i}")
        (data_crc,) = struct.unpack("<I", blob[i + 12 + length:i + 16 + length])
        if data_crc != masked_crc32c(data):
            raise ValueError(f"{path}: bad data checksum at byte {i}")
        yield data
        i += 16 + length


def read_scalars(log_dir: str) -> dict:
    """``{tag: [(step, value), ...]}`` from every event file in ``log_dir``."""
    out: dict = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "*tfevents*"))):
        for data in read_records(path):
            event = decode_event(data)
            for tag, value in event["scalars"].items():
                out.setdefault(tag, []).append((event["step"], value))
    return out


# ---- writing ----------------------------------------------------------------------------------
class EventFileWriter:
    """Appends scalar events to a new event file in ``log_dir``.

    >>> writer = EventFileWriter("logs/train")
    >>> writer.add_scalars({"epoch_loss": 0.25}, step=0)
    >>> writer.close()
    """

    _count = 0

    def __init__(self, log_dir: str):
        os.makedirs(log_dir, exist_ok=True)
        EventFileWriter._count += 1
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}." \
               f"{os.getpid()}.{EventFileWriter._count}"
        self.path = os.path.join(log_dir, name)
        self._file = open(self.path, "wb")
        self._file.write(frame(encode_event(time.time(), file_version="brain.Event:2")))
        self._file.flush()

    def add_scalars(self, scalars: dict, step: int) -> None:
        self._file.write(frame(encode_event(time.time(), step, scalars=scalars)))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
