"""The chat screen's widgets, driven as one: what the screen shows when workers report.

:class:`ChatView` is given the screen and finds its widgets by type; it keeps no state of its
own (that is the controller's :class:`~starling_tui.ui.controller.ChatState`).
"""

from __future__ import annotations

import weakref
from dataclasses import replace

from textual.screen import Screen
from textual.widget import AwaitMount
from textual.widgets import Label

from starling_tui.engine.base import GenerationStats, ModelInfo
from starling_tui.history.records import Conversation
from starling_tui.ui import gc_pauses
from starling_tui.ui.focus import focus_now
from starling_tui.ui.messages import ConversationLoaded
from starling_tui.ui.screens.loading import LoadingScreen
from starling_tui.ui.widgets.attachments import AttachmentChips, PendingFile
from starling_tui.ui.widgets.chat_log import ChatLog, MessageEntry
from starling_tui.ui.widgets.message_view import MessageView
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.sidebar import Sidebar
from starling_tui.ui.widgets.status_line import StatusLine

EDIT_BANNER = "Editing a message: Enter sends it as a new branch, Esc cancels"
GENERATING = "generating… (esc stops)"
READING = "reading the prompt{done} · {seconds:.0f} s (esc stops)"
LOADING = "loading model…"
# A removed message still referred to when its widgets are released (a worker finishing with
# it, say) would be frozen again and outlive the release: try again this often, this long after.
RELEASE_TRIES = 4
RELEASE_RETRY_S = 0.5


