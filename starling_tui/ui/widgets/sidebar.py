"""The conversation sidebar: a search box over a newest-first list of conversations.

With a query, the list shows full-text search hits (one row per conversation, with the matching
excerpt); Enter opens the selected conversation. Delete asks to delete it, F2 renames it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from starling_tui.ui.focus import focus_now


@dataclass(frozen=True)
class ConversationRow:
    """One row of the sidebar."""

    id: str
    title: str
    detail: str = ""  # a search excerpt or the message count


class Sidebar(Vertical):
    """Search box and conversation list; posts :class:`Sidebar.Selected` and friends."""

    DEFAULT_CSS = """
    Sidebar { width: 32; border-right: vkey $border-blurred; }
    Sidebar > Input { margin: 0; border: tall $border-blurred; }
    Sidebar > OptionList { height: 1fr; border: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "screen.delete_conversation", "Delete chat", show=False),
        Binding("f2", "screen.rename_conversation", "Rename", show=False),
    ]

    @dataclass
    class Selected(Message):
        """The user opened a conversation."""

        conversation_id: str

    @dataclass
    class SearchChanged(Message):
        """The search text changed (empty: list everything)."""

        query: str

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search chats (ctrl+f)", id="sidebar-search")
        yield OptionList(id="sidebar-list")

    @property
    def query_text(self) -> str:
        """The current search text."""
        return self.query_one("#sidebar-search", Input).value.strip()

    def show_rows(self, rows: Sequence[ConversationRow], current_id: str | None = None) -> None:
        """Replace the list, keeping the highlight on ``current_id`` when it is shown."""
        option_list = self.query_one(OptionList)
        option_list.clear_options()
        for row in rows:
            label = Text(row.title or "Untitled", overflow="ellipsis", no_wrap=True)
            if row.detail:
                label.append("\n" + row.detail, style="dim")
            option_list.add_option(Option(label, id=row.id))
        ids = [row.id for row in rows]
        if ids:
            option_list.highlighted = ids.index(current_id) if current_id in ids else 0

    @property
    def highlighted_id(self) -> str | None:
        """The conversation under the cursor."""
        option_list = self.query_one(OptionList)
        if option_list.highlighted is None:
            return None
        return option_list.get_option_at_index(option_list.highlighted).id

    def focus_search(self) -> None:
        """Put the cursor in the search box."""
        focus_now(self.query_one("#sidebar-search", Input))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        focus_now(self.query_one(OptionList))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Selected(event.option.id))
