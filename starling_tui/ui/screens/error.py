"""An error dialog: the app stays usable after it is closed."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from starling_tui.ui.focus import focus_now


class ErrorScreen(ModalScreen[None]):
    """Shows a title and a one-line explanation until the user closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "dismiss", "Close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Label(self.message, classes="dialog-text", id="error-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="close")

    def on_mount(self) -> None:
        focus_now(self.query_one("#close", Button))

    def on_button_pressed(self, _: Button.Pressed) -> None:
        self.dismiss(None)
