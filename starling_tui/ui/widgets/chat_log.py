"""The scrolling chat: only the most recent messages are mounted, older ones load on scroll.

A selected message takes only Up/Down (select), Left/Right (its branches) and the screen's
function keys: a printable key is never an action here, the screen sends it to the prompt box.

The log is anchored to the bottom, so a streaming reply stays in view while the user is at the
end; scrolling up releases the anchor (Textual re-anchors when they scroll back down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from starling_tui.types import Attachment
from starling_tui.ui.focus import focus_now
from starling_tui.ui.widgets.message_view import MessageView

PAGE_SIZE = 30  # messages mounted when a conversation opens, and per older page


@dataclass(frozen=True)
class MessageEntry:
    """What the log needs to show one message of the active branch."""

    id: int
    role: str
    content: str
    finish_reason: str | None = None
    branch: tuple[int, int] = (1, 1)  # (position among its siblings, number of siblings)
    attachments: tuple[Attachment, ...] = ()  # a user message's files, in order


class ChatLog(VerticalScroll):
    """The mounted messages of the active branch, newest at the bottom.

    The log never holds the whole conversation: the screen gives it the newest page, and when the
    user reaches the top it posts :class:`ChatLog.OlderWanted` so the screen loads the page above.
    """

    DEFAULT_CSS = """
    ChatLog { height: 1fr; padding: 0 1; }
    ChatLog > MessageView.search-hit { border-left: wide $warning; background: $warning 15%; }
    ChatLog > .view-start {
        width: 1fr; color: $warning; text-style: italic; border-top: dashed $warning;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "select(-1)", "Previous message", show=False),
        Binding("down", "select(1)", "Next message", show=False),
        Binding("left", "screen.branch(-1)", "Previous branch", show=False),
        Binding("right", "screen.branch(1)", "Next branch", show=False),
    ]

    @dataclass
    class OlderWanted(Message):
        """The user reached the top: load the messages before ``before_id``."""

        before_id: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.more_above = False  # are there older messages not loaded yet?
        self._loading_older = False

    def on_mount(self) -> None:
        self.anchor()  # follow new text while the user is at the bottom

    def views(self) -> list[MessageView]:
        """The mounted messages, oldest first."""
        return list(self.query_children(MessageView))

    async def show(self, entries: Sequence[MessageEntry], *, more_above: bool) -> None:
        """Replace the log with ``entries`` (the newest page of the active branch)."""
        self.more_above = more_above
        self._loading_older = False
        await self.remove_children()
        # Textual caches the list of displayed children until it next lays them out, which an
        # empty log never does: refresh it, or it keeps the removed messages' widgets alive.
        _ = self.displayed_children
        # Likewise its last arrangements (where each child went), kept until four newer ones
        # push them out.
        self._clear_arrangement_cache()
        if entries:
            await self.mount_all([self._view(e) for e in entries])
        self.anchor()

    async def add(self, entry: MessageEntry) -> MessageView:
        """Append a message at the bottom and return its widget; a message the user sends
        brings the view back to the bottom (and keeps it there while the reply streams)."""
        view = self._view(entry)
        await self.mount(view)
        if entry.role == "user":
            self.anchor()
        return view

    def show_hit(self, message_id: int) -> None:
        """Highlight a search hit and scroll it to the top once laid out."""
        view = self.view_for(message_id)
        if view is not None:
            view.add_class("search-hit")
            self.call_after_refresh(self.scroll_to_widget, view, top=True, animate=False)

    async def prepend(self, entries: Sequence[MessageEntry], *, more_above: bool) -> None:
        """Mount an older page above the oldest message, keeping the reading position."""
        self.more_above = more_above
        self._loading_older = False
        views = self.views()
        if not entries:
            return
        old_height = self.virtual_size.height
        old_y = self.scroll_y
        new_views = [self._view(e) for e in entries]
        if views:
            await self.mount_all(new_views, before=views[0])
        else:
            await self.mount_all(new_views)
        self.call_after_refresh(self._keep_position, old_height, old_y)

    def _keep_position(self, old_height: int, old_y: float) -> None:
        grown = self.virtual_size.height - old_height
        self.scroll_to(y=old_y + grown, animate=False, immediate=True)

    def _view(self, entry: MessageEntry) -> MessageView:
        return MessageView(
            entry.id, entry.role, entry.content, finish_reason=entry.finish_reason,
            branch=entry.branch, attachments=entry.attachments,
        )

    def mark_view_start(self, message_id: int | None, dropped: int) -> None:
        """Mark where the model's view begins: ``dropped`` older turns were outside its
        context window at the last reply (None or 0: it saw everything; no mark)."""
        for old in self.query_children(".view-start"):
            old.remove()
        view = self.view_for(message_id) if message_id is not None and dropped > 0 else None
        if view is not None:
            turns = "turn" if dropped == 1 else "turns"
            text = f"the model sees from here on ({dropped} older {turns} outside its context)"
            self.mount(Static(text, classes="view-start", markup=False), before=view)

    def view_for(self, message_id: int) -> MessageView | None:
        """The mounted widget of a message, if any."""
        return next((v for v in self.views() if v.message_id == message_id), None)

    def selected(self) -> MessageView | None:
        """The focused message, if focus is in the log."""
        focused = self.screen.focused
        return focused if isinstance(focused, MessageView) and focused.parent is self else None

    def last_view(self, role: str | None = None) -> MessageView | None:
        """The newest mounted message (of ``role`` when given)."""
        views = [v for v in self.views() if role is None or v.role == role]
        return views[-1] if views else None

    def want_older(self) -> None:
        """Ask the screen for the page above, once at a time."""
        views = self.views()
        if self.more_above and views and not self._loading_older:
            self._loading_older = True
            self.post_message(self.OlderWanted(views[0].message_id))

    def action_select(self, step: int) -> None:
        """Move focus to the previous/next message; at the top, load older ones."""
        views = self.views()
        if not views:
            return
        current = self.selected()
        index = views.index(current) + step if current else len(views) - 1
        if index < 0:
            self.want_older()
        index = max(0, min(index, len(views) - 1))
        focus_now(views[index])
        views[index].scroll_visible(animate=False)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 < old:
            self.want_older()
