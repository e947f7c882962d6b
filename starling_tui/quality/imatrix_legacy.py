"""Reading llama.cpp's older binary imatrix format (``imatrix.dat``), which llama-quantize still
accepts and older llama-imatrix builds wrote.

Layout (little-endian): int32 entry count; per entry: int32 name length, the name, int32
``ncall``, int32 value count, that many float32 values; then int32 chunk count, int32 dataset
name length and the name. Each value is the mean squared activation times ``ncall``, and
llama-quantize divides by ``ncall`` again: so the values become the sums and ``ncall`` the
count here, which gives the same means. The format has no chunk size (recorded as 0) and no
matrix count (every entry is read as one matrix, which is what dense models have).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from starling_tui.quality.imatrix_file import ImatrixData, ImatrixEntry

MAX_ENTRIES = 1 << 20
MAX_NAME = 4096


def read_legacy_imatrix(path: Path) -> ImatrixData | None:
    """The imatrix in ``path``, or None when the file is not in this format (or unreadable)."""
    try:
        raw = Path(path).read_bytes()
        return _parse(raw)
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return None


def _parse(raw: bytes) -> ImatrixData | None:
    offset = 0

    def take(fmt: str) -> tuple[int, ...]:
        nonlocal offset
        values = struct.unpack_from(fmt, raw, offset)
        offset += struct.calcsize(fmt)
        return values

    (count,) = take("<i")
    if not 0 < count <= MAX_ENTRIES:
        return None
    data = ImatrixData()
    for _ in range(count):
        (length,) = take("<i")
        if not 0 < length <= MAX_NAME:
            return None
        name = raw[offset:offset + length].decode("utf-8")
        offset += length
        ncall, nval = take("<ii")
        if ncall < 0 or nval <= 0 or offset + 4 * nval > len(raw):
            return None
        values = np.frombuffer(raw, dtype="<f4", count=nval, offset=offset).astype(np.float64)
        offset += 4 * nval
        data.entries[name] = ImatrixEntry(values.reshape(1, -1), np.array([float(ncall)]))
    if offset < len(raw):  # the trailer is optional in the oldest files
        (data.chunk_count,) = take("<i")
        (length,) = take("<i")
        data.datasets = [raw[offset:offset + length].decode("utf-8")]
        offset += length
    return data if offset == len(raw) else None
