"""Resolve SRC: a local checkpoint folder, or a Hub repo id fetched with huggingface_hub.

Only what conversion needs is downloaded (config, tokenizer files, safetensors and their
index, the model card for the license); pickle ``.bin`` weights never are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from convert.errors import ConvertError

HUB_PATTERNS = [
    "config.json", "generation_config.json", "README.md", "tokenizer.model", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "*.safetensors", "model.safetensors.index.json",
]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Source:
    """A checkpoint ready to read: its folder, a model name and where it came from."""

    folder: Path
    name: str
    url: str
    repo_id: str | None = None
    weights_on_hub: bool = False  # a dry run fetched no weights: read their headers remotely


def resolve_source(source: str | Path, *, quiet: bool = True, weights: bool = True) -> Source:
    """Return the local folder of ``source``, downloading it first when it is a Hub repo id.

    ``weights=False`` (a dry run) fetches a repo's small files but not its safetensors shards.
    """
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConvertError(f"{path} is not a checkpoint folder")
        folder = path.resolve()
        return Source(folder, folder.name, folder.as_uri())
    text = str(source)
    if not _REPO_ID.match(text) or text.startswith((".", "/", "~")):
        raise ConvertError(f"no such folder: {text}")
    return Source(_download(text, quiet, weights), text.rsplit("/", 1)[1],
                  f"https://huggingface.co/{text}", text, weights_on_hub=not weights)


def _download(repo_id: str, quiet: bool, weights: bool) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from starling_tui.paths import app_paths

    target = app_paths().download_dir / repo_id.replace("/", "--")
    try:
        patterns = HUB_PATTERNS if weights else [p for p in HUB_PATTERNS if p != "*.safetensors"]
        folder = snapshot_download(repo_id, allow_patterns=patterns, local_dir=target)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConvertError(f"cannot download {repo_id} from the Hugging Face Hub: {first}") \
            from None
    return Path(folder)
