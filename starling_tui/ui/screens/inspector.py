"""The prompt inspector: the exact token ids and rendered text of the next request.

Opened while a reply is being written, it waits: the next prompt holds that reply, and asking
the engine for a prompt mid-reply would end the reply (the engine serves one request at a
time). The chat screen fills it in with :meth:`InspectorScreen.show_preview` once the reply ends.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from starling_tui.engine.base import PromptPreview

WAITING = ("The next prompt holds the reply being written: it shows here when the reply ends "
           "(the reply goes on; esc closes this).")


def title_text(preview: PromptPreview | None, empty_message: bool = False) -> str:
    """The dialog's title: the prompt's size and what was left out, or that it is coming."""
    if preview is None:
        return "Next prompt: waiting for the reply to end…"
    dropped = ""
    if preview.dropped_messages:
        dropped = f" · {preview.dropped_messages} oldest messages dropped to fit"
    what = "Next prompt, with an empty message" if empty_message else "Next prompt"
    return f"{what}: {len(preview.token_ids)} tokens{dropped}"


class InspectorScreen(ModalScreen[None]):
    """Read-only view of a :class:`PromptPreview` (None: not known yet, see the module)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, preview: PromptPreview | None, *, empty_message: bool = False) -> None:
        super().__init__()
        self.preview = preview
        self.empty_message = empty_message  # the prompt box was empty (see ``title_text``)

    def compose(self) -> ComposeResult:
        p = self.preview
        with Vertical(classes="dialog wide-dialog"):
            yield Label(title_text(p, self.empty_message), classes="dialog-title",
                        id="inspector-title")
            yield Label(p.format_note if p else "", id="inspector-note", classes="dialog-text")
            with VerticalScroll(classes="inspector-body"):
                yield Label("Rendered", classes="inspector-heading")
                yield Static(p.rendered if p else WAITING, markup=False, id="inspector-rendered")
                yield Label("Token ids", classes="inspector-heading")
                yield Static(str(list(p.token_ids)) if p else "", markup=False,
                             id="inspector-ids")

    def show_preview(self, preview: PromptPreview, *, empty_message: bool = False) -> None:
        """Fill in the prompt the dialog was waiting for."""
        self.preview, self.empty_message = preview, empty_message
        self.query_one("#inspector-title", Label).update(title_text(preview, empty_message))
        self.query_one("#inspector-note", Label).update(preview.format_note)
        self.query_one("#inspector-rendered", Static).update(preview.rendered)
        self.query_one("#inspector-ids", Static).update(str(list(preview.token_ids)))
