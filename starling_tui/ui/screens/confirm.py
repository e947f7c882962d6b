"""A yes/no question (deleting a conversation asks first)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from starling_tui.ui.focus import focus_now


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True when the user confirms."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "dismiss(False)", "Cancel"),
        Binding("y", "dismiss(True)", "Yes"),
    ]

    def __init__(self, question: str, confirm_label: str = "Delete", *,
                 cancel_label: str = "Cancel", variant: str = "error") -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label
        self.variant = variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, variant=self.variant,  # type: ignore[arg-type]
                             id="confirm")
                yield Button(self.cancel_label, id="cancel")

    def on_mount(self) -> None:
        focus_now(self.query_one("#cancel", Button))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")
