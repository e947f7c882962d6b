"""The multi-line prompt box: Enter sends, Shift+Enter / Ctrl+J insert a newline.

Terminal caveat: most terminals send the same byte for Enter and Shift+Enter; Shift+Enter is only
distinguishable where the terminal speaks the kitty keyboard protocol (kitty, WezTerm, foot,
Ghostty, recent iTerm2). Ctrl+J (a raw line feed) works everywhere, so it is the portable way to
insert a newline. Up on an empty box (or while already recalling) walks back through earlier
prompts; Down walks forward again. The box's lower border shows the draft's tokens against the
room the context window leaves it (:mod:`starling_tui.ui.draft_meter`). A paste that names an
existing file (a file dropped on the terminal) is not inserted: the screen offers to attach it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from starling_tui.ui.draft_meter import DraftRoom, describe_room
from starling_tui.ui.file_paths import pasted_file

NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j", "newline"})


class PromptInput(TextArea):
    """A TextArea that submits on Enter and recalls earlier prompts with Up/Down."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 12;
        border: tall $border-blurred;
    }
    PromptInput:focus {
        border: tall $border;
    }
    PromptInput.-over { border-subtitle-color: $warning; }
    PromptInput.-too-long { border-subtitle-color: $error; border-subtitle-style: bold; }
    """

    @dataclass
    class PathPasted(Message):
        """The paste ``text`` names an existing file (``path``): the screen offers to attach it
        (the text was not inserted)."""

        text: str
        path: Path

    @dataclass
    class Submitted(Message):
        """The user pressed Enter with some text."""

        input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            """The prompt box that sent the text."""
            return self.input

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(
            id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
            placeholder=placeholder,  # bordered: the border carries the mode and the meter
        )
        self._recall: list[str] = []
        self._recall_index: int | None = None  # position in _recall while walking it
        self.allow_blank = False  # Enter sends an empty box too (files are attached)

    def show_room(self, room: DraftRoom | None) -> None:
        """Caption the box with the draft's tokens against its room (None: no caption)."""
        self.border_subtitle = describe_room(room) or None
        self.set_class(room is not None and room.pushes_out, "-over")
        self.set_class(room is not None and room.too_long, "-too-long")

    def set_recall(self, prompts: Iterable[str]) -> None:
        """Replace the prompts that Up recalls (oldest first)."""
        self._recall = [p for p in prompts if p.strip()]
        self._recall_index = None

    def remember(self, prompt: str) -> None:
        """Add a sent prompt to the recall list."""
        if prompt.strip() and (not self._recall or self._recall[-1] != prompt):
            self._recall.append(prompt)
        self._recall_index = None

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._submit()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key == "up" and self._recall_walk(-1):
            event.stop()
            event.prevent_default()
            return
        if event.key == "down" and self._recall_index is not None and self._recall_walk(1):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _submit(self) -> None:
        text = self.text
        if not text.strip() and not self.allow_blank:
            return
        self.post_message(self.Submitted(self, text))

    async def _on_paste(self, event: events.Paste) -> None:
        path = pasted_file(event.text, Path.cwd())
        if path is None:
            await super()._on_paste(event)
            return
        event.stop()
        event.prevent_default()
        self.post_message(self.PathPasted(event.text, path))

    def _recall_walk(self, step: int) -> bool:
        """Move through earlier prompts; False when this key should act normally."""
        if self._recall_index is None:
            if self.text or step > 0 or not self._recall:
                return False
            self._recall_index = len(self._recall)
        new_index = self._recall_index + step
        if new_index < 0:
            return True  # already at the oldest prompt: swallow the key
        if new_index >= len(self._recall):
            self._recall_index = None
            self.load_text("")
            return True
        self._recall_index = new_index
        self.load_text(self._recall[new_index])
        self.move_cursor(self.document.end)
        return True
