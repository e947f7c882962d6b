"""What a server's tokenizer taught us, kept per server and model between runs.

Learning a vocabulary's special tokens takes a few dozen ``/tokenize`` requests
(:func:`~.server_vocab.learn_vocab`); every ``ask --engine`` would repeat them. The result is
saved under the cache folder (``remote-vocab/<hash>.json``), keyed on everything the server
says about its model: URL, model id, and for llama-server the model file's path, its metadata,
chat template and build. Another model, file or build on the same URL gets a new key. The cache
only saves time: a missing, unreadable or malformed entry is learnt again, and a failed write
is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from starling_tui.atomic import write_text
from starling_tui.engine.remote.server_vocab import VocabFacts
from starling_tui.paths import app_paths

FORMAT = 1  # bumped when VocabFacts changes shape


def entry_path(identity: dict[str, Any], folder: Path | None = None) -> Path:
    """The cache file of the model ``identity`` names."""
    key = json.dumps({"format": FORMAT, **identity}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return (folder or app_paths().cache_dir / "remote-vocab") / f"{digest}.json"


def load_facts(identity: dict[str, Any], folder: Path | None = None) -> VocabFacts | None:
    """The cached facts for ``identity``; None when there are none (or they are unusable)."""
    if not identity:
        return None
    try:
        data = json.loads(entry_path(identity, folder).read_text(encoding="utf-8"))
        return VocabFacts.from_json(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def save_facts(identity: dict[str, Any], facts: VocabFacts, folder: Path | None = None) -> None:
    """Remember ``facts`` for ``identity`` (best effort)."""
    if not identity:
        return
    with contextlib.suppress(OSError):
        write_text(entry_path(identity, folder), json.dumps(facts.to_json(), sort_keys=True))
