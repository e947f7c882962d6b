"""Is a file a sound GGUF model, and what is it: :func:`inspect_model`.

It reads only the GGUF header (metadata and tensor table) with :mod:`.gguf_reader`, which skips
the large tokenizer arrays without decoding them, so it takes milliseconds even on a 4 GB file.
The gguf package supplies the type tables (:mod:`.file_types`). It also checks
that the tensor data the header describes fits in the file, which catches truncated downloads;
a git-lfs pointer, an HTML error page, random bytes or another format fail with one line.
"""

from __future__ import annotations

import math
import os
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_tui.errors import ModelFileError, ModelHasNoTensors
from starling_tui.models.file_types import file_type_name, tensor_type_name
from starling_tui.models.gguf_reader import GGUF_MAGIC, GGUFHeader, TensorInfo, read_gguf_header

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
    kv_per_token: int = 0  # key and value numbers each token adds to the KV cache (0: unknown)
    rope_scale: float = 1.0  # the file's RoPE scaling factor (context beyond training)


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
    version = int.from_bytes(head[4:8], "little")
    if len(head) >= 8 and version not in (2, 3):
        raise ModelFileError(f"{name}: unsupported GGUF version {version}")
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
        header = read_gguf_header(path)
    except (struct.error, ValueError, OverflowError, MemoryError) as error:
        raise ModelFileError(f"{name} is truncated or corrupt (bad GGUF header: {error})") from None
    except OSError as error:
        raise ModelFileError(f"cannot read {name}: {error.strerror or error}") from None
    return _check(path, name, size, header)


def _check(path: Path, name: str, size: int, header: GGUFHeader) -> ModelFile:
    """The file's facts, once its tensor types and size are found sound."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    if not header.tensors:
        raise ModelHasNoTensors(f"{name} has no tensors (a vocabulary-only GGUF?)")
    types: Counter[str] = Counter()
    data_end = 0
    for tensor in header.tensors:
        type_name = tensor_type_name(tensor.type_id)
        if type_name is None:
            raise ModelFileError(f"{name} is corrupt (unknown tensor type {tensor.type_id})")
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(tensor.type_id)]
        elements = math.prod(tensor.dims)
        data_end = max(data_end, tensor.offset + elements // block * type_size)
        if len(tensor.dims) >= 2:
            types[type_name] += 1
    if header.data_offset + data_end > size:
        described = header.data_offset + data_end
        raise ModelFileError(f"{name} is truncated: {size} bytes, but its header describes "
                             f"{described}")
    return _describe(path, size, header.metadata, types, header.tensors)


def _describe(
    path: Path, size: int, meta: dict[str, Any], types: Counter[str], tensors: list[TensorInfo]
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
        tensor_count=len(tensors),
        kv_per_token=kv_per_token(meta, arch, tensors),
        rope_scale=_rope_scale(meta, arch),
    )


def kv_per_token(meta: dict[str, Any], arch: str, tensors: list[TensorInfo]) -> int:
    """Key and value numbers one token adds to the KV cache, over all layers (0: unknown).

    From the shapes of each layer's ``attn_k``/``attn_v`` weights (their output size is the
    layer's keys or values per token, whatever the head layout), else from the attention
    metadata (models with a fused QKV weight). Sliding-window layers count in full, so for
    such models it is an upper bound.
    """
    by_kind = {"attn_k": 0, "attn_v": 0}
    for tensor in tensors:
        parts = tensor.name.split(".")
        if len(parts) == 4 and parts[0] == "blk" and parts[2] in by_kind and len(tensor.dims) == 2:
            by_kind[parts[2]] += tensor.dims[1]
    if by_kind["attn_k"] and by_kind["attn_v"]:
        return by_kind["attn_k"] + by_kind["attn_v"]
    return _kv_from_metadata(meta, arch)


def _kv_from_metadata(meta: dict[str, Any], arch: str) -> int:
    def number(key: str) -> int:
        value = meta.get(f"{arch}.{key}")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    layers, heads, width = number("block_count"), number("attention.head_count"), number(
        "embedding_length")
    kv_heads = number("attention.head_count_kv") or heads
    if not (layers and heads and width):
        return 0
    head = width // heads
    keys, values = number("attention.key_length") or head, number("attention.value_length") or head
    return layers * kv_heads * (keys + values)


def _rope_scale(meta: dict[str, Any], arch: str) -> float:
    kind = meta.get(f"{arch}.rope.scaling.type")
    factor = meta.get(f"{arch}.rope.scaling.factor")
    if kind in (None, "none") or not isinstance(factor, int | float) or factor < 1:
        return 1.0
    return float(factor)


def _quant_name(meta: dict[str, Any], types: Counter[str]) -> str:
    """The file type from ``general.file_type``, else the most common weight type."""
    file_type = meta.get("general.file_type")
    name = file_type_name(file_type) if isinstance(file_type, int) else None
    if name:
        return name
    return types.most_common(1)[0][0] if types else "unknown"
