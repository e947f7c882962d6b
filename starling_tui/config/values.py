"""Value types of settings: one parser per kind of value, with the bounds the form shows.

A :class:`ValueType` pairs a parser with what a settings form needs to know (its kind, choices,
minimum, maximum), so validation and the form are derived from the same declaration and cannot
drift apart. Parsers accept every form a value arrives in (TOML types from the file, strings from
the environment, flags and form fields) and raise ``ValueError`` with a short reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from starling_tui.types import GpuLayers

Kind = Literal["bool", "int", "float", "choice", "text"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Limit:
    """An upper bound that depends on the machine, read each time a value is checked."""

    read: Callable[[], int]
    what: str  # what the bound is, for the error line: "this machine's logical CPU cores"


@dataclass(frozen=True)
class ValueType:
    """How one setting's values are checked, and how a form should offer them."""

    kind: Kind
    parse: Callable[[Any], Any]
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    limit: Limit | None = None  # a machine-dependent maximum (the form reads it when shown)

    @property
    def upper(self) -> float | None:
        """The largest value accepted now: the machine's limit, else the fixed maximum."""
        return self.limit.read() if self.limit is not None else self.maximum


def as_bool(value: Any) -> bool:
    """``true``/``false`` or the usual spellings (1/0, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected true or false")


def _as_auto_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    return as_bool(value)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("expected an integer")
    try:
        return int(value)
    except ValueError:
        raise ValueError("expected an integer") from None


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a number") from None
    if number != number:
        raise ValueError("expected a number")
    return number


def _check_bounds(number: float, low: float | None, high: float | None, open_: bool) -> None:
    """Raise when ``number`` is outside [low, high] (or (low, high) when ``open_``)."""
    below = low is not None and (number <= low if open_ else number < low)
    above = high is not None and (number >= high if open_ else number > high)
    if not (below or above):
        return
    if high is None:
        raise ValueError(f"expected a number >= {low:g}")
    if open_:
        raise ValueError(f"expected a number between {low:g} and {high:g} (exclusive)")
    raise ValueError(f"expected a number between {low:g} and {high:g}")


def boolean() -> ValueType:
    """true or false."""
    return ValueType("bool", as_bool)


def auto_boolean() -> ValueType:
    """true, false, or ``"auto"`` (read as None: the program decides)."""
    return ValueType("choice", _as_auto_bool, choices=("auto", "true", "false"))


def integer(
    minimum: int | None = None, *, zero_is_auto: bool = False, limit: Limit | None = None
) -> ValueType:
    """A whole number ≥ ``minimum`` (and ≤ ``limit`` read now); with ``zero_is_auto``, 0 (or
    None) reads as None."""

    def parse(value: Any) -> int | None:
        if zero_is_auto and value is None:
            return None
        number = _as_int(value)
        _check_bounds(number, minimum, None, False)
        if limit is not None and number > (most := limit.read()):
            raise ValueError(f"expected at most {most} ({limit.what})")
        return None if zero_is_auto and number == 0 else number

    return ValueType("int", parse, minimum=minimum, limit=limit)


def number(
    minimum: float | None = 0.0, maximum: float | None = None, *, exclusive: bool = False
) -> ValueType:
    """A number within the bounds (``exclusive``: the bounds themselves are refused)."""

    def parse(value: Any) -> float:
        result = _as_float(value)
        _check_bounds(result, minimum, maximum, exclusive)
        return result

    return ValueType("float", parse, minimum=minimum, maximum=maximum)


def choice(*options: str) -> ValueType:
    """One of ``options`` (case-insensitive)."""
    quoted = [f'"{option}"' for option in options]
    expected = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]

    def parse(value: Any) -> str:
        word = as_text(value).strip().lower()
        if word not in options:
            raise ValueError(f"expected {expected}")
        return word

    return ValueType("choice", parse, choices=options)


def as_text(value: Any) -> str:
    """A string that can be written as UTF-8 (undecodable environment bytes are refused)."""
    if not isinstance(value, str):
        raise ValueError("expected a string")
    try:
        value.encode("utf-8")  # undecodable bytes from the environment arrive as surrogates
    except UnicodeEncodeError:
        raise ValueError("expected UTF-8 text") from None
    return value


def _as_optional_text(value: Any) -> str | None:
    if value is None:
        return None
    return as_text(value).strip() or None


def text(*, optional: bool = False) -> ValueType:
    """Free text; ``optional`` text is stripped and empty reads as None ("not set")."""
    return ValueType("text", _as_optional_text if optional else as_text)


def parse_gpu_layers(value: Any) -> GpuLayers:
    """``"auto"``, ``"all"`` or a number of layers ≥ 0: the one GPU-layer parser.

    Raises ``ValueError``. The config, the CLI flag, the settings form and the engine factory
    all read ``n_gpu_layers`` through this function.
    """
    if isinstance(value, str) and value.strip().lower() in {"auto", "all"}:
        return "auto" if value.strip().lower() == "auto" else "all"
    try:
        layers = _as_int(value)
    except ValueError:
        layers = -1
    if layers < 0:
        raise ValueError('expected "auto", "all" or a number of layers')
    return layers


def gpu_layers() -> ValueType:
    """``auto``, ``all`` or a number of layers (a text field in forms)."""
    return ValueType("text", parse_gpu_layers, choices=("auto", "all"), minimum=0)
