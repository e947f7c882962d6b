"""General GGUF metadata: name, source, license (from the model card) and converter version."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import __version__
from .source import Source

CONVERTER_KEY = "starling.converter"


def card_license(folder: Path) -> str | None:
    """The ``license:`` value of README.md's YAML front matter, if there is one."""
    try:
        text = (folder / "README.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.match(r"^---\s*\n(.*?)\n---", text, re.S)
    if not match:
        return None
    found = re.search(r"^license:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", match.group(1), re.M)
    return found.group(1) if found else None


def add_general(writer: Any, source: Source, file_type: int) -> None:
    """Write general.* keys describing the model and this conversion."""
    writer.add_type("model")
    writer.add_name(source.name)
    if source.repo_id:
        writer.add_source_repo_url(source.url)
    else:
        writer.add_source_url(source.url)
    if (license_id := card_license(source.folder)) is not None:
        writer.add_license(license_id)
    writer.add_file_type(file_type)
    writer.add_string(CONVERTER_KEY, f"starling-convert {__version__}")
