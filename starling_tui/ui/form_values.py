"""Parse the text fields of the settings forms into typed values, with one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starling_tui.engine.base import GpuLayers


class FormError(ValueError):
    """A field holds an invalid value; the message names the field."""


def parse_optional_int(label: str, text: str, *, minimum: int = 0) -> int | None:
    """Empty → None (the default), else an integer ≥ ``minimum``."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise FormError(f"{label}: {text!r} is not a whole number") from None
    if value < minimum:
        raise FormError(f"{label}: must be at least {minimum}")
    return value


def parse_optional_float(
    label: str, text: str, *, minimum: float = 0.0, maximum: float | None = None
) -> float | None:
    """Empty → None (the default), else a number within bounds."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FormError(f"{label}: {text!r} is not a number") from None
    if maximum is not None and not minimum <= value <= maximum:
        raise FormError(f"{label}: must be between {minimum} and {maximum}")
    if value < minimum:
        raise FormError(f"{label}: must be at least {minimum}")
    return value


def parse_gpu_layers(text: str) -> GpuLayers:
    """``auto``, ``all`` or a number of layers; empty means ``auto``."""
    text = text.strip().lower()
    if text == "all":
        return "all"
    if text in ("auto", ""):
        return "auto"
    value = parse_optional_int("GPU layers", text)
    return "auto" if value is None else value


SAMPLING_FIELDS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "temperature": ("Temperature", lambda label, t: parse_optional_float(label, t, maximum=5.0)),
    "top_p": ("Top p", lambda label, t: parse_optional_float(label, t, maximum=1.0)),
    "top_k": ("Top k", lambda label, t: parse_optional_int(label, t)),
    "min_p": ("Min p", lambda label, t: parse_optional_float(label, t, maximum=1.0)),
    "repeat_penalty": ("Repeat penalty", lambda label, t: parse_optional_float(label, t)),
    "max_tokens": ("Max tokens", lambda label, t: parse_optional_int(label, t, minimum=1)),
}


def parse_sampling(texts: dict[str, str]) -> dict[str, Any]:
    """Parse the sampling fields that were filled in (empty ones are left out)."""
    values: dict[str, Any] = {}
    for key, text in texts.items():
        label, parser = SAMPLING_FIELDS[key]
        value = parser(label, text)
        if value is not None:
            values[key] = value
    return values
