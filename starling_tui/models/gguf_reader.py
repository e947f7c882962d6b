"""The one GGUF header reader: metadata scalars and the tensor table, in milliseconds.

:func:`read_header` walks the header of a memory-mapped GGUF: metadata scalars and strings are
decoded, arrays (the tokenizer's hundreds of thousands of strings) are stepped over by their
lengths and read as None (unless asked for), and the tensor table is read whole. gguf-py's
``GGUFReader`` would do the same job but builds every array up front, which takes seconds on a
tokenizer's header: too slow for a folder listing or a converter's check (a test checks that
both readers agree). Any read past
the end fails as ``struct.error``; implausible lengths fail as ``ValueError``: callers report
both as a truncated or corrupt file.

Used by :mod:`starling_tui.models.inspect`, ``convert.verify`` and the remote engine's
vocabulary reader.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
MAX_KEY = 1 << 16
MAX_COUNT = 1 << 40
MAX_RANK = 8
# Value types of GGUF metadata (gguf.GGUFValueType): struct format of fixed-size types.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor table (``dims`` in GGUF order: the fastest-varying first)."""

    name: str
    dims: tuple[int, ...]
    type_id: int  # a gguf.GGMLQuantizationType value
    offset: int  # from the start of the tensor data

    @property
    def shape(self) -> tuple[int, ...]:
        """The row-major shape (numpy/PyTorch order)."""
        return tuple(reversed(self.dims))


@dataclass(frozen=True)
class GGUFHeader:
    """A GGUF file's header: version, metadata (arrays as None), tensors, data start."""

    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo]
    data_offset: int  # where tensor data starts (the header's end, aligned)


class Cursor:
    """Sequential little-endian reads over a buffer, failing as 'truncated' past its end."""

    def __init__(self, buffer: Any, offset: int = 0) -> None:
        self.buffer = buffer
        self.offset = offset

    def scalar(self, fmt: str) -> Any:
        """One fixed-size value in ``struct`` format ``fmt``."""
        value = struct.unpack_from(fmt, self.buffer, self.offset)[0]
        self.offset += struct.calcsize(fmt)
        return value

    def count(self) -> int:
        """A uint64 length or count, refusing implausible ones."""
        value = int(self.scalar("<Q"))
        if value > MAX_COUNT:
            raise ValueError("implausible length")
        return value

    def string(self, limit: int = MAX_COUNT) -> str:
        """A length-prefixed UTF-8 string (bad bytes replaced)."""
        length = self.count()
        if length > limit or self.offset + length > len(self.buffer):
            raise struct.error("string past the end")
        raw = bytes(self.buffer[self.offset : self.offset + length])
        self.offset += length
        return raw.decode("utf-8", errors="replace")

    def skip(self, size: int) -> None:
        """Step over ``size`` bytes."""
        self.offset += size
        if self.offset > len(self.buffer):
            raise struct.error("value past the end")

    def value(self, value_type: int) -> Any:
        """A metadata value of ``value_type``; arrays are skipped and read as None."""
        if value_type in _SCALARS:
            return self.scalar(_SCALARS[value_type])
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            item_type = int(self.scalar("<I"))
            self.skip_array(item_type, self.count())
            return None
        raise ValueError(f"unknown metadata type {value_type}")

    def array(self) -> list[Any]:
        """A whole array of scalars or strings, decoded (nested arrays are refused)."""
        item_type, count = int(self.scalar("<I")), self.count()
        if item_type == _ARRAY:
            raise ValueError("nested metadata arrays are not decoded")
        return [self.value(item_type) for _ in range(count)]

    def skip_array(self, item_type: int, count: int) -> None:
        """Step over ``count`` items of ``item_type``."""
        if item_type in _SCALARS:
            self.skip(struct.calcsize(_SCALARS[item_type]) * count)
        elif item_type == _STRING:
            for _ in range(count):
                self.skip(self.count())
        elif item_type == _ARRAY:
            for _ in range(count):
                self.value(_ARRAY)
        else:
            raise ValueError(f"unknown metadata type {item_type}")


def read_header(buffer: Any, arrays: Collection[str] = ()) -> GGUFHeader:
    """Parse the header in ``buffer`` (bytes or a memory map of a whole GGUF file).

    Arrays are skipped (read as None) except those whose keys are in ``arrays``, which are
    decoded into lists (e.g. ``{"tokenizer.ggml.tokens"}`` for the vocabulary's strings).
    """
    if bytes(buffer[:4]) != GGUF_MAGIC:
        raise ValueError("not a GGUF file")
    cursor = Cursor(buffer, 4)
    version = int(cursor.scalar("<I"))
    tensor_count, kv_count = cursor.count(), cursor.count()
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cursor.string(MAX_KEY)
        value_type = int(cursor.scalar("<I"))
        wanted = key in arrays and value_type == _ARRAY
        metadata[key] = cursor.array() if wanted else cursor.value(value_type)
    tensors = [_tensor_info(cursor) for _ in range(tensor_count)]
    alignment = int(metadata.get("general.alignment") or 32)
    data_offset = -(-cursor.offset // alignment) * alignment
    return GGUFHeader(version, metadata, tensors, data_offset)


def _tensor_info(cursor: Cursor) -> TensorInfo:
    name = cursor.string(MAX_KEY)
    n_dims = int(cursor.scalar("<I"))
    if n_dims > MAX_RANK:
        raise ValueError("implausible tensor rank")
    dims = tuple(cursor.count() for _ in range(n_dims))
    type_id, offset = int(cursor.scalar("<I")), cursor.count()
    return TensorInfo(name, dims, type_id, offset)


@contextmanager
def mapped(path: Path) -> Iterator[mmap.mmap]:
    """A read-only memory map of the whole file (``ValueError`` for an empty one)."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        yield view


def read_gguf_header(path: Path, arrays: Collection[str] = ()) -> GGUFHeader:
    """The header of the GGUF at ``path`` (``OSError``, ``ValueError`` or ``struct.error``);
    ``arrays``: as for :func:`read_header`."""
    with mapped(path) as view:
        return read_header(view, arrays)
