"""Per-conversation settings: coding mode, system prompt and sampling overrides.

The sampling rows come from the settings table (label, hint, validation); an empty row means
"follow the app settings", so the conversation stores only what the user set for it. A new
chat can be set up before its first message (the settings are saved with it). The dialog
opens in the system prompt box; an empty box shows the model's own default; Ctrl+S saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Switch, TextArea

from starling_tui.chat.sampling import SAMPLING_KEYS
from starling_tui.config import spec
from starling_tui.errors import ConfigError
from starling_tui.ui.focus import focus_now
from starling_tui.ui.model_defaults import system_placeholder
from starling_tui.ui.widgets.form import Form


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

    def __init__(self, current: ConversationSettings, *, default_system: str = "",
                 new_chat: bool = False) -> None:
        super().__init__()
        self.current = current
        self.default_system = default_system  # the model's own system prompt ("" if none)
        self.new_chat = new_chat

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            title = ("New chat settings (kept with its first message)" if self.new_chat
                     else "Conversation settings")
            yield Label(title, classes="dialog-title")
            with Form(classes="form"):
                yield Label("System prompt", classes="form-label")
                yield TextArea(self.current.system_prompt, id="system-prompt", soft_wrap=True,
                               placeholder=system_placeholder(self.default_system))
                with Horizontal(classes="form-row"):
                    yield Label("Coding mode (Code User:)", classes="form-label")
                    yield Switch(self.current.mode == "code", id="code-mode")
                for key in SAMPLING_KEYS:
                    setting = spec(key)
                    with Horizontal(classes="form-row"):
                        yield Label(setting.label, classes="form-label")
                        value = self.current.sampling.get(key)
                        text = "" if key not in self.current.sampling else setting.to_text(value)
                        yield Input(text, placeholder="app setting", id=f"sampling-{key}",
                                    tooltip=setting.help)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        focus_now(self.query_one("#system-prompt", TextArea))

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
