"""MNIST's IDX file format (also gzipped), read with its header checked."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np

# IDX type code -> element type; the format stores multi-byte values big-endian.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_file_bytes(path: Path) -> bytes:
    """Read a file, decompressing it if it starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as stream:
        raw = stream.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: damaged gzip data ({error})") from error


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (gzipped or not) into an array of the shape its header declares."""
    path = Path(path)
    raw = read_file_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file: bad magic number 0x{raw[:4].hex()} (expected "
                         "0x0000 then type and dimension count, e.g. 0x00000803 for MNIST images)")
    type_code, dimension_count = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unsupported IDX type code 0x{type_code:02x} "
                         f"(supported: {', '.join(f'0x{code:02x}' for code in _IDX_DTYPES)})")
    if dimension_count == 0:
        raise ValueError(f"{path}: the IDX header declares 0 dimensions")
    header_size = 4 + 4 * dimension_count
    if len(raw) < header_size:
        raise ValueError(f"{path}: truncated header: {dimension_count} dimensions need "
                         f"{header_size} bytes, found {len(raw)}")
    shape = struct.unpack(f">{dimension_count}I", raw[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header_size
    if found < expected:
        raise ValueError(f"{path}: truncated: expected {expected} bytes of data for shape "
                         f"{shape}, found {found}")
    if found > expected:
        raise ValueError(f"{path}: {found - expected} bytes more than the {expected} bytes of "
                         f"data its header declares for shape {shape}")
    values = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header_size)
    # Copy into native byte order so the array is writable and independent of ``raw``.
    return values.reshape(shape).astype(dtype.newbyteorder("="))
