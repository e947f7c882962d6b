"""Writing the config file: changing keys without losing the rest, or rewriting it whole.

Writes are atomic (:mod:`starling_tui.atomic`); TOML text comes from :mod:`.toml_edit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starling_tui.atomic import write_text
from starling_tui.config.settings import Settings, config_path, read_file_text, values_from_toml
from starling_tui.config.toml_edit import edit_toml, to_toml, toml_value
from starling_tui.config.values import PARSERS, parse_value
from starling_tui.errors import ConfigError


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Make the file hold every non-default setting (defaults removed), keeping its comments."""
    defaults = Settings()
    values = {
        f.name: None if getattr(settings, f.name) == getattr(defaults, f.name) else value
        for f in dataclasses.fields(Settings)
        for value in [getattr(settings, f.name)]
    }
    return update_config_file(path, **values)


def update_config_file(path: Path | None = None, **changes: Any) -> Path:
    """Change some keys of the file (``None`` removes one), leaving every other byte as it was.

    Only the lines of changed keys are rewritten (see :func:`edit_toml`); a file that does not
    parse is refused untouched. Should an unusual layout defeat the in-place edit (the result
    would not read back as intended), the file is rewritten whole instead.
    """
    path = path or config_path()
    wanted: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in PARSERS:
            raise ConfigError(f"unknown setting {name!r}")
        wanted[name] = None if value is None else parse_value(name, value)
    text = read_file_text(path)
    current = values_from_toml(text, str(path))
    expected = {k: v for k, v in {**current, **wanted}.items() if v is not None}
    edits = {k: v for k, v in wanted.items() if current.get(k) != v}
    if not edits and text:
        return path
    new_text = edit_toml(text, edits) if text.strip() else to_toml(expected)
    try:
        faithful = values_from_toml(new_text, str(path)) == expected
    except ConfigError:
        faithful = False
    return write_text(path, new_text if faithful else to_toml(expected))


def write_file_values(values: Mapping[str, Any], path: Path | None = None) -> Path:
    """Replace the whole file with these flattened settings, atomically."""
    return write_text(path or config_path(), to_toml(values))


__all__ = [
    "save_settings",
    "to_toml",
    "toml_value",
    "update_config_file",
    "write_file_values",
]
