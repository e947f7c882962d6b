"""Files in the chat: the chips under the prompt box, and a sent message's files.

A chip is one file waiting to go with the next message: its name (and the real file when a
link was followed), its size and its tokens (counted by the engine; "counting…" until then).
Tab reaches the chips from the prompt box; Delete or Backspace on a chip, or a click on its
``✕``, removes it. In the chat log a message's files are collapsed to one line each (name,
size, tokens); Enter or a click opens one to its text (built only then: a long file costs
nothing while it stays shut).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from starling_tui.disk import human
from starling_tui.types import Attachment

REMOVE = "✕"


def tokens_text(tokens: int | None) -> str:
    """``1,234 tokens``, or that they are being counted."""
    return "counting tokens…" if tokens is None else f"{tokens:,} tokens"


@dataclass(frozen=True)
class PendingFile:
    """A file attached to the draft: what goes to the model, the real file when a link was
    followed, and its tokens once counted."""

    attachment: Attachment
    resolved: Path | None = None
    tokens: int | None = None

    @property
    def key(self) -> str:
        """One file once: the same content attached twice is the same chip."""
        return self.attachment.sha256

    def counted(self, tokens: int) -> PendingFile:
        """This file with its token count."""
        return replace(self, tokens=tokens)

    def label(self, width: int = 0) -> str:
        """``📄 notes.md · 12.3 kB · 1,234 tokens`` (and ``→ target`` for a link); with a
        ``width``, a long name loses its start (a path's end names the file)."""
        name = self.attachment.name
        if self.resolved is not None:
            name += f" → {self.resolved}"
        tail = f" · {human(self.attachment.size)} · {tokens_text(self.tokens)}"
        room = width - len(tail) - 2
        if width and len(name) > room:
            name = "…" + name[len(name) - max(room - 1, 8):]
        return f"📄 {name}{tail}"


class FileChip(Static, can_focus=True):
    """One attached file under the prompt box; Delete/Backspace or its ``✕`` removes it."""

    DEFAULT_CSS = """
    FileChip { width: 1fr; height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    FileChip:focus { background: $accent 30%; color: $text; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace", "remove", "Remove file", show=False),
    ]

    @dataclass
    class Removed(Message):
        """The user removed the file ``key`` from the draft."""

        key: str

    def __init__(self, file: PendingFile) -> None:
        super().__init__(markup=False)
        self.file = file

    def render(self) -> Text:
        """The file's label, cut to the chip's width, and the remove mark."""
        width = self.content_region.width - len(REMOVE) - 4  # the ✕ always shows (the 📄 is
        # two cells wide)
        text = Text(self.file.label(width), overflow="ellipsis", no_wrap=True)
        text.append(f"  {REMOVE}", style="bold")
        return text

    def action_remove(self) -> None:
        """Take the file off the draft."""
        self.post_message(self.Removed(self.file.key))

    def on_click(self, event: events.Click) -> None:
        if event.x >= self.size.width - 4:  # the ✕ at the right end (padding included)
            self.action_remove()


class AttachmentChips(Vertical):
    """The files waiting to go with the next message, one chip a line."""

    DEFAULT_CSS = """
    AttachmentChips { height: auto; max-height: 6; display: none; }
    AttachmentChips.-shown { display: block; }
    """

    def show(self, files: list[PendingFile]) -> None:
        """Show ``files`` (none: the row disappears)."""
        chips = list(self.query_children(FileChip))
        if [c.file for c in chips] != files:
            focused = next((c.file.key for c in chips if c.has_focus), None)
            self.remove_children()
            new = [FileChip(f) for f in files]
            self.mount_all(new)
            for chip in new:
                if chip.file.key == focused:
                    self.call_after_refresh(chip.focus)
        self.set_class(bool(files), "-shown")


class FileView(Vertical):
    """A sent message's file: one line (name, size, tokens) that opens to the file's text."""

    DEFAULT_CSS = """
    FileView { height: auto; }
    FileView > .file-header { width: 1fr; color: $text-muted; }
    FileView > .file-header:focus { color: $text; background: $accent 20%; }
    FileView > .file-text { width: 1fr; padding: 0 1; background: $boost; }
    """

    def __init__(self, attachment: Attachment, tokens: int | None = None) -> None:
        super().__init__()
        self.attachment = attachment
        self.tokens = tokens
        self.expanded = False

    def compose(self) -> ComposeResult:
        yield FileHeader(self.header_text(), classes="file-header")

    def header_text(self) -> str:
        """``▸ 📄 name · 12.3 kB · 1,234 tokens`` (▾ when open)."""
        mark = "▾" if self.expanded else "▸"
        return (f"{mark} 📄 {self.attachment.name} · {human(self.attachment.size)} · "
                f"{tokens_text(self.tokens)}")

    def set_tokens(self, tokens: int) -> None:
        """Show the file's token count."""
        self.tokens = tokens
        self.query_one(FileHeader).update(self.header_text())

    async def toggle(self) -> None:
        """Open the file to its text, or shut it again."""
        self.expanded = not self.expanded
        texts = self.query(".file-text")
        if self.expanded and not texts:
            await self.mount(Static(self.attachment.text, markup=False, classes="file-text"))
        else:
            for text in texts:
                text.display = self.expanded
        self.query_one(FileHeader).update(self.header_text())


class FileHeader(Static, can_focus=True):
    """A file's one line; Enter or a click opens or shuts it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_or_shut", "Open or shut", show=False),
    ]

    def __init__(self, text: str, *, classes: str) -> None:
        super().__init__(text, markup=False, classes=classes)

    async def action_open_or_shut(self) -> None:
        """Open or shut the file this line stands for."""
        parent = self.parent
        if isinstance(parent, FileView):
            await parent.toggle()

    async def on_click(self) -> None:
        await self.action_open_or_shut()
