"""The prompt inspector: the exact token ids and rendered text of the next request."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from starling_tui.engine.base import PromptPreview


class InspectorScreen(ModalScreen[None]):
    """Read-only view of a :class:`PromptPreview`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, preview: PromptPreview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        p = self.preview
        dropped = ""
        if p.dropped_messages:
            dropped = f" · {p.dropped_messages} oldest messages dropped to fit"
        with Vertical(classes="dialog wide-dialog"):
            yield Label(f"Next prompt: {len(p.token_ids)} tokens{dropped}", classes="dialog-title")
            with VerticalScroll(classes="inspector-body"):
                yield Label("Rendered", classes="inspector-heading")
                yield Static(p.rendered, markup=False, id="inspector-rendered")
                yield Label("Token ids", classes="inspector-heading")
                yield Static(str(list(p.token_ids)), markup=False, id="inspector-ids")
