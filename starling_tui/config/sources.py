"""Where setting values come from: the config file, the environment, command-line values.

Precedence, highest first: command-line flags, environment variables, the config file, defaults.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starling_tui.config.settings import SECTIONS, SETTINGS, Settings, parse_value
from starling_tui.config.spec import ENV_PREFIX
from starling_tui.errors import ConfigError
from starling_tui.paths import HOME_ENV

# The STARLING_TUI_ variables that are not settings, each read where it acts: the data folder
# (paths), llama.cpp's own log (llama.backend) and a remote server's API key (remote.credentials).
NOT_SETTINGS = (HOME_ENV, "STARLING_TUI_LLAMA_LOG", "STARLING_TUI_API_KEY")


def config_path() -> Path:
    """The config file of the current environment."""
    from starling_tui.paths import app_paths

    return app_paths().config_file


def read_file_values(path: Path | None = None) -> dict[str, Any]:
    """The settings present in the TOML file (flattened, validated); {} when there is no file."""
    path = path or config_path()
    return values_from_toml(read_file_text(path), str(path))


def read_file_text(path: Path) -> str:
    """The config file's text; "" when there is none."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError as error:
        reason = f"{error.reason} at byte {error.start}"
        raise ConfigError(f"{path}: not UTF-8 text ({reason})") from None
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror or error}") from None


def values_from_toml(text: str, path: str) -> dict[str, Any]:
    """The settings in config-file ``text`` (flattened, validated); errors name ``path``."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS and key and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                if sub_key not in SECTIONS[key]:
                    raise ConfigError(f"{path}: unknown setting [{key}] {sub_key}")
                values[sub_key] = parse_value(sub_key, sub_value, path)
        elif key in SECTIONS[""]:
            values[key] = parse_value(key, value, path)
        else:
            raise ConfigError(f"{path}: unknown setting {key!r}")
    return values


def read_env_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings given as ``STARLING_TUI_<NAME>`` environment variables (empty ones ignored).

    Any other ``STARLING_TUI_`` variable is refused, as an unknown key in the file is: a
    misspelt one would otherwise be ignored without a word."""
    environ = os.environ if environ is None else environ
    known = {item.env for item in SETTINGS} | set(NOT_SETTINGS)
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"environment variable {name} is not a setting{hint}")
    values: dict[str, Any] = {}
    for item in SETTINGS:
        raw = environ.get(item.env)
        if raw is not None and raw.strip() != "":
            values[item.name] = item.parse(raw, item.env)
    return values


def load_settings(
    cli: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Defaults, overridden by the file, then the environment, then CLI values that are not None.

    ``cli`` may be ``vars(args)`` of an argparse namespace: keys that are not settings are
    ignored, and ``None`` means the flag was not given.
    """
    values = read_file_values(path)
    values.update(read_env_values(environ))
    for item in SETTINGS:
        value = (cli or {}).get(item.name)
        if value is not None:
            values[item.name] = item.parse(value, item.flag or "--" + item.name)
    return Settings(**values)
