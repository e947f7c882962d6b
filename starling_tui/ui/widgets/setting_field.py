"""One row of the settings form, built from the setting's spec in the settings table.

The spec's form kind picks the control: a switch for ``bool``, a drop-down for ``choice``, a
text box otherwise (with the spec's hint as placeholder). The row gives back the text the spec
parses (:meth:`SettingSpec.parse_text`): the form never validates a value itself.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select, Switch

from starling_tui.config import SettingSpec


class SettingField(Horizontal):
    """Label and control for one setting."""

    DEFAULT_CSS = """
    SettingField { height: auto; }
    SettingField > Label { width: 22; margin-top: 1; }
    SettingField > Input, SettingField > Select { width: 1fr; }
    """

    def __init__(self, spec: SettingSpec, value: Any, *, choices: tuple[str, ...] = (),
                 placeholder: str = "") -> None:
        super().__init__(id=f"setting-{spec.name}")
        self.spec = spec
        self.value = value
        self.placeholder = placeholder or spec.form.hint  # the caller may say more
        # choices given by the caller win (the theme list comes from the app, not the table)
        self.choices = choices or (spec.form.choices if spec.form.kind == "choice" else ())

    def compose(self) -> ComposeResult:
        form = self.spec.form
        yield Label(form.label)
        if form.kind == "bool":
            yield Switch(bool(self.value))
        elif self.choices:
            current = self.spec.to_text(self.value)
            options = [(c, c) for c in self.choices]
            if current not in self.choices:
                options.insert(0, (current, current))
            yield Select(options, value=current, allow_blank=False)
        else:
            # bordered, not compact: an empty field must still be visible as a field
            yield Input(self.spec.to_text(self.value), placeholder=self.placeholder,
                        tooltip=self.spec.help)

    def text(self) -> str:
        """What the user set, as text for the spec to parse ("" = the default)."""
        if self.spec.form.kind == "bool":
            return "true" if self.query_one(Switch).value else "false"
        if self.choices:
            return str(self.query_one(Select).value)
        return self.query_one(Input).value
