"""The main screen, thin: it composes the widgets, turns keys into calls on its
:class:`~starling_tui.ui.controller.ChatController` (state, rules, thread workers over the chat
core), has :class:`~starling_tui.ui.chat_view.ChatView` render what workers post, runs the
dialogs of :class:`~starling_tui.ui.dialogs.ChatDialogs`, and sends every failed worker to one
handler (:mod:`starling_tui.ui.worker_errors`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, TextArea
from textual.worker import Worker, WorkerState

from starling_tui.factory import uses_remote_engine
from starling_tui.history.records import Conversation
from starling_tui.ui import messages as msg
from starling_tui.ui.actions import chat_bindings
from starling_tui.ui.chat_view import ChatView
from starling_tui.ui.controller import ChatController
from starling_tui.ui.dialogs import ChatDialogs
from starling_tui.ui.focus import focus_now
from starling_tui.ui.screens.error import ErrorScreen
from starling_tui.ui.screens.inspector import InspectorScreen
from starling_tui.ui.screens.settings import SettingsScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.attachments import AttachmentChips, FileChip, PendingFile
from starling_tui.ui.widgets.chat_log import ChatLog
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.sidebar import Sidebar
from starling_tui.ui.widgets.status_line import StatusLine, model_notes
from starling_tui.ui.worker_errors import show_worker_error

DRAFT_PAUSE_S = 0.25  # the draft is measured once typing pauses this long
LIVE_INTERVAL_S = 0.25  # a streaming reply's figures are shown this often
SIDEBAR_MIN_WIDTH = 80  # narrower: the sidebar hides by itself (ctrl+b shows it)
GREEDY_HINT = ("At temperature 0 the model picks the same words every time: the new reply would "
               "repeat this one. Set a temperature with ctrl+g (this chat) or f9, or press "
               "ctrl+r again to regenerate anyway.")


class ChatScreen(Screen[None]):
    """Where the user chats; every action has a key (see :mod:`starling_tui.ui.actions`)."""

    BINDINGS: ClassVar[list[BindingType]] = chat_bindings()

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.controller = ChatController(services, self)
        self.view = ChatView(self)
        self.dialogs = ChatDialogs(self, self.controller, self.view)
        self._draft_timer: Timer | None = None
        self._live_timer: Timer | None = None
        self._file_tokens: dict[str, int] = {}  # token counts of files seen, by SHA-256

    @property
    def conversation_id(self) -> str | None:
        """The shown conversation (None: a new chat)."""
        return self.controller.state.conversation_id

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            with Vertical(id="chat-pane"):
                yield ChatLog(id="chat-log")
                yield Label("", id="edit-banner")
                yield PromptInput(id="prompt", placeholder="Message (Enter sends, Ctrl+J newline)")
                yield AttachmentChips(id="attachments")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        focus_now(self.query_one(PromptInput))
        self.view.show_title(None, self.controller.state.mode)
        self.controller.refresh_sidebar()
        if not self.services.new_chat:
            self.controller.open_conversation(self.services.conversation_id)
        # A remote server needs no local model file: its engine loads from the settings' URL.
        remote = uses_remote_engine(self.services.settings)
        if self.services.model_path or remote:  # after the first frame: the dialog goes on top
            self.app.call_after_refresh(self.load_model, self.services.model_path)
        else:
            self.app.call_after_refresh(self.dialogs.welcome)

    def load_model(self, path: str) -> None:
        """Load a model, with the loading dialog over the screen."""
        self.dialogs.load_model(path)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker ends up: a dialog; the app stays usable."""
        if event.state != WorkerState.ERROR:
            return
        self.view.close_loading()
        show_worker_error(
            event.worker.error,
            lambda title, text, then: self.app.push_screen(ErrorScreen(title, text), then),
            self._forget_model, self.load_model,
        )

    def _theme_changed(self, theme: Theme) -> None:
        """A theme picked in the command palette is saved as F9's is (F9 saves its own, and
        its live preview is not a choice yet)."""
        previewing = any(isinstance(s, SettingsScreen) for s in self.app.screen_stack)
        if not previewing and theme.name != self.controller.core.settings.theme:
            self.controller.remember(theme=theme.name)

    def on_resize(self) -> None:
        self._show_sidebar()

    def _show_sidebar(self) -> None:
        """The sidebar as ctrl+b left it, or by the width: a narrow terminal keeps its
        columns for the chat."""
        wanted = self.controller.state.sidebar
        sidebar = self.view.sidebar
        sidebar.display = wanted if wanted is not None else self.size.width >= SIDEBAR_MIN_WIDTH
        if not sidebar.display and sidebar.has_focus_within:
            focus_now(self.query_one(PromptInput))

    def _forget_model(self) -> str:
        self.view.show_model(None)
        return self.controller.forget_model()

    # -- what the workers report ----------------------------------------------------------------

    @on(msg.SidebarLoaded)
    def _sidebar_loaded(self, message: msg.SidebarLoaded) -> None:
        self.view.sidebar.show_rows(message.rows, self.conversation_id, message.query)

    @on(msg.ConversationLoaded)
    async def _conversation_loaded(self, message: msg.ConversationLoaded) -> None:
        self._set_conversation(message.conversation)
        await self.view.show_conversation(message)
        self.count_draft_soon()
        self._count_files()

    def _set_conversation(self, conversation: Conversation | None) -> None:
        state = self.controller.state
        if state.editing_id is not None:  # another conversation or branch: the edit is over
            self._end_edit()
        state.show(conversation)
        self.view.show_edit_banner("")
        self.view.show_title(conversation, state.mode)

    @on(msg.OlderLoaded)
    async def _older_loaded(self, message: msg.OlderLoaded) -> None:
        if message.conversation_id == self.conversation_id:
            await self.view.log.prepend(message.entries, more_above=message.more_above)

    @on(ChatLog.OlderWanted)
    def _older_wanted(self, message: ChatLog.OlderWanted) -> None:
        self.controller.load_older(message.before_id)

    @on(msg.UserMessageAdded)
    async def _user_message_added(self, message: msg.UserMessageAdded) -> None:
        is_new = self.conversation_id != message.conversation.id
        self._set_conversation(message.conversation)
        view = await self.view.log.add(message.entry)
        view.set_file_tokens(self._file_tokens)  # counted as chips already
        if is_new:
            self.controller.refresh_sidebar()

    @on(msg.ReplyStarted)
    async def _reply_started(self, message: msg.ReplyStarted) -> None:
        self.controller.state.reply_id = message.entry.id
        await self.view.reply_started(message.entry)
        self._watch_reply(message.entry.id)

    def _watch_reply(self, reply_id: int) -> None:
        """Show the reply's figures as it goes (see ``ChatView.show_live``) until it ends."""
        started = time.monotonic()
        engine = self.services.engine

        def show() -> None:
            view = self.view.log.view_for(reply_id)
            self.view.show_live(engine.last_stats, time.monotonic() - started,
                                bool(view and view.content))

        self._stop_watching_reply()
        self._live_timer = self.set_interval(LIVE_INTERVAL_S, show)

    def _stop_watching_reply(self) -> None:
        if self._live_timer is not None:
            self._live_timer.stop()
            self._live_timer = None

    @on(msg.ReplyChunk)
    def _reply_chunk(self, message: msg.ReplyChunk) -> None:
        self.view.reply_chunk(message.message_id, message.text)

    @on(msg.ReplyFinished)
    async def _reply_finished(self, message: msg.ReplyFinished) -> None:
        self._stop_watching_reply()
        await self.view.reply_finished(message.message_id, message.finish_reason,
                                       message.stats, message.view_start)
        state = self.controller.state
        state.reply_id = None
        self.controller.refresh_sidebar()
        self.count_draft_soon()  # the conversation grew: the room is smaller
        self._count_files()  # files attached while the engine was busy
        if state.preview_after_reply:  # F7 was pressed during the reply: its prompt now
            state.preview_after_reply = False
            self.controller.preview(self.view.prompt.text, reply_over=True)

    @on(msg.ModelLoaded)
    def _model_loaded(self, message: msg.ModelLoaded) -> None:
        self.view.close_loading()
        state = self.controller.state
        state.model_info = message.info
        state.default_system = message.default_system
        self.view.show_model(message.info)
        notes = model_notes(message.info)
        if notes:  # a model without a chat template, a context other than asked for
            self.notify(notes, severity="warning", timeout=12)
        self.count_draft_soon()
        if state.remember_model and state.remember_model == message.info.path:
            state.remember_model = ""
            self.controller.remember(model=message.info.path)

    @on(msg.ModelLoadFailed)
    def _model_load_failed(self, message: msg.ModelLoadFailed) -> None:
        self.view.close_loading()
        self.app.push_screen(ErrorScreen("Could not load the model", message.error))

    @on(msg.PreviewReady)
    def _preview_ready(self, message: msg.PreviewReady) -> None:
        waiting = self.app.screen
        if isinstance(waiting, InspectorScreen) and waiting.preview is None:
            waiting.show_preview(message.preview, empty_message=message.empty_message)
        else:
            self.app.push_screen(InspectorScreen(message.preview,
                                                 empty_message=message.empty_message))

    @on(msg.GreedyRegenerate)
    def _greedy_regenerate(self, message: msg.GreedyRegenerate) -> None:
        if message.conversation_id == self.conversation_id:
            self.controller.state.greedy_ok = message.conversation_id
            self.notify(GREEDY_HINT, severity="warning", timeout=8)

    @on(msg.ConversationDeleted)
    async def _conversation_deleted(self, message: msg.ConversationDeleted) -> None:
        if message.conversation_id == self.conversation_id:
            await self.action_new_chat()
        self.notify("Conversation deleted", timeout=2)

    @on(msg.Notice)
    def _notice(self, message: msg.Notice) -> None:
        self.notify(message.text, severity=message.severity)  # type: ignore[arg-type]

    @on(Sidebar.Selected)
    def _sidebar_selected(self, message: Sidebar.Selected) -> None:
        if message.conversation_id != self.conversation_id or message.message_id is not None:
            self.controller.open_conversation(message.conversation_id, message.message_id)
        focus_now(self.query_one(PromptInput))

    @on(Sidebar.SearchCleared)
    def _search_cleared(self) -> None:
        focus_now(self.query_one(PromptInput))

    @on(Sidebar.SearchChanged)
    def _search_changed(self, message: Sidebar.SearchChanged) -> None:
        self.controller.refresh_sidebar(message.query)

    def _end_edit(self) -> None:
        """An edit dropped: the draft's text and files come back."""
        state = self.controller.state
        self.view.cancel_edit(state.draft)
        state.draft, state.files, state.draft_files = "", state.draft_files, []
        self._show_files()

    def on_key(self, event: events.Key) -> None:
        """A printable key that no widget took (a selected message, the sidebar list, nothing
        focused) is typed into the prompt box: typed text never becomes an action or is lost."""
        if event.is_printable and event.character and not isinstance(
            self.focused, (Input, TextArea)
        ):
            event.stop()
            self.view.type_into_prompt(event.character)

    @on(TextArea.Changed, "#prompt")
    def _draft_changed(self) -> None:
        self.count_draft_soon()

    def count_draft_soon(self) -> None:
        """Measure the draft once typing pauses (each keystroke restarts the wait)."""
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_PAUSE_S, self._count_draft)

    def _count_draft(self) -> None:
        self._draft_timer = None
        self.controller.count_draft(self.view.prompt.text)

    @on(msg.DraftCounted)
    def _draft_counted(self, message: msg.DraftCounted) -> None:
        if message.text == self.view.prompt.text:  # not a draft typed over since
            room = message.room
            files = sum(f.tokens or 0 for f in self.controller.state.files)
            if room.tokens is not None and files:
                room = replace(room, tokens=room.tokens + files)  # the files go with it
            self.view.prompt.show_room(room)
            self.view.status.reserve = room.reserve

    # -- files --------------------------------------------------------------------------------

    def _count_files(self) -> None:
        """Count the tokens of the draft's files and the shown messages' files not counted."""
        wanted = [f.attachment for f in self.controller.state.files if f.tokens is None]
        for view in self.view.log.views():
            wanted += [a for a in view.attachments if a.sha256 not in self._file_tokens]
        self.view.show_file_tokens(self._file_tokens)
        self.controller.count_files(wanted)

    def _show_files(self) -> None:
        self.view.show_files(self.controller.state.files)
        self.count_draft_soon()

    @on(msg.FileAttached)
    def _file_attached(self, message: msg.FileAttached) -> None:
        state = self.controller.state
        file = message.file
        if any(f.key == file.key for f in state.files):
            self.notify(f"{file.attachment.name} is attached already", severity="warning")
            return
        known = self._file_tokens.get(file.key)
        state.files.append(file.counted(known) if known is not None else file)
        self._show_files()
        self._count_files()

    @on(msg.FilesCounted)
    def _files_counted(self, message: msg.FilesCounted) -> None:
        self._file_tokens.update(message.tokens)
        state = self.controller.state
        for files in (state.files, state.draft_files):
            files[:] = [f.counted(message.tokens[f.key]) if f.key in message.tokens else f
                        for f in files]
        self._show_files()
        self.view.show_file_tokens(self._file_tokens)

    @on(FileChip.Removed)
    def _file_removed(self, message: FileChip.Removed) -> None:
        state = self.controller.state
        state.files = [f for f in state.files if f.key != message.key]
        self._show_files()
        focus_now(self.view.prompt)

    @on(PromptInput.PathPasted)
    def _path_pasted(self, message: PromptInput.PathPasted) -> None:
        self.run_worker(self.dialogs.attach_pasted(message.text, message.path), group="dialog")

    @on(msg.SendRefused)
    def _send_refused(self, message: msg.SendRefused) -> None:
        state = self.controller.state
        if not self.view.prompt.text:
            self.view.put_draft(message.text)  # nothing was saved: the draft comes back
            if not state.files:
                state.files = state.unsent_files
                self._show_files()
        self.notify(f"Not sent: {message.error}", severity="error", timeout=10)

    @on(msg.PreviewDeferred)
    def _preview_deferred(self) -> None:
        self.controller.state.preview_after_reply = True
        if not isinstance(self.app.screen, InspectorScreen):
            self.app.push_screen(InspectorScreen(None), self._inspector_closed)

    @on(PromptInput.Submitted)
    def _prompt_submitted(self, message: PromptInput.Submitted) -> None:
        self.send(message.text)

    # -- actions (keys and the command palette) --------------------------------------------------

    def send(self, text: str) -> None:
        """Send the prompt box's text (as an edit when editing), if a reply can start."""
        if self.controller.can_generate():
            state = self.controller.state
            draft = state.draft if state.editing_id is not None else ""
            state.draft = ""
            self.controller.send(text, after=self.view.take_prompt(text, draft))
            self._show_files()  # the draft's files went with it (an edit: the draft's are back)

    async def action_new_chat(self) -> None:
        """Clear the view for a new conversation (saved once its first message is sent)."""
        state = self.controller.state
        state.mode, state.new_system_prompt, state.new_sampling = "auto", None, {}
        self._set_conversation(None)
        await self.view.clear()

    def action_stop(self) -> None:
        """Stop the reply being generated (it is kept, marked), or cancel an edit."""
        state = self.controller.state
        if not self.controller.stop() and state.editing_id is not None:
            state.editing_id = None
            self._end_edit()

    def action_regenerate(self) -> None:
        """Answer the last user message again, as a new branch of the reply."""
        self.controller.regenerate()

    def action_edit_message(self) -> None:
        """Put the selected (or last) user message in the prompt box to resend as a branch."""
        view = self.view.target_message("user")
        if view is None:
            self.notify("No message to edit", severity="warning")
            return
        state = self.controller.state
        draft = self.view.start_edit(view)
        if state.editing_id is None:  # editing another message keeps the first draft
            state.draft, state.draft_files = draft, state.files
        state.editing_id = view.message_id
        state.files = [PendingFile(a, tokens=self._file_tokens.get(a.sha256))
                       for a in view.attachments]
        self._show_files()

    def action_branch(self, step: int) -> None:
        """Show the previous/next sibling branch of the selected (or last branched) message."""
        view = self.view.branch_target()
        if view is None or view.branch[1] < 2:
            self.notify("This message has no other branches", severity="warning")
        else:
            self.controller.switch_branch(view.message_id, step)

    def action_copy_message(self) -> None:
        """Copy the selected message (default: the last reply) through OSC 52."""
        self.view.copy(code=False)

    def action_copy_code(self) -> None:
        """Copy the last code block of the selected message (default: the last reply)."""
        self.view.copy(code=True)

    def action_search(self) -> None:
        """Put the cursor in the sidebar's search box (showing the sidebar if it was hidden)."""
        if not self.view.sidebar.display:
            self.controller.state.sidebar = True
            self._show_sidebar()
        self.view.sidebar.focus_search()

    def action_toggle_sidebar(self) -> None:
        """Show or hide the conversation list."""
        self.controller.state.sidebar = not self.view.sidebar.display
        self._show_sidebar()

    def action_export(self) -> None:
        """Export the conversation to a Markdown file (the chat core's export)."""
        self.controller.export()

    def action_toggle_code_mode(self) -> None:
        """Switch coding mode (OpenChat ``Code User:``) for this conversation; refused up
        front on a model that is not an OpenChat model (its format has no ``Code User:``)."""
        if self.controller.state.mode != "code" and not self.controller.code_mode_allowed():
            return
        mode = self.controller.toggle_mode()
        self.view.show_mode(mode)
        self.notify(f"Coding mode {'on' if mode == 'code' else 'off'}", timeout=2)

    def action_inspect_prompt(self) -> None:
        """Show the exact tokens of the next request (with the unsent text as the message);
        during a reply the inspector opens at once and fills in when the reply ends."""
        if not self.controller.preview(self.view.prompt.text):
            self.app.push_screen(InspectorScreen(None), self._inspector_closed)

    def _inspector_closed(self, _: None) -> None:
        self.controller.state.preview_after_reply = False  # closed before the reply ended

    def action_dialog(self, name: str) -> None:
        """Run one of the dialog flows (rename, delete, chat_settings, open_model, settings)."""
        self.run_worker(getattr(self.dialogs, name)(), group="dialog")
