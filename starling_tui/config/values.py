"""Validating setting values: one parser per setting, and the file's sections.

Each parser accepts the forms a value can arrive in (TOML types from the file, strings from the
environment and flags) and raises ``ValueError``; :func:`parse_value` turns that into a
:class:`~starling_tui.errors.ConfigError` naming where the value came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starling_tui.errors import ConfigError

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


def _as_overflow(value: Any) -> str:
    text = _as_str(value).strip().lower()
    if text not in OVERFLOW_POLICIES:
        raise ValueError('expected "shift", "drop" or "error"')
    return text


def _as_share(value: Any) -> float:
    number = _as_float(value)
    if not 0 < number < 1:
        raise ValueError("expected a share between 0 and 1 (exclusive)")
    return number


OVERFLOW_POLICIES = ("shift", "drop", "error")

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
    "context_overflow": _as_overflow,
    "context_shift_share": _as_share,
    "self_extend": _as_positive,
    "self_extend_window": _as_positive,
    "engine_url": _as_optional_str,
    "api_key_file": _as_optional_str,
    "loop_guard": _as_bool,
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
        "context_overflow",
        "context_shift_share",
        "self_extend",
        "self_extend_window",
        "engine_url",
        "api_key_file",
    ),
    "sampling": (
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "repeat_penalty",
        "seed",
        "max_tokens",
        "loop_guard",
    ),
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
