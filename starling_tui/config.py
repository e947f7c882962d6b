"""Settings: defaults, the TOML config file, ``STARLING_TUI_*`` environment variables, CLI flags.

Precedence, highest first: command-line flags, environment variables, the config file, defaults.

The config file is ``config.toml`` in the config folder (``app_paths().config_file``; with
``STARLING_TUI_HOME=/x`` it is ``/x/config/config.toml``). Every key is optional; a missing key
means the default. Example with every key at its default::

    model = ""                  # default model: a path, or a name from the models folder
                                # ("" = the only model there)
    theme = "textual-dark"      # any Textual theme name
    system_prompt = ""          # system prompt of new conversations

    [engine]
    n_gpu_layers = "auto"       # "auto" (all on a GPU build, else 0) | "all" | a number of layers
    ctx = 0                     # context size in tokens; 0 = the model's training context
    threads = 0                 # CPU threads; 0 = llama.cpp's choice
    batch = 512                 # prompt evaluation batch size
    flash_attn = "auto"         # "auto" | true | false
    mmap = true                 # memory-map the model file
    mlock = false               # lock the model in RAM
    extra_bufts = "auto"        # llama.cpp extra buffer types; "auto" = off on Intel AMX CPUs
    kv_cache_type = ""          # KV cache type: "" = f16, or "q8_0", "q4_0"…
    state_cache = true          # save each conversation's KV state to resume it instantly
    state_cache_budget_mb = 4096  # disk budget of saved states (oldest are evicted)

    [sampling]
    temperature = 0.0           # 0 = greedy, as the model card advises
    top_p = 1.0
    top_k = 0                   # 0 = off
    min_p = 0.0
    repeat_penalty = 1.0
    seed = 0
    max_tokens = 0              # 0 = until end of turn or the context is full

Environment variables: ``STARLING_TUI_`` + the key in upper case, e.g. ``STARLING_TUI_MODEL``,
``STARLING_TUI_CTX``, ``STARLING_TUI_TEMPERATURE``, ``STARLING_TUI_N_GPU_LAYERS``,
``STARLING_TUI_EXTRA_BUFTS=1``. CLI flags use the same names with dashes (``--n-gpu-layers``,
``--ctx``, ``--temperature``…; see ``starling-tui ask --help``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    # [sampling]
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    seed: int = 0
    max_tokens: int | None = None

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (values are validated)."""
        return dataclasses.replace(self, **{k: parse_value(k, v) for k, v in changes.items()})


# -- value parsing ------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected true or false")


def _as_auto_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    return _as_bool(value)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("expected an integer")
    try:
        return int(value)
    except ValueError:
        raise ValueError("expected an integer") from None


def _as_count(value: Any) -> int:
    number = _as_int(value)
    if number < 0:
        raise ValueError("expected a number >= 0")
    return number


def _as_positive(value: Any) -> int:
    number = _as_int(value)
    if number < 1:
        raise ValueError("expected a number >= 1")
    return number


def _as_optional_count(value: Any) -> int | None:
    """0 (or None) means "automatic"."""
    if value is None:
        return None
    return _as_count(value) or None


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a number") from None
    if number < 0 or number != number:
        raise ValueError("expected a number >= 0")
    return number


def _as_gpu_layers(value: Any) -> int | str:
    if isinstance(value, str) and value.strip().lower() in {"auto", "all"}:
        return value.strip().lower()
    try:
        return _as_count(value)
    except ValueError:
        raise ValueError('expected "auto", "all" or a number of layers') from None


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    try:
        value.encode("utf-8")  # undecodable bytes from the environment arrive as surrogates
    except UnicodeEncodeError:
        raise ValueError("expected UTF-8 text") from None
    return value


def _as_optional_str(value: Any) -> str | None:
    if value is None:
        return None
    return _as_str(value).strip() or None


def _as_probability(value: Any) -> float:
    number = _as_float(value)
    if number > 1:
        raise ValueError("expected a number between 0 and 1")
    return number


PARSERS: dict[str, Callable[[Any], Any]] = {
    "model": _as_optional_str,
    "theme": _as_str,
    "system_prompt": _as_str,
    "n_gpu_layers": _as_gpu_layers,
    "ctx": _as_optional_count,
    "threads": _as_optional_count,
    "batch": _as_positive,
    "flash_attn": _as_auto_bool,
    "mmap": _as_bool,
    "mlock": _as_bool,
    "extra_bufts": _as_auto_bool,
    "kv_cache_type": _as_optional_str,
    "state_cache": _as_bool,
    "state_cache_budget_mb": _as_count,
    "temperature": _as_float,
    "top_p": _as_probability,
    "top_k": _as_count,
    "min_p": _as_probability,
    "repeat_penalty": _as_float,
    "seed": _as_int,
    "max_tokens": _as_optional_count,
}
SECTIONS: dict[str, tuple[str, ...]] = {
    "": ("model", "theme", "system_prompt"),
    "engine": (
        "n_gpu_layers",
        "ctx",
        "threads",
        "batch",
        "flash_attn",
        "mmap",
        "mlock",
        "extra_bufts",
        "kv_cache_type",
        "state_cache",
        "state_cache_budget_mb",
    ),
    "sampling": ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "max_tokens"),
}


def parse_value(name: str, value: Any, source: str = "") -> Any:
    """Validate one setting; raises :class:`ConfigError` naming ``source`` and the key."""
    parser = PARSERS.get(name)
    where = f"{source}: " if source else ""
    if parser is None:
        raise ConfigError(f"{where}unknown setting {name!r}")
    try:
        return parser(value)
    except ValueError as error:
        raise ConfigError(f"{where}{name}: {error}, got {value!r}") from None


# -- sources ------------------------------------------------------------------------------------


def config_path() -> Path:
    """The config file of the current environment."""
    from starling_tui.paths import app_paths

    return app_paths().config_file


def read_file_values(path: Path | None = None) -> dict[str, Any]:
    """The settings present in the TOML file (flattened, validated); {} when there is no file."""
    import tomllib

    path = path or config_path()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS and key and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                if sub_key not in SECTIONS[key]:
                    raise ConfigError(f"{path}: unknown setting [{key}] {sub_key}")
                values[sub_key] = parse_value(sub_key, sub_value, str(path))
        elif key in SECTIONS[""]:
            values[key] = parse_value(key, value, str(path))
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


# -- saving -------------------------------------------------------------------------------------


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
