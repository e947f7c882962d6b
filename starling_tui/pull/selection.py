"""Which files of a Hub repo a conversion needs, and what a conversion costs on disk.

The one Hub file selection: ``pull`` and the converter (``starling-convert owner/repo``) both
fetch exactly :func:`metadata_files` and then :func:`weight_files`. Only safetensors weights are
fetched: ``.bin``/``.pt`` files are Python pickles, which can run code when loaded, and are
several gigabytes we would not use anyway. Shard names come from the network (the index), so
:func:`checked_shard_names` refuses any that could name a path outside the download folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starling_tui.pull.errors import PullError

DEFAULT_REPO = "ManniX-ITA/Starling-LM-7B-beta-LaserRMT-v1"
CONFIG_FILES = ("config.json", "generation_config.json", "README.md")  # README: the license
TOKENIZER_FILES = (
    "tokenizer.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def metadata_files(names: Iterable[str], repo: str) -> list[str]:
    """The small files to fetch first (config, tokenizer, shard index); refuse unusable repos."""
    present = set(names)
    if INDEX_FILE not in present and SINGLE_FILE not in present:
        pickles = sorted(n for n in present if "/" not in n and n.endswith(PICKLE_SUFFIXES))
        if pickles:
            raise PullError(
                f"{repo} only has PyTorch pickle weights ({pickles[0]}); pull downloads "
                "safetensors only (pickles can run code when loaded); choose a repo that has "
                "*.safetensors files"
            )
        raise PullError(f"{repo} has no safetensors weights ({SINGLE_FILE} or {INDEX_FILE})")
    if "config.json" not in present:
        raise PullError(f"{repo} has no config.json, so it is not a transformers checkpoint")
    if not present & {"tokenizer.model", "tokenizer.json"}:
        raise PullError(f"{repo} has no tokenizer (tokenizer.model or tokenizer.json)")
    return [n for n in (*CONFIG_FILES, *TOKENIZER_FILES, INDEX_FILE) if n in present]


def shard_names(index: Path) -> list[str]:
    """The safetensors shards a ``model.safetensors.index.json`` points at, in order."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        values = list(weight_map.values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PullError(f"cannot read {index.name}: {exc}") from None
    return checked_shard_names(values, index.name)


def checked_shard_names(names: Iterable[object], index_name: str = INDEX_FILE) -> list[str]:
    """The distinct shard names, sorted; :class:`PullError` for one that is not a plain
    ``*.safetensors`` file name (a folder part, ``..``, a backslash, another kind of file)."""
    checked = set()
    for name in names:
        # The index comes from the network: never let it name a path outside the snapshot.
        plain = isinstance(name, str) and "/" not in name and "\\" not in name
        if not plain or not str(name).endswith(".safetensors") or str(name).startswith("."):
            raise PullError(f"{index_name} lists an unexpected weight file {name!r}")
        checked.add(str(name))
    return sorted(checked)


def weight_files(index: Path | None, present: Iterable[str], repo: str) -> list[str]:
    """The weight files to fetch: the shards of the index, or the single ``model.safetensors``."""
    if index is None:
        return [SINGLE_FILE]
    names = shard_names(index)
    missing = sorted(set(names) - set(present))
    if missing:
        raise PullError(f"{repo}: {INDEX_FILE} lists {missing[0]}, which the repo does not have")
    return names


@dataclass(frozen=True)
class QuantType:
    """What pull needs to know of a converter output type
    (``python -m starling_convert.describe``)."""

    name: str  # as --outtype takes it: q4_k_m
    label: str  # as in file names: Q4_K_M
    direct: bool  # written without llama.cpp's quantizer (no intermediate file)
    bits_per_weight: float


@dataclass(frozen=True)
class ConversionCost:
    """Disk space a conversion needs next to the models folder, in bytes."""

    intermediate: int
    output: int

    @property
    def total(self) -> int:
        """Bytes needed at the peak: the intermediate file and the output side by side."""
        return self.intermediate + self.output


def conversion_cost(weight_bytes: int, config: Path, quant: QuantType) -> ConversionCost:
    """Estimate the converter's lossless intermediate (when it quantizes) and its output."""
    parameters = weight_bytes / _bytes_per_weight(config)
    intermediate = 0 if quant.direct else int(parameters * 2)  # a 16-bit GGUF first
    return ConversionCost(intermediate, int(parameters * quant.bits_per_weight / 8))


def _bytes_per_weight(config: Path) -> int:
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 2
    dtype = str(data.get("torch_dtype") or data.get("dtype") or "bfloat16")
    return 4 if dtype == "float32" else 2


def repo_name(repo: str) -> str:
    """``owner/Name`` → ``Name``."""
    return repo.rsplit("/", 1)[-1]


def model_file_name(repo: str, label: str) -> str:
    """``owner/Name`` + ``Q4_K_M`` → ``Name-Q4_K_M.gguf`` (the converter's own naming)."""
    return f"{repo_name(repo)}-{label}.gguf"
