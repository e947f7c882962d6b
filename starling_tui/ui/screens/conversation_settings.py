"""Per-conversation settings: coding mode, system prompt and sampling overrides.

The sampling rows come from the settings table (label, hint, validation); an empty row means
"follow the app settings", so the conversation stores only what the user set for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Switch, TextArea

from starling_tui.chat.sampling import SAMPLING_KEYS
from starling_tui.config import spec
from starling_tui.errors import ConfigError


@dataclass(frozen=True)
class ConversationSettings:
    """What the screen edits; sampling holds only the conversation's own overrides."""

    mode: str = "auto"
    system_prompt: str = ""
    sampling: dict[str, Any] = field(default_factory=dict)


def parse_overrides(texts: dict[str, str]) -> dict[str, Any]:
    """The filled-in rows, each parsed by its spec (empty rows are not overrides)."""
    return {key: spec(key).parse(text.strip(), spec(key).label)
            for key, text in texts.items() if text.strip()}


class ConversationSettingsScreen(ModalScreen[ConversationSettings | None]):
    """Dismisses with the new settings, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, current: ConversationSettings) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("Conversation settings", classes="dialog-title")
            with VerticalScroll(classes="form"):
                with Horizontal(classes="form-row"):
                    yield Label("Coding mode (Code User:)", classes="form-label")
                    yield Switch(self.current.mode == "code", id="code-mode")
                yield Label("System prompt", classes="form-label")
                yield TextArea(self.current.system_prompt, id="system-prompt", soft_wrap=True)
                for key in SAMPLING_KEYS:
                    setting = spec(key)
                    with Horizontal(classes="form-row"):
                        yield Label(setting.label, classes="form-label")
                        value = self.current.sampling.get(key)
                        text = "" if key not in self.current.sampling else setting.to_text(value)
                        yield Input(text, placeholder="app setting", id=f"sampling-{key}",
                                    compact=True, tooltip=setting.help)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        """Validate and dismiss with the new settings."""
        texts = {key: self.query_one(f"#sampling-{key}", Input).value for key in SAMPLING_KEYS}
        try:
            sampling = parse_overrides(texts)
        except ConfigError as error:
            self.notify(str(error), severity="error")
            return
        code = self.query_one("#code-mode", Switch).value
        mode = "code" if code else ("auto" if self.current.mode == "code" else self.current.mode)
        prompt = self.query_one("#system-prompt", TextArea).text.strip()
        self.dismiss(ConversationSettings(mode=mode, system_prompt=prompt, sampling=sampling))
