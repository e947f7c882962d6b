"""Is a file a sound GGUF model, and what is it: :func:`inspect_model`.

It reads only the GGUF header (metadata and tensor table) straight from a memory map, skipping
the large tokenizer arrays without decoding them, so it takes milliseconds even on a 4 GB file.
(``gguf.GGUFReader`` builds every metadata array up front: about two seconds for a 100 MB
model, too slow for a folder listing.) The gguf package supplies the type tables. It also checks
that the tensor data the header describes fits in the file, which catches truncated downloads;
a git-lfs pointer, an HTML error page, random bytes or another format fail with one line.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_tui.errors import ModelFileError
from starling_tui.models.gguf_reader import MAX_KEY, Cursor

GGUF_MAGIC = b"GGUF"
LFS_POINTER_PREFIX = b"version https://git-lfs"


@dataclass(frozen=True)
class ModelFile:
    """A GGUF model's header facts."""

    path: Path
    size: int
    architecture: str
    name: str  # the file stem: what ``--model NAME`` matches
    title: str  # general.name from the metadata ("" when absent)
    quant: str  # e.g. "Q4_K_M", "F16"
    context_length: int  # training context (0 when the header lacks it)
    template: str  # "openchat", "chat_template" (another embedded template) or "none"
    tensor_count: int


def _precheck(path: Path, name: str, local: bool) -> int:
    """Reject what is plainly not a GGUF from its first bytes; return the file size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(64)
    except FileNotFoundError:
        raise ModelFileError(f"model file {name} not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{name} is a folder, not a GGUF model file") from None
    except OSError as error:
        raise ModelFileError(f"cannot read {name}: {error.strerror or error}") from None
    if size == 0:
        raise ModelFileError(f"{name} is empty, not a GGUF model")
    if head.startswith(LFS_POINTER_PREFIX):
        hint = " (run 'git lfs pull' in its repo)" if local else ""
        raise ModelFileError(f"{name} is a git-lfs pointer, not the model itself{hint}")
    if not head.startswith(GGUF_MAGIC):
        raise ModelFileError(
            f"{name} is not a GGUF model file (wrong magic bytes: it starts with {head[:4]!r})"
        )
    return size


def inspect_model(path: str | os.PathLike[str], *, shown_as: str | None = None) -> ModelFile:
    """Read a GGUF's header; raise :class:`ModelFileError` (one line) if it is unusable.

    Messages name the file as ``shown_as`` when given (e.g. "x.gguf of owner/repo" for a
    download sitting in a cache folder), else by its path.
    """
    path = Path(path)
    name = shown_as or str(path)
    size = _precheck(path, name, local=shown_as is None)
    try:
        with path.open("rb") as handle, _map(handle) as view:
            return _parse(path, name, size, view)
    except (struct.error, ValueError, OverflowError, MemoryError) as error:
        raise ModelFileError(f"{name} is truncated or corrupt (bad GGUF header: {error})") from None
    except OSError as error:
        raise ModelFileError(f"cannot read {name}: {error.strerror or error}") from None


def _map(handle: Any) -> mmap.mmap:
    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _parse(path: Path, name: str, size: int, buffer: Any) -> ModelFile:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    cursor = Cursor(buffer)
    cursor.offset = 4
    version = int(cursor.scalar("<I"))
    if version not in (2, 3):
        raise ModelFileError(f"{name}: unsupported GGUF version {version}")
    tensor_count, kv_count = cursor.count(), cursor.count()
    meta: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cursor.string(MAX_KEY)
        meta[key] = cursor.value(int(cursor.scalar("<I")))
    types: Counter[str] = Counter()
    data_end = 0
    for _ in range(tensor_count):
        cursor.skip_string()
        n_dims = int(cursor.scalar("<I"))
        if n_dims > 8:
            raise ValueError("implausible tensor rank")
        elements = 1
        for _dim in range(n_dims):
            elements *= cursor.count()
        type_id, offset = int(cursor.scalar("<I")), cursor.count()
        try:
            qtype = GGMLQuantizationType(type_id)
        except ValueError:
            raise ModelFileError(f"{name} is corrupt (unknown tensor type {type_id})") from None
        block, type_size = GGML_QUANT_SIZES[qtype]
        data_end = max(data_end, offset + elements // block * type_size)
        if n_dims >= 2:
            types[qtype.name] += 1
    alignment = int(meta.get("general.alignment") or 32)
    data_start = -(-cursor.offset // alignment) * alignment
    if tensor_count == 0:
        raise ModelFileError(f"{name} has no tensors (a vocabulary-only GGUF?)")
    if data_start + data_end > size:
        raise ModelFileError(
            f"{name} is truncated: {size} bytes, but its header describes {data_start + data_end}"
        )
    return _describe(path, size, meta, types, tensor_count)


def _describe(
    path: Path, size: int, meta: dict[str, Any], types: Counter[str], tensor_count: int
) -> ModelFile:
    arch = str(meta.get("general.architecture") or "unknown")
    template = meta.get("tokenizer.chat_template")
    if isinstance(template, str) and template:
        kind = "openchat" if "GPT4 Correct" in template else "chat_template"
    else:
        kind = "none"
    return ModelFile(
        path=path,
        size=size,
        architecture=arch,
        name=path.stem,
        title=str(meta.get("general.name") or ""),
        quant=_quant_name(meta, types),
        context_length=int(meta.get(f"{arch}.context_length") or 0),
        template=kind,
        tensor_count=tensor_count,
    )


def _quant_name(meta: dict[str, Any], types: Counter[str]) -> str:
    """The file type from ``general.file_type``, else the most common weight type."""
    from gguf.constants import LlamaFileType

    file_type = meta.get("general.file_type")
    if isinstance(file_type, int):
        try:
            name = LlamaFileType(file_type).name
        except ValueError:
            name = ""
        if name:
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    return types.most_common(1)[0][0] if types else "unknown"
