"""The chat screen's state and the small helpers that show it (no blocking work here)."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Label

from starling_tui.engine.base import ModelInfo
from starling_tui.history.records import Conversation
from starling_tui.ui.screens.loading import LoadingScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.status_line import StatusLine

REPLY_GROUP = "reply"  # the worker group of reply generation


class ChatState(Screen[None]):
    """What the chat screen shows (conversation, mode, model, reply) and helpers to change it."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.conversation_id: str | None = None
        self.conversation_mode = "auto"  # of the shown conversation, or of the next new chat
        self.model_info: ModelInfo | None = None
        self.reply_id: int | None = None  # the reply streaming now
        self.editing_id: int | None = None  # the user message being edited
        self.search_query = ""  # the sidebar's search text

    @property
    def generating(self) -> bool:
        """Is a reply being generated?"""
        return any(w.is_running for w in self.workers if w.group == REPLY_GROUP)

    # -- state helpers ------------------------------------------------------------------------

    def set_conversation(self, conversation: Conversation | None) -> None:
        """Make ``conversation`` the one shown (None: a new, unsaved chat)."""
        self.conversation_id = conversation.id if conversation else None
        self.conversation_mode = conversation.mode if conversation else self.conversation_mode
        self.sub_title = conversation.title if conversation else "New chat"
        self.show_edit_banner("")
        self.editing_id = None
        self._show_mode()

    def show_edit_banner(self, text: str) -> None:
        """Show (or, with "", hide) the line above the prompt box."""
        banner = self.query_one("#edit-banner", Label)
        banner.update(text)
        banner.set_class(bool(text), "-shown")

    def _show_mode(self) -> None:
        self.query_one(PromptInput).border_title = (
            "code mode" if self.conversation_mode == "code" else None
        )

    def show_loading(self, path: str) -> None:
        """Cover the screen with load progress."""
        self.query_one(StatusLine).state = "loading model…"
        self.app.push_screen(LoadingScreen(path))

    def _close_loading(self) -> None:
        if isinstance(self.app.screen, LoadingScreen):
            self.app.pop_screen()
