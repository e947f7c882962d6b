"""What one setting is: :class:`SettingSpec`, declared once on a field of ``Settings``.

``setting(...)`` is used as a dataclass field default in :mod:`.settings`; it records the
section, value type, help text, form label and command-line flag in the field's metadata, and
:func:`spec_of_field` turns a field into its :class:`SettingSpec`. Everything else — parsing,
the environment variable name, argparse flags, the settings form, TOML sections — is read off
these specs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from starling_tui.config.values import Kind, ValueType
from starling_tui.errors import ConfigError

ENV_PREFIX = "STARLING_TUI_"
SECTION_NAMES = ("", "engine", "sampling")  # "" is the file's top level


@dataclass(frozen=True)
class FormSpec:
    """How a settings form shows one setting."""

    label: str
    kind: Kind  # bool | int | float | choice | text
    choices: tuple[str, ...]
    minimum: float | None
    maximum: float | None
    hint: str


@dataclass(frozen=True)
class _Declared:
    """The parts of a spec written at the field (name and default come from the field)."""

    section: str
    type: ValueType
    help: str
    label: str
    flags: tuple[str, ...]
    metavar: str
    hint: str


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its name, section, default, value type, help, flag and form."""

    name: str
    section: str
    default: Any
    type: ValueType
    help: str
    label: str
    flags: tuple[str, ...]  # () = no command-line flag; the first is the long one
    metavar: str
    hint: str

    @property
    def env(self) -> str:
        """The environment variable, e.g. ``STARLING_TUI_CTX``."""
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str | None:
        """The long command-line flag (``--ctx``), or None when there is none."""
        return self.flags[0] if self.flags else None

    @property
    def form(self) -> FormSpec:
        """What a settings form needs: label, kind, choices, bounds and a hint."""
        t = self.type
        return FormSpec(self.label, t.kind, t.choices, t.minimum, t.upper, self.hint)

    def parse(self, value: Any, source: str = "") -> Any:
        """The validated value; :class:`ConfigError` names ``source`` and the key."""
        where = f"{source}: " if source else ""
        try:
            return self.type.parse(value)
        except ValueError as error:
            raise ConfigError(f"{where}{self.name}: {error}, got {value!r}") from None

    def parse_text(self, text: str, source: str = "") -> Any:
        """A form field's text: empty means the default, anything else is parsed."""
        return self.default if not text.strip() else self.parse(text.strip(), source or self.label)

    def to_text(self, value: Any) -> str:
        """``value`` as a form field shows it ("" for automatic, true/false for booleans)."""
        if value is None:
            return "auto" if self.type.kind == "choice" else ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def file_value(self, value: Any) -> Any:
        """``value`` as the TOML file stores it; None means "leave the key out"."""
        return None if value == self.default else value


def setting(
    section: str,
    default: Any,
    type_: ValueType,
    help_: str,
    *,
    label: str,
    flags: tuple[str, ...] = (),
    metavar: str = "VALUE",
    hint: str = "",
) -> Any:
    """A dataclass field declaring one setting (typed ``Any`` so any field type accepts it)."""
    if section not in SECTION_NAMES:
        raise ValueError(f"unknown section {section!r}")
    declared = _Declared(section, type_, help_, label, flags, metavar, hint or help_)
    return dataclasses.field(default=default, metadata={"setting": declared})


def spec_of_field(field: dataclasses.Field[Any]) -> SettingSpec:
    """The :class:`SettingSpec` declared on a ``Settings`` field."""
    d: _Declared = field.metadata["setting"]
    return SettingSpec(
        field.name, d.section, field.default, d.type, d.help, d.label, d.flags, d.metavar, d.hint
    )
