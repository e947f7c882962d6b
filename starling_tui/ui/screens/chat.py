"""The main screen: sidebar, chat log, prompt box, status line and footer.

This module composes the screen and renders what workers report; the blocking work lives in
:mod:`starling_tui.ui.screens.chat_tasks` (thread workers), the user actions in
:mod:`starling_tui.ui.screens.chat_actions` and those that open a dialog in
:mod:`starling_tui.ui.screens.chat_dialogs`.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Label

from starling_tui.ui.actions import chat_bindings
from starling_tui.ui.focus import focus_now
from starling_tui.ui.messages import (
    ConversationDeleted,
    ConversationLoaded,
    ModelLoaded,
    ModelLoadFailed,
    Notice,
    OlderLoaded,
    PreviewReady,
    ReplyChunk,
    ReplyFinished,
    ReplyStarted,
    SidebarLoaded,
    UserMessageAdded,
)
from starling_tui.ui.screens.chat_actions import ChatActions
from starling_tui.ui.screens.error import ErrorScreen
from starling_tui.ui.screens.inspector import InspectorScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.chat_log import ChatLog
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.sidebar import Sidebar
from starling_tui.ui.widgets.status_line import StatusLine


class ChatScreen(ChatActions):
    """Where the user chats; every action has a key (see :mod:`starling_tui.ui.actions`)."""

    BINDINGS: ClassVar[list[BindingType]] = chat_bindings()

    def __init__(self, services: Services) -> None:
        super().__init__(services)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            with Vertical(id="chat-pane"):
                yield ChatLog(id="chat-log")
                yield Label("", id="edit-banner")
                yield PromptInput(id="prompt", placeholder="Message (Enter sends, Ctrl+J newline)")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        focus_now(self.query_one(PromptInput))
        self.refresh_sidebar()
        services = self.services
        if services.conversation_id and not services.new_chat:
            self.open_conversation(services.conversation_id)
        elif not services.new_chat:
            self.open_latest()
        if services.engine_options.model_path:
            self.load_model(services.engine_options.model_path)
        else:
            self.app.call_after_refresh(self.show_welcome)

    # -- rendering what the workers report ----------------------------------------------------

    @on(SidebarLoaded)
    def _sidebar_loaded(self, message: SidebarLoaded) -> None:
        self.query_one(Sidebar).show_rows(message.rows, self.conversation_id, message.query)

    @on(ConversationLoaded)
    async def _conversation_loaded(self, message: ConversationLoaded) -> None:
        self.set_conversation(message.conversation)
        # Recall first: once the messages show, Up must already bring back their prompts.
        self.query_one(PromptInput).set_recall(message.prompts)
        log = self.query_one(ChatLog)
        await log.show(message.entries, more_above=message.more_above)
        self.query_one(StatusLine).context_used = message.context_used
        if message.focus_id is not None and (view := log.view_for(message.focus_id)):
            focus_now(view)

    @on(OlderLoaded)
    async def _older_loaded(self, message: OlderLoaded) -> None:
        if message.conversation_id == self.conversation_id:
            await self.query_one(ChatLog).prepend(message.entries, more_above=message.more_above)

    @on(ChatLog.OlderWanted)
    def _older_wanted(self, message: ChatLog.OlderWanted) -> None:
        if self.conversation_id is not None:
            self.load_older(self.conversation_id, message.before_id)

    @on(UserMessageAdded)
    async def _user_message_added(self, message: UserMessageAdded) -> None:
        is_new = self.conversation_id != message.conversation.id
        self.set_conversation(message.conversation)
        await self.query_one(ChatLog).add(message.entry)
        if is_new:
            self.refresh_sidebar()

    @on(ReplyStarted)
    async def _reply_started(self, message: ReplyStarted) -> None:
        self.reply_id = message.entry.id
        self.query_one(StatusLine).state = "generating… (esc stops)"
        await self.query_one(ChatLog).add(message.entry)

    @on(ReplyChunk)
    def _reply_chunk(self, message: ReplyChunk) -> None:
        view = self.query_one(ChatLog).view_for(message.message_id)
        if view is not None:
            view.append(message.text)

    @on(ReplyFinished)
    async def _reply_finished(self, message: ReplyFinished) -> None:
        view = self.query_one(ChatLog).view_for(message.message_id)
        if view is not None:
            await view.end_stream()  # the whole reply is rendered once this returns
            view.set_finish_reason(message.finish_reason)
        self.reply_id = None
        status = self.query_one(StatusLine)
        status.state = ""
        if message.finish_reason != "error":
            status.stats = message.stats
            status.context_used = message.stats.prompt_tokens + message.stats.completion_tokens
        self.refresh_sidebar()

    @on(ModelLoaded)
    def _model_loaded(self, message: ModelLoaded) -> None:
        self._close_loading()
        self.model_info = message.info
        status = self.query_one(StatusLine)
        status.info = message.info
        status.state = ""

    @on(ModelLoadFailed)
    def _model_load_failed(self, message: ModelLoadFailed) -> None:
        self._close_loading()
        self.query_one(StatusLine).state = ""
        self.app.push_screen(ErrorScreen("Could not load the model", message.error))

    @on(PreviewReady)
    def _preview_ready(self, message: PreviewReady) -> None:
        self.app.push_screen(InspectorScreen(message.preview))

    @on(ConversationDeleted)
    async def _conversation_deleted(self, message: ConversationDeleted) -> None:
        if message.conversation_id == self.conversation_id:
            await self.start_new_chat()
        self.notify("Conversation deleted", timeout=2)

    @on(Notice)
    def _notice(self, message: Notice) -> None:
        self.notify(message.text, severity=message.severity)  # type: ignore[arg-type]

    @on(Sidebar.Selected)
    def _sidebar_selected(self, message: Sidebar.Selected) -> None:
        if message.conversation_id != self.conversation_id:
            self.open_conversation(message.conversation_id)
        focus_now(self.query_one(PromptInput))

    @on(Sidebar.SearchChanged)
    def _search_changed(self, message: Sidebar.SearchChanged) -> None:
        self.search_query = message.query
        self.refresh_sidebar(message.query)

    @on(PromptInput.Submitted)
    def _prompt_submitted(self, message: PromptInput.Submitted) -> None:
        self.send(message.text)
