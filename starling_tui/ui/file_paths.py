"""Paths the user gives for attaching files: completion in a folder, and pasted paths.

The rule is the same everywhere: a path is taken exactly as typed (relative to the working
folder, ``~`` for home), never globbed or searched for. :func:`entries` and :func:`completion`
serve the file picker's path box; :func:`pasted_file` tells whether pasted (or dropped) text is
one line naming an existing file, as terminals paste a dropped file (quoted, backslash-escaped,
or a ``file://`` address).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

MAX_ENTRIES = 300  # a huge folder lists its first entries; typing narrows them


@dataclass(frozen=True)
class Entry:
    """A folder entry the picker offers."""

    name: str
    is_dir: bool

    @property
    def shown(self) -> str:
        """The name, a folder's with a trailing slash."""
        return self.name + "/" if self.is_dir else self.name


def split_typed(typed: str) -> tuple[str, str]:
    """(the folder part as typed, the name being typed)."""
    head, sep, tail = typed.rpartition("/")
    return (head + sep, tail)


def resolve(typed: str, start: Path) -> Path:
    """``typed`` as a path: ``~`` expanded, a relative path taken from ``start``."""
    path = Path(os.path.expanduser(typed)) if typed else Path()
    return path if path.is_absolute() else start / path


def entries(typed: str, start: Path) -> list[Entry]:
    """What the folder typed so far holds that starts with the name being typed (hidden
    entries only once a dot is typed), folders first, then by name."""
    folder, prefix = split_typed(typed)
    hidden = prefix.startswith(".")
    try:
        with os.scandir(resolve(folder, start)) as scan:
            found = [Entry(e.name, e.is_dir()) for e in scan
                     if e.name.startswith(prefix) and (hidden or not e.name.startswith("."))]
    except OSError:
        return []
    found.sort(key=lambda e: (not e.is_dir, e.name.lower()))
    return found[:MAX_ENTRIES]


def completion(typed: str, found: list[Entry]) -> str:
    """``typed`` completed as far as the entries agree (a lone folder gets its slash)."""
    if not found:
        return typed
    folder, _ = split_typed(typed)
    if len(found) == 1:
        return folder + found[0].shown
    common = found[0].name
    for entry in found[1:]:  # the names' common start, character by character
        while not entry.name.startswith(common):
            common = common[:-1]
    return folder + common


def pasted_file(text: str, start: Path) -> Path | None:
    """The file a paste names, if it is one line naming an existing file (as terminals paste
    a dropped file: quoted, with backslash-escaped spaces, or as a ``file://`` address)."""
    line = text.strip()
    if not line or "\n" in line or len(line) > 4096:
        return None
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":
        line = line[1:-1]
    # a dropped file: a file:// address, or a path with its spaces escaped
    is_url = line.startswith("file://")
    line = unquote(urlparse(line).path) if is_url else line.replace("\\ ", " ")
    path = resolve(line, start)
    try:
        return path if path.is_file() else None
    except OSError:
        return None
