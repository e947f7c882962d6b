"""Which files of a Hub repo a conversion needs, and what a conversion costs on disk.

Only safetensors weights are fetched: ``.bin``/``.pt`` files are Python pickles, which can run
code when loaded, and are several gigabytes we would not use anyway.
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
        names = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PullError(f"cannot read {index.name}: {exc}") from None
    for name in names:
        # The index comes from the network: never let it name a path outside the snapshot.
        bad_path = not isinstance(name, str) or "/" in name or "\\" in name
        if bad_path or not name.endswith(".safetensors"):
            raise PullError(f"{index.name} lists an unexpected weight file {name!r}")
    return names


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
class ConversionCost:
    """Disk space a conversion needs next to the models folder, in bytes."""

    intermediate: int
    output: int

    @property
    def total(self) -> int:
        """Bytes needed at the peak: the intermediate file and the output side by side."""
        return self.intermediate + self.output


def conversion_cost(weight_bytes: int, config: Path, outtype: str) -> ConversionCost:
    """Estimate the converter's lossless intermediate (when it quantizes) and its output."""
    from convert.outtypes import lookup

    kind = lookup(outtype)
    parameters = weight_bytes / _bytes_per_weight(config)
    intermediate = 0 if kind.direct else int(parameters * 2)  # a 16-bit GGUF first
    return ConversionCost(intermediate, int(parameters * kind.bits_per_weight / 8))


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
