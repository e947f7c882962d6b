"""Importance matrices in llama.cpp's imatrix GGUF format: the data, reading, writing, checking.

The format is the one ``llama-imatrix`` writes and ``llama-quantize --imatrix`` reads:
``general.type = "imatrix"``, ``imatrix.datasets`` (string array), ``imatrix.chunk_count`` and
``imatrix.chunk_size`` (u32), and per matmul weight ``<weight>.in_sum2`` (F32, ne = [columns,
matrices]: the sums of squared input activations per input column) and ``<weight>.counts``
(F32, ne = [1, matrices]: how many activation rows were summed). llama-quantize divides the
sums by the count (1 where a matrix saw no input) and hands the means to the quantizer;
:meth:`ImatrixData.importance` does the same.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from starling_tui.quality.errors import QualityError

SUMS, COUNTS = ".in_sum2", ".counts"
KEY_TYPE, KEY_DATASETS = "general.type", "imatrix.datasets"
KEY_CHUNK_COUNT, KEY_CHUNK_SIZE = "imatrix.chunk_count", "imatrix.chunk_size"


@dataclass
class ImatrixEntry:
    """One weight's statistics: ``sums`` (matrices × columns) and ``counts`` (matrices)."""

    sums: np.ndarray
    counts: np.ndarray


@dataclass
class ImatrixData:
    """A whole importance matrix, keyed by weight name (``blk.0.attn_q.weight``…)."""

    entries: dict[str, ImatrixEntry] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)
    chunk_count: int = 0
    chunk_size: int = 0

    def importance(self) -> dict[str, np.ndarray]:
        """Per weight, the mean squared activation per column (flat F32), as llama-quantize."""
        means = {}
        for name, entry in self.entries.items():
            counts = entry.counts.reshape(-1, 1)
            safe = np.where(counts > 0, counts, 1)
            mean = np.where(counts > 0, entry.sums / safe, 1.0)
            means[name] = np.ascontiguousarray(mean, dtype=np.float32).reshape(-1)
        return means


def is_gguf(path: Path) -> bool:
    """True when ``path`` starts with the GGUF magic (False when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"GGUF"
    except OSError:
        return False


def write_imatrix(path: Path, data: ImatrixData) -> Path:
    """Write ``data`` to ``path`` atomically (a temp file in the same folder, then renamed)."""
    import gguf

    from starling_tui.atomic import refuse_folder, replace_durably

    refuse_folder(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        writer = gguf.GGUFWriter(temp, arch="")
        writer.kv_data[0].pop("general.architecture", None)  # llama-imatrix writes none
        writer.add_string(KEY_TYPE, "imatrix")
        writer.add_array(KEY_DATASETS, data.datasets)
        writer.add_uint32(KEY_CHUNK_COUNT, data.chunk_count)
        writer.add_uint32(KEY_CHUNK_SIZE, data.chunk_size)
        for name in sorted(data.entries):
            entry = data.entries[name]
            writer.add_tensor(name + SUMS, np.asarray(entry.sums, dtype=np.float32))
            writer.add_tensor(name + COUNTS,
                              np.asarray(entry.counts, dtype=np.float32).reshape(-1, 1))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        replace_durably(temp, path)
    except OSError as exc:
        raise QualityError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        temp.unlink(missing_ok=True)
    return path


def looks_like_imatrix(path: Path) -> bool:
    """True for a GGUF or a file in llama.cpp's older binary imatrix format."""
    from starling_tui.quality.imatrix_legacy import read_legacy_imatrix

    return is_gguf(path) or read_legacy_imatrix(path) is not None


def read_imatrix(path: Path) -> ImatrixData:
    """Read an imatrix GGUF (ours or llama-imatrix's) or an older ``imatrix.dat``.

    Raises QualityError (one line) when ``path`` is unreadable or not an importance matrix.
    """
    import gguf

    from starling_tui.quality.imatrix_legacy import read_legacy_imatrix

    if not os.access(path, os.R_OK) or not Path(path).is_file():
        raise QualityError(f"cannot read {path}: not a readable file")
    if not is_gguf(path):
        legacy = read_legacy_imatrix(path)
        if legacy is None:
            raise QualityError(f"{path} is not an importance matrix (neither an imatrix GGUF "
                               "nor llama.cpp's older imatrix.dat format)")
        return legacy
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, OSError, IndexError) as exc:
        raise QualityError(f"{path} is not a readable GGUF ({exc})") from None
    tensors = {t.name: t for t in reader.tensors}
    data = ImatrixData(datasets=_strings(reader, KEY_DATASETS),
                       chunk_count=_number(reader, KEY_CHUNK_COUNT),
                       chunk_size=_number(reader, KEY_CHUNK_SIZE))
    for name in tensors:
        if not name.endswith(SUMS) or name.removesuffix(SUMS) + COUNTS not in tensors:
            continue
        sums = np.array(tensors[name].data, dtype=np.float64)
        counts = np.array(tensors[name.removesuffix(SUMS) + COUNTS].data, dtype=np.float64)
        data.entries[name.removesuffix(SUMS)] = ImatrixEntry(sums.reshape(len(counts.reshape(-1)),
                                                                          -1), counts.reshape(-1))
    if not data.entries:
        raise QualityError(f"{path} is not an importance matrix (no '<weight>.in_sum2' tensors)")
    return data


def _strings(reader: object, key: str) -> list[str]:
    found = getattr(reader, "fields", {}).get(key)
    return [str(s) for s in found.contents()] if found is not None else []


def _number(reader: object, key: str) -> int:
    found = getattr(reader, "fields", {}).get(key)
    return int(found.contents()) if found is not None else 0


def check_against_model(data: ImatrixData, weights: dict[str, tuple[int, ...]],
                        source: str) -> None:
    """Raise QualityError unless every entry names a weight of the model with its width.

    ``weights``: GGUF tensor name → row-major shape (matrices…, rows, columns).
    """
    for name, entry in sorted(data.entries.items()):
        shape = weights.get(name)
        if shape is None or len(shape) < 2:
            raise QualityError(f"the importance matrix {source} is for another model: "
                               f"this model has no matrix {name}")
        matrices = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        if entry.sums.shape != (matrices, shape[-1]):
            raise QualityError(f"the importance matrix {source} is for another model: {name} "
                               f"has {entry.sums.shape[-1]} columns there, {shape[-1]} here")
