"""GGUF model files: what is in the models folder, which one ``--model`` means, is it sound.

:func:`inspect_model` reads only the GGUF header (metadata and tensor table) straight from a
memory map, skipping the large tokenizer arrays without decoding them, so it takes milliseconds
even on a 4 GB file. (``gguf.GGUFReader`` builds every metadata array up front: about two
seconds for a 100 MB model, too slow for a folder listing.) The gguf package supplies the type
tables. It also checks that the tensor data the header describes fits in the file, which catches
truncated downloads; a git-lfs pointer, random bytes or another format fail with one line.
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

GGUF_MAGIC = b"GGUF"
LFS_POINTER_PREFIX = b"version https://git-lfs"
_MAX_KEY = 1 << 16
_MAX_COUNT = 1 << 40
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


@dataclass(frozen=True)
class ModelEntry:
    """One ``*.gguf`` of the models folder: its facts, or why it is unusable."""

    path: Path
    model: ModelFile | None
    error: str = ""


class _Cursor:
    """Sequential little-endian reads over a buffer, failing as 'truncated' past its end."""

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.offset = 0

    def scalar(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buffer, self.offset)[0]
        self.offset += struct.calcsize(fmt)
        return value

    def count(self) -> int:
        value = int(self.scalar("<Q"))
        if value > _MAX_COUNT:
            raise ValueError("implausible length")
        return value

    def string(self, limit: int = _MAX_COUNT) -> str:
        length = self.count()
        if length > limit or self.offset + length > len(self.buffer):
            raise struct.error("string past the end")
        raw = bytes(self.buffer[self.offset : self.offset + length])
        self.offset += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.count()
        self.offset += length
        if self.offset > len(self.buffer):
            raise struct.error("string past the end")

    def value(self, value_type: int) -> Any:
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


def _precheck(path: Path) -> int:
    """Reject what is plainly not a GGUF from its first bytes; return the file size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(64)
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a folder, not a GGUF model file") from None
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from None
    if size == 0:
        raise ModelFileError(f"{path} is empty, not a GGUF model")
    if head.startswith(LFS_POINTER_PREFIX):
        raise ModelFileError(
            f"{path} is a git-lfs pointer, not the model itself (run 'git lfs pull' in its repo)"
        )
    if not head.startswith(GGUF_MAGIC):
        raise ModelFileError(f"{path} is not a GGUF model file (wrong magic bytes)")
    return size


def inspect_model(path: str | os.PathLike[str]) -> ModelFile:
    """Read a GGUF's header; raise :class:`ModelFileError` (one line) if it is unusable."""
    path = Path(path)
    size = _precheck(path)
    try:
        with path.open("rb") as handle, _map(handle) as view:
            return _parse(path, size, view)
    except (struct.error, ValueError, OverflowError, MemoryError) as error:
        raise ModelFileError(f"{path} is truncated or corrupt (bad GGUF header: {error})") from None
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from None


def _map(handle: Any) -> mmap.mmap:
    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _parse(path: Path, size: int, buffer: Any) -> ModelFile:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    cursor = _Cursor(buffer)
    cursor.offset = 4
    version = int(cursor.scalar("<I"))
    if version not in (2, 3):
        raise ModelFileError(f"{path}: unsupported GGUF version {version}")
    tensor_count, kv_count = cursor.count(), cursor.count()
    meta: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cursor.string(_MAX_KEY)
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
            raise ModelFileError(f"{path} is corrupt (unknown tensor type {type_id})") from None
        block, type_size = GGML_QUANT_SIZES[qtype]
        data_end = max(data_end, offset + elements // block * type_size)
        if n_dims >= 2:
            types[qtype.name] += 1
    alignment = int(meta.get("general.alignment") or 32)
    data_start = -(-cursor.offset // alignment) * alignment
    if tensor_count == 0:
        raise ModelFileError(f"{path} has no tensors (a vocabulary-only GGUF?)")
    if data_start + data_end > size:
        raise ModelFileError(
            f"{path} is truncated: {size} bytes, but its header describes {data_start + data_end}"
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


# -- the models folder --------------------------------------------------------------------------


def models_dir() -> Path:
    """The folder ``pull`` and ``starling-convert`` put models in."""
    from starling_tui.paths import app_paths

    return app_paths().models_dir


def model_files(folder: Path | None = None) -> list[Path]:
    """``*.gguf`` files of the models folder (hidden and temporary files excluded), sorted."""
    folder = folder or models_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.gguf") if not p.name.startswith(".") and p.is_file())


def list_models(folder: Path | None = None) -> list[ModelEntry]:
    """Every GGUF of the models folder with its facts or its one-line problem."""
    entries = []
    for path in model_files(folder):
        try:
            entries.append(ModelEntry(path, inspect_model(path)))
        except ModelFileError as error:
            entries.append(ModelEntry(path, None, str(error)))
    return entries


def resolve_model(spec: str | None, default: str | None = None, folder: Path | None = None) -> Path:
    """The model file meant by ``--model`` (a path or a name), the default, or the only one.

    Names match file stems in the models folder: exactly (ignoring case), else as a unique
    prefix or substring. Raises :class:`ModelFileError` with a hint when nothing fits.
    """
    folder = folder or models_dir()
    if spec:
        return _resolve_spec(spec, folder, "")
    if default:
        return _resolve_spec(default, folder, "the default model (setting 'model') ")
    files = model_files(folder)
    if len(files) == 1:
        return files[0]
    if not files:
        raise ModelFileError(
            f"no model in {folder}; run 'starling-tui pull' or pass --model PATH/TO/MODEL.gguf"
        )
    names = ", ".join(p.stem for p in files)
    raise ModelFileError(
        f"several models in {folder} ({names}); pick one with --model NAME or set model = "
        '"NAME" in config.toml'
    )


def _resolve_spec(spec: str, folder: Path, what: str) -> Path:
    candidate = Path(spec).expanduser()
    looks_like_path = os.sep in spec or "/" in spec or spec.lower().endswith(".gguf")
    if candidate.is_file() or (looks_like_path and candidate.exists()):
        return candidate
    files = model_files(folder)
    wanted = spec.lower().removesuffix(".gguf")
    for matches in (
        [p for p in files if p.stem.lower() == wanted],
        [p for p in files if p.stem.lower().startswith(wanted)],
        [p for p in files if wanted in p.stem.lower()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(p.stem for p in matches)
            raise ModelFileError(f"{what}{spec!r} matches several models ({names}); be more exact")
    if looks_like_path:
        raise ModelFileError(f"{what}model file {candidate} not found")
    available = ", ".join(p.stem for p in files) or "none"
    raise ModelFileError(
        f"{what}{spec!r} is not a file or a model in {folder} (there: {available})"
    )
