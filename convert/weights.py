"""Safetensors checkpoints: headers, the shard index, validation and chunked reads.

Only the JSON headers are parsed up front; tensor data is read later, a block of rows at a
time, with ``os.preadv`` into reusable buffers, so memory use does not grow with model size.
Pickle ``.bin`` weights are refused without ever being opened: unpickling runs arbitrary code.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import ConvertError

INDEX_FILE = "model.safetensors.index.json"
DTYPE_BYTES = {"BF16": 2, "F16": 2, "F32": 4}
_PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.ckpt")
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors spec caps headers at 100 MB


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor's bytes live: file, dtype, shape and absolute byte range."""

    name: str
    path: Path
    dtype: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int

    @property
    def itemsize(self) -> int:
        """Bytes per element in the file."""
        return DTYPE_BYTES[self.dtype]

    @property
    def rows(self) -> int:
        """Length of the first dimension (1 for scalars)."""
        return self.shape[0] if self.shape else 1

    @property
    def row_elements(self) -> int:
        """Elements per row (the product of all dimensions but the first)."""
        return math.prod(self.shape[1:]) if len(self.shape) > 1 else 1


def find_weights(folder: Path) -> dict[str, TensorRef]:
    """Return every tensor of the checkpoint in ``folder``, checking shards and headers."""
    index = folder / INDEX_FILE
    if index.is_file():
        return _from_index(folder, index)
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        _refuse_missing_weights(folder)
    tensors: dict[str, TensorRef] = {}
    for shard in shards:
        tensors.update(read_header(shard))
    return tensors


def _refuse_missing_weights(folder: Path) -> None:
    pickles = sorted(p.name for pattern in _PICKLE_PATTERNS for p in folder.glob(pattern))
    if pickles:
        raise ConvertError(
            f"{folder} only has pickle weights ({pickles[0]}); they are refused because unpickling"
            " can run arbitrary code - use a checkpoint with .safetensors weights"
        )
    raise ConvertError(f"no .safetensors weights found in {folder}")


def read_weight_map(index: Path) -> dict[str, str]:
    """The tensor name → shard file map of a ``model.safetensors.index.json``."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        assert isinstance(weight_map, dict)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise ConvertError(f"{index.name} is not a valid safetensors index ({exc})") from None
    from starling_tui.errors import UserError
    from starling_tui.pull.selection import checked_shard_names

    try:  # the same shard-name checks as a Hub download: no path outside the folder
        checked_shard_names(weight_map.values(), index.name)
    except UserError as exc:
        raise ConvertError(str(exc)) from None
    return {str(name): str(shard) for name, shard in weight_map.items()}


def _from_index(folder: Path, index: Path) -> dict[str, TensorRef]:
    weight_map = read_weight_map(index)
    headers: dict[str, dict[str, TensorRef]] = {}
    for shard_name in sorted(set(weight_map.values())):
        shard = folder / shard_name
        if not shard.is_file():
            raise ConvertError(f"shard {shard_name} named in {INDEX_FILE} is missing from {folder}")
        headers[shard_name] = read_header(shard)
    return index_tensors(weight_map, headers)


def index_tensors(weight_map: dict[str, str],
                  headers: dict[str, dict[str, TensorRef]]) -> dict[str, TensorRef]:
    """The tensors the index lists, each found in its shard's header (``headers`` by shard)."""
    tensors: dict[str, TensorRef] = {}
    for name, shard_name in weight_map.items():
        ref = headers[shard_name].get(name)
        if ref is None:
            raise ConvertError(f"tensor {name} is listed in {INDEX_FILE} but missing from "
                               f"{shard_name}")
        tensors[name] = ref
    return tensors


def read_header(path: Path) -> dict[str, TensorRef]:
    """Parse one safetensors header and check that every tensor's bytes are in the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ConvertError(f"{path.name} is truncated ({size} bytes, no safetensors header)")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > _MAX_HEADER:
            raise ConvertError(f"{path.name} is not a safetensors file "
                               f"(header length {header_len})")
        if 8 + header_len > size:
            raise ConvertError(f"{path.name} is truncated ({size} bytes, "
                               f"header needs {8 + header_len})")
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
        assert isinstance(header, dict)
    except (ValueError, AssertionError):
        raise ConvertError(f"{path.name} has a corrupt safetensors header") from None
    return refs_from_header(path, header, 8 + header_len, size)


def refs_from_header(path: Path, header: dict, data_start: int, size: int) -> dict[str, TensorRef]:
    """Check a parsed safetensors header against the file's size and return its tensors."""
    return {name: _tensor_ref(path, name, info, data_start, size)
            for name, info in header.items() if name != "__metadata__"}


def _tensor_ref(path: Path, name: str, info: object, data_start: int, size: int) -> TensorRef:
    try:
        assert isinstance(info, dict)
        dtype = str(info["dtype"])
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
    except (KeyError, TypeError, ValueError, AssertionError):
        raise ConvertError(f"{path.name} has a corrupt header entry for {name}") from None
    if dtype not in DTYPE_BYTES:
        raise ConvertError(f"tensor {name} in {path.name} has unsupported dtype {dtype} "
                           f"(supported: {', '.join(DTYPE_BYTES)})")
    if end - begin != math.prod(shape) * DTYPE_BYTES[dtype] or begin < 0:
        raise ConvertError(f"{path.name} has inconsistent offsets for tensor {name}")
    if data_start + end > size:
        raise ConvertError(f"{path.name} is truncated ({size} bytes, tensor {name} needs "
                           f"{data_start + end})")
    return TensorRef(name, path, dtype, shape, data_start + begin, end - begin)


class ShardReader:
    """Keeps one read-only descriptor per shard and reads row blocks into caller buffers."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every descriptor."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def read_rows(self, ref: TensorRef, first_row: int, out: memoryview) -> None:
        """Fill ``out`` with the bytes of consecutive rows of ``ref`` starting at ``first_row``."""
        fd = self._fds.get(ref.path)
        if fd is None:
            fd = self._fds[ref.path] = os.open(ref.path, os.O_RDONLY)
            if hasattr(os, "posix_fadvise"):  # tensors are read front to back: read ahead
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        position = ref.offset + first_row * ref.row_elements * ref.itemsize
        done = 0
        while done < len(out):
            n = os.preadv(fd, [out[done:]], position + done)
            if n <= 0:
                raise ConvertError(f"{ref.path.name} ended early while reading {ref.name}")
            done += n
