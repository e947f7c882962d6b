"""TOML text for the config file: rendering values, and changing keys in place.

:func:`edit_toml` rewrites only the lines of the keys it changes (keeping each line's
indentation, key spelling and trailing comment), drops the lines of removed keys, and adds
missing keys at the end of their table (a missing table goes at the end of the file). Every
other byte — comments, blank lines, key order, unknown formatting — is left as it was. Keys are
found by scanning line by line; a value spanning several lines (a multi-line string) is
measured by parsing, so text inside it is never mistaken for a key.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starling_tui.config.values import SECTIONS

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*=")


def toml_value(value: Any) -> str:
    """One TOML scalar: a bool, integer, float or basic string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes (\" \\ \n \uXXXX…) are all valid in TOML basic strings.
        # DEL is the one control character JSON leaves raw and TOML forbids.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(values: Mapping[str, Any]) -> str:
    """Render flattened settings as a fresh TOML file (None values are omitted)."""
    lines = ["# starling-tui settings (see the README for every key)"]
    for section, names in SECTIONS.items():
        present = [n for n in names if values.get(n) is not None]
        if not present:
            continue
        if section:
            lines += ["", f"[{section}]"]
        lines += [f"{name} = {toml_value(values[name])}" for name in present]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Entry:
    """A ``key = value`` found in the text: its table, and the lines it spans."""

    table: str
    key: str
    key_text: str  # as written, e.g. "ctx" or "engine.ctx"
    indent: str
    start: int
    end: int  # exclusive


def _scan(lines: list[str]) -> tuple[list[_Entry], dict[str, int]]:
    """Every key entry, and the line of each table header."""
    entries: list[_Entry] = []
    headers: dict[str, int] = {}
    table, index = "", 0
    while index < len(lines):
        header, key = _HEADER.match(lines[index]), _KEY.match(lines[index])
        if header:
            table = header.group(1)
            headers.setdefault(table, index)
            index += 1
        elif key:
            parts = [p.strip() for p in key.group(2).split(".")]
            owner = ".".join(p for p in [table, *parts[:-1]] if p)
            end = _value_end(lines, index)
            entries.append(_Entry(owner, parts[-1], key.group(2), key.group(1), index, end))
            index = end
        else:
            index += 1
    return entries, headers


def _value_end(lines: list[str], start: int) -> int:
    """The line after the one where the value starting at ``start`` ends."""
    for end in range(start + 1, len(lines) + 1):
        try:
            tomllib.loads("".join(lines[start:end]))
        except tomllib.TOMLDecodeError:
            continue
        return end
    return start + 1  # not a complete value: leave it to the final check


def _comment(line: str) -> str:
    """The trailing comment of a one-line ``key = value`` with the spaces before it."""
    body = line.rstrip("\r\n")
    for position in (i for i, char in enumerate(body) if char == "#"):
        try:
            tomllib.loads(body[:position])
        except tomllib.TOMLDecodeError:
            continue  # that "#" is inside the value
        return body[len(body[:position].rstrip()) :]
    return ""


def _line_end(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else "\n"


def edit_toml(text: str, changes: Mapping[str, Any]) -> str:
    """``text`` with each setting of ``changes`` set (None: removed); everything else kept."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entries, headers = _scan(lines)
    table_of = {name: section for section, names in SECTIONS.items() for name in names}
    replaced: dict[int, list[str]] = {}  # first line of a span -> its new lines
    skipped: set[int] = set()
    inserted: dict[int, list[str]] = {}  # insert before this line
    appended: dict[str, list[str]] = {}  # tables that do not exist yet
    for name, value in changes.items():
        table = table_of[name]
        found = [e for e in entries if (e.table, e.key) == (table, name)]
        if found:
            entry = found[0]
            skipped.update(range(entry.start, entry.end))
            if value is not None:
                last = lines[entry.end - 1]
                comment = _comment(last) if entry.end - entry.start == 1 else ""
                line = f"{entry.indent}{entry.key_text} = {toml_value(value)}{comment}"
                replaced[entry.start] = [line + _line_end(last)]
            continue
        if value is None:
            continue
        in_table = [e for e in entries if e.table == table]
        if in_table:
            anchor = in_table[-1]
            prefix = anchor.key_text[: len(anchor.key_text) - len(anchor.key)]
            where, line = anchor.end, f"{anchor.indent}{prefix}{name} = {toml_value(value)}\n"
        elif table in headers:
            where, line = headers[table] + 1, f"{name} = {toml_value(value)}\n"
        elif table == "":
            where = min(headers.values(), default=len(lines))
            line = f"{name} = {toml_value(value)}\n"
        else:
            appended.setdefault(table, []).append(f"{name} = {toml_value(value)}\n")
            continue
        inserted.setdefault(where, []).append(line)
    out: list[str] = []
    for index in range(len(lines) + 1):
        out += inserted.get(index, [])
        if index < len(lines):
            out += replaced.get(index, [])
            if index not in skipped:
                out.append(lines[index])
    for table, new_lines in appended.items():
        out += ["\n"] if out else []
        out += [f"[{table}]\n", *new_lines]
    return "".join(out)
