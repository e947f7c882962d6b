"""The :class:`Settings` record and where values come from: the file, the environment, flags.

Precedence, highest first: command-line flags, environment variables, the config file, defaults.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_tui.config.values import PARSERS, SECTIONS, parse_value
from starling_tui.errors import ConfigError

ENV_PREFIX = "STARLING_TUI_"


@dataclass(frozen=True)
class Settings:
    """Every user setting. ``None`` means "automatic" (see the module docstring)."""

    model: str | None = None
    theme: str = "textual-dark"
    system_prompt: str = ""
    # [engine]
    n_gpu_layers: int | str = "auto"
    ctx: int | None = None
    threads: int | None = None
    batch: int = 512
    flash_attn: bool | None = None
    mmap: bool = True
    mlock: bool = False
    extra_bufts: bool | None = None
    kv_cache_type: str | None = None
    state_cache: bool = True
    state_cache_budget_mb: int = 4096
    context_overflow: str = "shift"
    context_shift_share: float = 0.25
    self_extend: int = 1
    self_extend_window: int = 512
    engine_url: str | None = None
    api_key_file: str | None = None
    # [sampling]
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    seed: int = 0
    max_tokens: int | None = None
    loop_guard: bool = True

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (values are validated)."""
        return dataclasses.replace(self, **{k: parse_value(k, v) for k, v in changes.items()})


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
    """Settings given as ``STARLING_TUI_<NAME>`` environment variables (empty ones ignored)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in PARSERS:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None and raw.strip() != "":
            values[name] = parse_value(name, raw, ENV_PREFIX + name.upper())
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
    for name, value in (cli or {}).items():
        if name in PARSERS and value is not None:
            values[name] = parse_value(name, value, "--" + name.replace("_", "-"))
    return Settings(**values)
