"""TOML text of the config file, through ``tomlkit`` (a comment-preserving TOML library).

:func:`edit_toml` changes only the keys it is given: their values are replaced in place (the
key's spelling, dotted or not, and its trailing comment stay), removed keys disappear, new keys
go at the end of their table (a missing table at the end of the file; top-level keys before the
first table). Comments, blank lines, order and formatting of everything else are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starling_tui.config.settings import SECTIONS, spec

HEADER_COMMENT = "starling-tui settings (see the README for every key)"


def toml_value(value: Any) -> str:
    """One TOML scalar (a bool, integer, float or basic string) as it is written in the file."""
    import tomlkit

    if not isinstance(value, bool | int | float | str):
        raise TypeError(f"cannot write {type(value).__name__} to TOML")
    return tomlkit.item(value).as_string()


def to_toml(values: Mapping[str, Any]) -> str:
    """Render flattened settings as a fresh TOML file (None values are omitted)."""
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment(HEADER_COMMENT))
    for section, names in SECTIONS.items():
        present = {n: values[n] for n in names if values.get(n) is not None}
        if not present:
            continue
        target = document if not section else tomlkit.table()
        for name, value in present.items():
            toml_value(value)  # refuses what is not a scalar
            target[name] = value
        if section:
            document[section] = target
    return tomlkit.dumps(document)


def edit_toml(text: str, changes: Mapping[str, Any]) -> str:
    """``text`` with each setting of ``changes`` set (None: removed); everything else kept.

    Raises ``tomlkit``'s parse error for text that is not TOML (callers check it first).
    """
    import tomlkit

    document = tomlkit.parse(text if text.endswith("\n") or not text else text + "\n")
    for name, value in changes.items():
        section = spec(name).section
        if value is not None:
            toml_value(value)
        if not section:
            _set_top_level(document, name, value)
            continue
        if section not in document:
            if value is None:
                continue
            document[section] = tomlkit.table()
        table = document[section]
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value
    return tomlkit.dumps(document)


def _set_top_level(document: Any, name: str, value: Any) -> None:
    """Set or remove a top-level key; a new one goes before the first table.

    tomlkit puts a blank line before that table when it inserts; the table's own spacing is
    put back so the only change in the file is the new line.
    """
    from tomlkit.items import Table

    if value is None:
        document.pop(name, None)
        return
    first_table = next((item for _, item in document.body if isinstance(item, Table)), None)
    indent = first_table.trivia.indent if first_table is not None else ""
    document[name] = value
    if first_table is not None:
        first_table.trivia.indent = indent
