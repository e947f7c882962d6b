"""The conversation sidebar: a search box over a newest-first list of conversations.

With a query, the list shows full-text search hits (one row per conversation, with the matching
excerpt); a hit opens at its message. Enter in the search box opens the top hit (once the hits
for what was typed are in: a fast typist's Enter never opens a stale row); Escape clears the
search (an empty box lets Escape stop a reply as anywhere else); Down moves to the list, where
Enter opens the highlighted conversation, Delete asks to delete it and F2 renames it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.actions import SkipAction
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
    message_id: int | None = None  # a search hit: the matching message


class Sidebar(Vertical):
    """Search box and conversation list; posts :class:`Sidebar.Selected` and friends."""

    DEFAULT_CSS = """
    Sidebar { width: 32; border-right: vkey $border-blurred; }
    Sidebar > Input { margin: 0; border: tall $border-blurred; }
    Sidebar > OptionList { height: 1fr; border: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "screen.dialog('delete')", "Delete chat", show=False),
        Binding("f2", "screen.dialog('rename')", "Rename", show=False),
        Binding("down", "focus_list", "To the list", show=False),  # from the search box
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown_query = ""  # the query whose rows the list shows
        self._open_top_hit_of: str | None = None  # Enter came before that query's hits
        self._hits: dict[str, int] = {}  # conversation → its matching message, while searching

    @dataclass
    class Selected(Message):
        """The user opened a conversation (at ``message_id``: a search hit)."""

        conversation_id: str
        message_id: int | None = None

    @dataclass
    class SearchCleared(Message):
        """Escape emptied the search box: the user is done searching."""

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

    def show_rows(self, rows: Sequence[ConversationRow], current_id: str | None = None,
                  query: str = "") -> None:
        """Replace the list (the rows for ``query``), keeping the highlight on ``current_id``."""
        option_list = self.query_one(OptionList)
        option_list.clear_options()
        self._hits = {row.id: row.message_id for row in rows if row.message_id is not None}
        for row in rows:
            label = Text(row.title or "Untitled", overflow="ellipsis", no_wrap=True)
            if row.detail:
                label.append("\n" + row.detail, style="dim")
            option_list.add_option(Option(label, id=row.id))
        ids = [row.id for row in rows]
        if ids:
            option_list.highlighted = ids.index(current_id) if current_id in ids else 0
        self._shown_query = query
        if self._open_top_hit_of == query:
            self._open_top_hit_of = None
            self._open_top_hit()

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
        self._open_top_hit_of = None  # typing on: that Enter was for another query
        self.post_message(self.SearchChanged(event.value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._shown_query == self.query_text:
            self._open_top_hit()
        else:
            self._open_top_hit_of = self.query_text

    def _open_top_hit(self) -> None:
        option_list = self.query_one(OptionList)
        if option_list.option_count:
            top = option_list.get_option_at_index(0).id
            if top is not None:
                self.post_message(self.Selected(top, self._hits.get(top)))

    def action_focus_list(self) -> None:
        """Move from the search box to the list."""
        focus_now(self.query_one(OptionList))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Selected(event.option.id, self._hits.get(event.option.id)))

    def action_clear_search(self) -> None:
        """Empty the search box (the list shows every conversation again)."""
        search = self.query_one("#sidebar-search", Input)
        if not search.value:
            raise SkipAction()  # nothing to clear: Escape does what it does elsewhere
        search.value = ""
        self.post_message(self.SearchCleared())
