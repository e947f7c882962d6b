"""Per-conversation settings: coding mode, system prompt and sampling overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Switch, TextArea

from starling_tui.ui.form_values import SAMPLING_FIELDS, FormError, parse_sampling


@dataclass(frozen=True)
class ConversationSettings:
    """What the screen edits; empty sampling fields mean "use the app settings"."""

    mode: str = "auto"
    system_prompt: str = ""
    sampling: dict[str, Any] = field(default_factory=dict)


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
                for key, (label, _) in SAMPLING_FIELDS.items():
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        value = self.current.sampling.get(key)
                        yield Input(
                            "" if value is None else str(value), placeholder="app default",
                            id=f"sampling-{key}", compact=True,
                        )
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
        texts = {key: self.query_one(f"#sampling-{key}", Input).value for key in SAMPLING_FIELDS}
        try:
            sampling = parse_sampling(texts)
        except FormError as error:
            self.notify(str(error), severity="error")
            return
        code = self.query_one("#code-mode", Switch).value
        mode = "code" if code else ("auto" if self.current.mode == "code" else self.current.mode)
        prompt = self.query_one("#system-prompt", TextArea).text.strip()
        self.dismiss(ConversationSettings(mode=mode, system_prompt=prompt, sampling=sampling))
