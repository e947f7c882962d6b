"""Resolve SRC: a local checkpoint folder, or a Hub repo id fetched into the Hugging Face cache.

Only what conversion needs is downloaded (config, tokenizer files, safetensors and their
index, the model card for the license); pickle ``.bin`` weights never are. Which files those are
is decided by ``pull``'s selection (:mod:`starling_tui.pull.selection`), the one Hub file
selection, with its checks on the shard names an index may list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ConvertError

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
    """Fetch the selected files of ``repo_id`` into the Hugging Face cache, as ``pull`` does
    (``weights=False``: all but the safetensors shards); offline, the cache is used as is."""
    import sys

    from starling_tui.errors import UserError
    from starling_tui.pull.service import fetch_checkpoint

    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr)

    try:
        return fetch_checkpoint(repo_id, weights=weights, say=say, progress=not quiet)
    except UserError as exc:  # a Hub or network failure, or the selection refusing the repo
        raise ConvertError(f"cannot download {repo_id} from the Hugging Face Hub: {exc}") \
            from None
