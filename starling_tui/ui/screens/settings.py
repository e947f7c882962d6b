"""The settings screen: one row per setting of the settings table, in its order.

Labels, kinds, choices, hints and validation all come from ``starling_tui.config.SETTINGS``
(the same table the config file, the environment and the flags are read with). The screen
dismisses with a validated :class:`~starling_tui.config.Settings`, or None when cancelled;
the chat screen applies it (an engine setting reloads the model) and saves what changed.
It opens in its first field; Tab moves between fields, Ctrl+S saves, Escape cancels.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select

from starling_tui.config import SETTINGS, Settings
from starling_tui.errors import ConfigError
from starling_tui.ui.focus import focus_now
from starling_tui.ui.model_defaults import system_placeholder
from starling_tui.ui.widgets.form import Form
from starling_tui.ui.widgets.setting_field import SettingField

HIDDEN = frozenset({"model"})  # chosen with the model picker (ctrl+o)


def changed_values(old: Settings, new: Settings) -> dict[str, Any]:
    """The settings that differ, as the config file stores them (None: back to the default)."""
    return {
        s.name: s.file_value(getattr(new, s.name))
        for s in SETTINGS if getattr(old, s.name) != getattr(new, s.name)
    }


class SettingsScreen(ModalScreen[Settings | None]):
    """Edits the app's settings; dismisses with the new settings, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, current: Settings, themes: list[str], *,
                 default_system: str | None = None) -> None:
        super().__init__()
        self.current = current
        self.themes = tuple(themes)
        # the loaded model's own system prompt ("" if none; None: no model to ask)
        self.default_system = default_system

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("Settings", classes="dialog-title")
            with Form(classes="form"):
                for spec in SETTINGS:
                    if spec.name not in HIDDEN:
                        choices = self.themes if spec.name == "theme" else ()
                        yield SettingField(spec, getattr(self.current, spec.name),
                                           choices=choices,
                                           placeholder=self._placeholder(spec.name))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def _placeholder(self, name: str) -> str:
        if name == "system_prompt" and self.default_system is not None:
            return system_placeholder(self.default_system)
        return ""  # the table's hint

    def on_mount(self) -> None:
        first = self.query_one(SettingField)
        focus_now(first.query_one("Input, Select, Switch"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def on_select_changed(self, event: Select.Changed) -> None:
        # preview the theme as it is picked
        field = event.select.parent
        if isinstance(field, SettingField) and field.spec.name == "theme":
            self.app.theme = str(event.value)

    def action_cancel(self) -> None:
        """Close without saving, undoing a previewed theme."""
        self.app.theme = self.current.theme
        self.dismiss(None)

    def values(self) -> Settings:
        """The form's settings, each parsed by its spec (ConfigError names the bad one)."""
        changes = {
            field.spec.name: field.spec.parse_text(field.text())
            for field in self.query(SettingField)
        }
        return self.current.replace(**changes)

    def action_save(self) -> None:
        """Dismiss with the new settings, or say in one line which value is wrong."""
        try:
            settings = self.values()
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return
        self.dismiss(settings)
