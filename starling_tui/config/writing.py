"""Writing the config file: changing keys without losing the rest, or rewriting it whole.

Writes are atomic (:mod:`starling_tui.atomic`); TOML text comes from :mod:`.toml_file`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starling_tui.atomic import write_text
from starling_tui.config.settings import SETTINGS, Settings, parse_value
from starling_tui.config.sources import config_path, read_file_text, values_from_toml
from starling_tui.config.toml_file import edit_toml, to_toml
from starling_tui.errors import ConfigError


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Make the file hold every non-default setting (defaults removed), keeping its comments."""
    values = {s.name: s.file_value(getattr(settings, s.name)) for s in SETTINGS}
    return update_config_file(path, **values)


def update_config_file(path: Path | None = None, **changes: Any) -> Path:
    """Change some keys of the file (``None`` removes one), leaving the rest of it as it was.

    Only changed keys are edited (see :func:`~.toml_file.edit_toml`); a file that does not parse
    is refused untouched. Should an unusual layout defeat the in-place edit (the result would
    not read back as intended), the file is rewritten whole instead.
    """
    path = path or config_path()
    wanted = {name: None if value is None else parse_value(name, value)
              for name, value in changes.items()}
    text = read_file_text(path)
    current = values_from_toml(text, str(path))
    expected = {k: v for k, v in {**current, **wanted}.items() if v is not None}
    edits = {k: v for k, v in wanted.items() if current.get(k) != v}
    if not edits and text:
        return path
    return write_text(path, _edited(text, edits, expected, str(path)))


def _edited(text: str, edits: dict[str, Any], expected: dict[str, Any], path: str) -> str:
    """``text`` with ``edits`` applied, or a fresh file when the edit would not read back."""
    from tomlkit.exceptions import TOMLKitError

    if not text.strip():
        return to_toml(expected)
    try:
        new_text = edit_toml(text, edits)
        if values_from_toml(new_text, path) == expected:
            return new_text
    except (ConfigError, TOMLKitError):
        pass
    return to_toml(expected)


def write_file_values(values: Mapping[str, Any], path: Path | None = None) -> Path:
    """Replace the whole file with these flattened settings, atomically."""
    return write_text(path or config_path(), to_toml(values))


__all__ = ["save_settings", "update_config_file", "write_file_values"]
