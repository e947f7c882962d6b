"""Writing the config file: TOML rendering, and changing keys without losing the rest.

Writes are atomic (:mod:`starling_tui.atomic`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starling_tui.config.settings import Settings, config_path, read_file_values
from starling_tui.config.values import PARSERS, SECTIONS, parse_value
from starling_tui.errors import ConfigError


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write every non-default setting to the TOML file, atomically; returns the path."""
    defaults = Settings()
    changed = {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(Settings)
        if getattr(settings, f.name) != getattr(defaults, f.name)
    }
    return write_file_values(changed, path)


def update_config_file(path: Path | None = None, **changes: Any) -> Path:
    """Change some keys of the file, keeping the others (``None`` removes a key)."""
    values = read_file_values(path)
    for name, value in changes.items():
        if value is None:
            if name not in PARSERS:
                raise ConfigError(f"unknown setting {name!r}")
            values.pop(name, None)
        else:
            values[name] = parse_value(name, value)
    return write_file_values(values, path)


def write_file_values(values: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write flattened settings as TOML sections, atomically (see :mod:`starling_tui.atomic`)."""
    from starling_tui.atomic import write_text

    return write_text(path or config_path(), to_toml(values))


def to_toml(values: Mapping[str, Any]) -> str:
    """Render flattened settings as TOML (only the value types settings use; None is omitted)."""
    lines = ["# starling-tui settings (see the README for every key)"]
    for section, names in SECTIONS.items():
        present = [n for n in names if values.get(n) is not None]
        if not present:
            continue
        if section:
            lines += ["", f"[{section}]"]
        lines += [f"{name} = {toml_value(values[name])}" for name in present]
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """One TOML scalar: a bool, integer, float or basic string."""
    import json
    import math

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
