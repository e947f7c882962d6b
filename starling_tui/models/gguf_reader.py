"""Sequential reads of a GGUF header from a memory map, skipping what a listing never needs.

The tokenizer arrays (hundreds of thousands of strings) are stepped over by their lengths
without being decoded; any read past the end of the buffer fails as ``struct.error``, which
the caller reports as a truncated or corrupt file.
"""

from __future__ import annotations

import struct
from typing import Any

MAX_KEY = 1 << 16
MAX_COUNT = 1 << 40
# Value types of GGUF metadata (gguf.GGUFValueType): struct format of fixed-size types.
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class Cursor:
    """Sequential little-endian reads over a buffer, failing as 'truncated' past its end."""

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.offset = 0

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

    def skip_string(self) -> None:
        """Step over a length-prefixed string without decoding it."""
        length = self.count()
        self.offset += length
        if self.offset > len(self.buffer):
            raise struct.error("string past the end")

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

    def skip_array(self, item_type: int, count: int) -> None:
        """Step over ``count`` items of ``item_type``."""
        if item_type in _SCALARS:
            self.offset += struct.calcsize(_SCALARS[item_type]) * count
        elif item_type == _STRING:
            for _ in range(count):
                self.skip_string()
        elif item_type == _ARRAY:
            for _ in range(count):
                self.value(_ARRAY)
        else:
            raise ValueError(f"unknown metadata type {item_type}")
        if self.offset > len(self.buffer):
            raise struct.error("array past the end")