class ChatView:
    """Updates the chat screen's log, prompt box, banner and status line."""

    def __init__(self, screen: Screen[None]) -> None:
        self.screen = screen

    @property
    def log(self) -> ChatLog:
        """The message log."""
        return self.screen.query_one(ChatLog)

    @property
    def prompt(self) -> PromptInput:
        """The prompt box."""
        return self.screen.query_one(PromptInput)

    @property
    def chips(self) -> AttachmentChips:
        """The files attached to the draft."""
        return self.screen.query_one(AttachmentChips)

    def show_files(self, files: list[PendingFile]) -> None:
        """The draft's files as chips (Enter may send files without text)."""
        self.chips.show(files)
        self.prompt.allow_blank = bool(files)

    def show_file_tokens(self, tokens: dict[str, int]) -> None:
        """Token counts on the shown messages' files."""
        for view in self.log.views():
            if view.attachments:
                view.set_file_tokens(tokens)

    @property
    def status(self) -> StatusLine:
        """The status line."""
        return self.screen.query_one(StatusLine)

    @property
    def sidebar(self) -> Sidebar:
        """The conversation list."""
        return self.screen.query_one(Sidebar)

    def show_title(self, conversation: Conversation | None, mode: str) -> None:
        """The conversation's title in the header, its mode on the prompt box."""
        self.screen.sub_title = conversation.title if conversation else "New chat"
        self.show_mode(mode)

    def show_mode(self, mode: str) -> None:
        """Coding mode shows as the prompt box's title."""
        self.prompt.border_title = "code mode" if mode == "code" else None

    def target_message(self, role: str | None = None) -> MessageView | None:
        """The focused message if it fits ``role``, else the newest one with that role."""
        view = self.log.selected()
        if view is not None and (role is None or view.role == role):
            return view
        return self.log.last_view(role)

    def copy_source(self) -> MessageView | None:
        """What copy actions copy from: the selected message, else the last reply."""
        selected = self.target_message() if self.log.selected() else None
        return selected or self.target_message("assistant")

    def branch_target(self) -> MessageView | None:
        """The selected message, else the newest one that has sibling branches."""
        log = self.log
        return log.selected() or next((v for v in reversed(log.views()) if v.branch[1] > 1), None)

    def show_edit_banner(self, text: str) -> None:
        """Show (or, with "", hide) the line above the prompt box."""
        banner = self.screen.query_one("#edit-banner", Label)
        banner.update(text)
        banner.set_class(bool(text), "-shown")

    def start_edit(self, view: MessageView) -> str:
        """Put a user message in the prompt box to resend as a branch; returns the draft it
        replaced (the caller keeps it to give back after the edit)."""
        self.show_edit_banner(EDIT_BANNER)
        prompt = self.prompt
        draft = prompt.text
        prompt.load_text(view.content)
        prompt.move_cursor(prompt.document.end)
        focus_now(prompt)
        return draft

    def cancel_edit(self, draft: str) -> None:
        """Drop the edit: hide the banner, put the draft from before the edit back."""
        self.show_edit_banner("")
        self.put_draft(draft)

    def put_draft(self, text: str) -> None:
        """Show ``text`` in the prompt box, the cursor at its end."""
        prompt = self.prompt
        prompt.load_text(text)
        prompt.move_cursor(prompt.document.end)

    def type_into_prompt(self, text: str) -> None:
        """Insert typed ``text`` at the prompt box's cursor and give it focus (keys that no
        other widget takes: typing always lands in the prompt box)."""
        prompt = self.prompt
        focus_now(prompt)
        prompt.insert(text)

    def copy(self, *, code: bool) -> None:
        """Copy the selected message (or its last code block) through OSC 52, or say why not."""
        view = self.copy_source()
        blocks = view.code_blocks() if view and code else []
        text = (blocks[-1] if blocks else "") if code else (view.content if view else "")
        if not text:
            self.screen.notify("No code block in that message" if code else "Nothing to copy",
                               severity="warning")
            return
        self.screen.app.copy_to_clipboard(text)
        what = "Code block" if code else "Message"
        self.screen.notify(f"{what} copied to the clipboard", timeout=2)

    def take_prompt(self, text: str, draft: str = "") -> int | None:
        """Clear the prompt box for a sent ``text`` (leaving ``draft``, the text from before an
        edit, in it); the id of the message shown last."""
        self.prompt.remember(text)
        self.put_draft(draft)
        self.show_edit_banner("")
        shown = self.log.last_view()
        return shown.message_id if shown else None

    async def show_conversation(self, message: ConversationLoaded) -> None:
        """Replace the log with a loaded page; recall first, so Up works once it shows."""
        self.prompt.set_recall(message.prompts)
        log = self.log
        selecting = log.selected() is not None  # else the focus stays where the user types
        removed = [weakref.ref(view) for view in log.views()]
        await log.show(message.entries, more_above=message.more_above)
        self._release_removed(removed)
        log.mark_view_start(message.view_start, message.dropped)
        self.status.context_used = message.context_used
        focus = log.view_for(message.focus_id) if message.focus_id is not None else None
        if focus is not None and selecting:
            focus_now(focus)
        if message.hit_id is not None:
            log.show_hit(message.hit_id)

    async def clear(self) -> None:
        """An empty log for a new chat."""
        removed = [weakref.ref(view) for view in self.log.views()]
        await self.log.show([], more_above=False)
        self._release_removed(removed)
        self.status.context_used = 0
        focus_now(self.prompt)

    def _release_removed(self, removed: list[weakref.ref[MessageView]],
                         tries: int = RELEASE_TRIES) -> None:
        """Free the removed messages' widgets, which may be frozen, once the screen has laid
        out again (until then the layout's caches still refer to them); again a little later
        while any of them is still alive."""
        def release() -> None:
            gc_pauses.release()
            if tries > 1 and any(view() is not None for view in removed):
                self.screen.set_timer(RELEASE_RETRY_S,
                                      lambda: self._release_removed(removed, tries - 1))

        self.screen.call_after_refresh(release)

    async def reply_started(self, entry: MessageEntry) -> None:
        """Mount the empty reply that is about to stream."""
        self.status.state = GENERATING
        await self.log.add(entry)

    def show_live(self, stats: GenerationStats, elapsed_s: float, started: bool) -> None:
        """The reply's figures while it goes (``stats``: the engine's so far; ``elapsed_s``
        since the reply was asked for; ``started``: text has come): the prompt read so far
        until the first token, then the context meter and tokens/s as tokens come."""
        status = self.status
        if not started and stats.completion_tokens == 0:
            read = stats.cached_tokens + stats.restored_tokens + stats.evaluated_tokens
            done = f" {read}/{stats.prompt_tokens}" if stats.prompt_tokens else "…"
            status.state = READING.format(done=done, seconds=elapsed_s)
            return
        status.state = GENERATING
        used = stats.prompt_tokens + stats.completion_tokens if stats.prompt_tokens else (
            status.context_used)
        shown = status.stats
        if stats.completion_tokens > 1 and stats.ttft_s:
            writing_s = max(elapsed_s - stats.ttft_s, 1e-3)
            shown = replace(stats, tokens_per_s=(stats.completion_tokens - 1) / writing_s)
        status.show_live(used, shown)

    def reply_chunk(self, message_id: int, text: str) -> None:
        """Stream text into the reply (rendered by its feed without waiting)."""
        view = self.log.view_for(message_id)
        if view is not None:
            view.append(text)

    async def reply_finished(self, message_id: int, reason: str, stats: GenerationStats,
                             view_start: int | None) -> None:
        """Render the rest of the reply, mark how it ended, update the status line."""
        view = self.log.view_for(message_id)
        if view is not None:
            await view.end_stream()
            view.set_finish_reason(reason)
        status = self.status
        status.state = ""
        if reason != "error":
            status.stats = stats
            status.context_used = stats.prompt_tokens + stats.completion_tokens
            self.log.mark_view_start(view_start, stats.dropped_messages)
        gc_pauses.settle()  # the finished reply's widgets stay: later collections skip them

    def show_model(self, info: ModelInfo | None) -> None:
        """The model on the status line (None: none loaded)."""
        self.status.info = info
        self.status.state = ""

    def show_loading(self, path: str) -> AwaitMount:
        """Cover the screen with load progress (await the result: it is on screen)."""
        self.status.state = LOADING
        return self.screen.app.push_screen(LoadingScreen(path, typed=self.type_into_prompt))

    def close_loading(self) -> None:
        """Take the load progress away (if it is showing)."""
        if isinstance(self.screen.app.screen, LoadingScreen):
            self.screen.app.pop_screen()
        if self.status.state == LOADING:
            self.status.state = ""
