"""Offline pulls: find a checkpoint or a GGUF in the local Hugging Face cache.

With ``HF_HUB_OFFLINE=1`` nothing is fetched; ``pull`` converts from what an earlier pull (or any
huggingface_hub download) left in ``HF_HUB_CACHE``, and when something is missing it names
exactly which files, so the user knows what a connected run would fetch.
"""

from __future__ import annotations

import re
from pathlib import Path

from starling_tui.pull.download import repo_cache_folder
from starling_tui.pull.errors import PullError
from starling_tui.pull.selection import INDEX_FILE, SINGLE_FILE, shard_names

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def cached_snapshot(cache_dir: Path, repo: str, revision: str) -> Path | None:
    """The cached snapshot folder of ``repo`` at ``revision`` (branch, tag or commit), if any."""
    storage = repo_cache_folder(cache_dir, repo)
    commit = revision if _COMMIT.match(revision) else None
    ref = storage / "refs" / revision
    if commit is None and ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
    if commit is None:
        return None
    folder = storage / "snapshots" / commit
    return folder if folder.is_dir() else None


def missing_checkpoint_files(folder: Path) -> list[str]:
    """What a conversion needs that ``folder`` lacks (empty when it is complete)."""
    missing: list[str] = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / n).is_file() for n in ("tokenizer.model", "tokenizer.json")):
        missing.append("tokenizer.model")
    index = folder / INDEX_FILE
    if index.is_file():
        missing += [n for n in shard_names(index) if not (folder / n).is_file()]
    elif not (folder / SINGLE_FILE).is_file():
        missing.append(f"{INDEX_FILE} and the weight shards it lists")
    return missing


def offline_checkpoint(cache_dir: Path, repo: str, revision: str) -> Path:
    """The complete cached checkpoint folder, or a :class:`PullError` naming what is missing."""
    folder = cached_snapshot(cache_dir, repo, revision)
    if folder is None:
        raise PullError(
            f"offline (HF_HUB_OFFLINE=1) and the Hugging Face cache {cache_dir} has no copy of "
            f"{repo} at revision {revision}; run `starling-tui pull` once with a network connection"
        )
    missing = missing_checkpoint_files(folder)
    if missing:
        raise PullError(
            f"offline (HF_HUB_OFFLINE=1) and the cached copy of {repo} in {folder} is incomplete: "
            f"missing {', '.join(missing)}; run `starling-tui pull` with a network connection "
            "to finish the download"
        )
    return folder


def offline_file(cache_dir: Path, repo: str, filename: str, revision: str) -> Path:
    """A single cached file (``--gguf`` offline), or a :class:`PullError` saying it is missing."""
    folder = cached_snapshot(cache_dir, repo, revision)
    path = folder / filename if folder is not None else None
    if path is None or not path.is_file():
        raise PullError(
            f"offline (HF_HUB_OFFLINE=1) and the Hugging Face cache {cache_dir} has no "
            f"{filename} of {repo} at revision {revision}; run the pull with a network connection"
        )
    return path
