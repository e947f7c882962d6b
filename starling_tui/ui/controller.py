"""The chat screen's controller: its state, the rules of what may start, and its workers.

:class:`ChatController` holds no widgets. The screen asks it for things (send, regenerate,
open a conversation…); it checks they may start, then runs the blocking part
(:class:`~starling_tui.ui.jobs.ChatJobs`, over the one chat core shared with ``ask``) in a
thread worker of the host screen. Workers report by posting typed messages; the screen renders
them and sends every worker failure to one handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from textual.worker import Worker

from starling_tui.chat import ChatCore
from starling_tui.config import SETTINGS, Settings
from starling_tui.engine.base import ModelInfo
from starling_tui.errors import UserError
from starling_tui.history.records import Conversation
from starling_tui.types import Attachment
from starling_tui.ui.jobs import ChatJobs
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.attachments import PendingFile

# Settings whose change reloads the model; the engine URL and its key file pick another
# engine, which the factory builds at start (the settings screen says a restart applies them).
RESTART_KEYS = frozenset({"engine_url", "api_key_file"})
RELOAD_KEYS = frozenset(s.name for s in SETTINGS if s.section == "engine") - RESTART_KEYS


class WorkerHost(Protocol):
    """What the controller needs from its screen: workers, messages and notifications."""

    def run_worker(self, work: Callable[[], Any], *, group: str, exclusive: bool,
                   thread: bool, exit_on_error: bool) -> Worker[Any]:
        """Start ``work`` in a worker (Textual's ``DOMNode.run_worker``)."""
        ...

    def post_message(self, message: Any) -> bool:
        """Queue a message for the host (workers report this way)."""
        ...

    def notify(self, message: str, *, severity: Any = ..., timeout: float | None = ...) -> None:
        """Show a toast."""
        ...


@dataclass
class ChatState:
    """What the chat screen shows and is doing."""

    conversation_id: str | None = None  # None: a new chat, saved with its first message
    mode: str = "auto"  # of the shown conversation, or of the next new chat
    model_info: ModelInfo | None = None
    reply_id: int | None = None  # the reply streaming now
    editing_id: int | None = None  # the user message being edited
    draft: str = ""  # the prompt box's text when the edit began: given back after it
    search_query: str = ""  # the sidebar's search text
    preview_after_reply: bool = False  # the inspector waits for the reply to end
    default_system: str = ""  # the system prompt the loaded model's template adds itself
    # set (ctrl+g) before a new chat's first message, saved with it; None: the app settings
    new_system_prompt: str | None = None
    new_sampling: dict[str, Any] = field(default_factory=dict)
    remember_model: str = ""  # picked with ctrl+o: saved as the model once it has loaded
    greedy_ok: str | None = None  # told that ctrl+r repeats at temperature 0: do it anyway
    sidebar: bool | None = None  # shown or hidden with ctrl+b; None: by the screen's width
    files: list[PendingFile] = field(default_factory=list)  # attached to the draft
    draft_files: list[PendingFile] = field(default_factory=list)  # the draft's, during an edit
    unsent_files: list[PendingFile] = field(default_factory=list)  # given back if refused

    def show(self, conversation: Conversation | None) -> None:
        """``conversation`` is the one shown now (None: a new chat); an edit is dropped."""
        self.conversation_id = conversation.id if conversation else None
        self.mode = conversation.mode if conversation else self.mode
        self.editing_id = None
        self.greedy_ok = None
        if conversation is not None:  # a new chat's own settings went with its first message
            self.new_system_prompt, self.new_sampling = None, {}


class ChatController:
    """The chat screen's state and everything it starts."""

    def __init__(self, services: Services, host: WorkerHost) -> None:
        self.services = services
        self.core = ChatCore(services.store, services.engine, services.settings)
        self.state = ChatState()
        self.jobs = ChatJobs(self.core, services, host.post_message)
        self._host = host
        self._reply: Worker[Any] | None = None

    @property
    def generating(self) -> bool:
        """Is a reply being generated?"""
        return self._reply is not None and not self._reply.is_finished

    def _run(self, group: str, job: Callable[..., object], *args: Any,
             exclusive: bool = False, **kwargs: Any) -> Worker[Any]:
        return self._host.run_worker(partial(job, *args, **kwargs), group=group,
                                     exclusive=exclusive, thread=True, exit_on_error=False)

    def _warn(self, text: str) -> None:
        self._host.notify(text, severity="warning")

    # -- history ------------------------------------------------------------------------------

    def refresh_sidebar(self, query: str | None = None) -> None:
        """Reload the sidebar (search hits when a search text is set)."""
        if query is not None:
            self.state.search_query = query
        self._run("sidebar", self.jobs.sidebar, self.state.search_query, exclusive=True)

    def open_conversation(self, conversation_id: str | None, at: int | None = None) -> None:
        """Show a conversation (None: the most recent one), at the message ``at`` if given."""
        self._run("open", self.jobs.open, conversation_id, at, exclusive=True)

    def load_older(self, before_id: int) -> None:
        """Load the page above ``before_id`` of the shown conversation."""
        if self.state.conversation_id is not None:
            self._run("older", self.jobs.older, self.state.conversation_id, before_id)

    def change_conversation(self, conversation_id: str, **changes: Any) -> None:
        """Rename a conversation or change its own settings (see ``ChatCore.configure``)."""
        self._run("history", self.jobs.change, conversation_id, self.state.conversation_id,
                  self.state.search_query, **changes)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation (the caller asked first)."""
        self._run("history", self.jobs.delete, conversation_id, self.state.search_query)

    def export(self) -> None:
        """Export the shown conversation with the chat core's Markdown export."""
        if self.state.conversation_id is None:
            self._warn("Nothing to export yet")
        else:
            self._run("history", self.jobs.export, self.state.conversation_id)

    def switch_branch(self, message_id: int, step: int) -> None:
        """Show another branch (not while a reply streams into this one)."""
        if not self.generating:
            self._run("history", self.jobs.switch_branch, message_id, step)

    # -- engine and turns ---------------------------------------------------------------------

    def forget_model(self) -> str:
        """The engine crashed: no model is loaded any more; returns the path to reload."""
        info, self.state.model_info = self.state.model_info, None
        return info.path if info else ""

    def load_model(self, path: str) -> None:
        """Load a model in a worker (the screen shows the loading dialog)."""
        self._run("model", self.jobs.load_model, path, exclusive=True)

    def preview(self, text: str, *, reply_over: bool = False) -> bool:
        """The exact prompt of the next request, for the inspector; False when it must wait
        for the reply being written (asked for now, the engine would end that reply).
        ``reply_over``: asked for as the reply's end is handled, when its worker, which
        posted that end, may not count as finished yet."""
        if self.state.model_info is None:
            self._warn("No model loaded: press ctrl+o to open one")
        elif self.generating and not reply_over:
            self.state.preview_after_reply = True
            return False
        else:
            files = tuple(f.attachment for f in self.state.files)
            self._run("preview", self.jobs.preview, self.state.conversation_id, text,
                      self.state.mode, files, exclusive=True)
        return True

    def count_draft(self, text: str) -> None:
        """Measure the draft against the room the window leaves it (posts ``DraftCounted``;
        not while a reply streams: the engine is busy, the screen counts again after)."""
        state = self.state
        if state.model_info is None or self.generating:
            return
        self._run("draft", self.jobs.count_draft, state.conversation_id, text, mode=state.mode,
                  system_prompt=state.new_system_prompt, sampling=dict(state.new_sampling),
                  exclusive=True)

    def can_generate(self) -> bool:
        """May a reply start now? (Says why not.)"""
        if self.generating:
            self._warn("A reply is still being generated (esc stops it)")
            return False
        if self.state.model_info is None:
            self._warn("No model loaded: press ctrl+o to open one")
            return False
        return True

    def send(self, text: str, after: int | None) -> None:
        """Send ``text`` (with the draft's files): an edit of ``editing_id`` as a branch, or
        the next message after the message shown last (``after``), even if another process
        added messages meanwhile."""
        state = self.state
        edit_of, state.editing_id = state.editing_id, None
        files = tuple(f.attachment for f in state.files)
        state.unsent_files = state.files
        state.files = state.draft_files if edit_of is not None else []
        state.draft_files = []
        if edit_of is not None:
            self._reply = self._run("reply", self.jobs.edit_and_resend, edit_of, text, files)
        else:
            self._reply = self._run("reply", self.jobs.send, state.conversation_id, text,
                                    mode=state.mode, after=after,
                                    system_prompt=state.new_system_prompt,
                                    sampling=dict(state.new_sampling), attachments=files)

    # -- files --------------------------------------------------------------------------------

    def attach(self, path: str) -> None:
        """Read a file for the draft (posts ``FileAttached``, or says why not)."""
        self._run("files", self.jobs.attach, path)

    def count_files(self, attachments: list[Attachment]) -> None:
        """Count the tokens of files (posts ``FilesCounted``; not while a reply streams)."""
        if attachments and self.state.model_info is not None and not self.generating:
            self._run("count", self.jobs.count_files, attachments, self.state.mode)

    def regenerate(self) -> None:
        """Answer the last user message again, as a new branch of the reply (at temperature 0
        only once the user was told it repeats the same reply and asked again)."""
        state = self.state
        cid = state.conversation_id
        if cid is None:
            self._warn("Nothing to regenerate yet")
        elif self.can_generate():
            greedy_ok, state.greedy_ok = state.greedy_ok == cid, None
            self._reply = self._run("reply", self.jobs.regenerate, cid, greedy_ok=greedy_ok)

    def stop(self) -> bool:
        """Stop the reply being generated (saved ``cancelled``); False if there was none."""
        if not self.generating:
            return False
        self.core.cancel()
        return True

    def code_mode_allowed(self) -> bool:
        """May coding mode be turned on with the loaded model? (Says why not.)"""
        try:
            self.core.check_mode("code")
        except UserError as error:
            self._warn(str(error))
            return False
        return True

    def toggle_mode(self) -> str:
        """Switch coding mode for the shown (or the next new) conversation; the new mode."""
        self.state.mode = "auto" if self.state.mode == "code" else "code"
        if self.state.conversation_id is not None:
            self.change_conversation(self.state.conversation_id, mode=self.state.mode)
        return self.state.mode

    def remember(self, **changes: Any) -> None:
        """Use and save setting ``changes`` made outside the settings screen (a model picked
        with ctrl+o, a theme picked in the palette), so the next launch starts with them."""
        self.apply_settings(self.core.settings.replace(**changes))
        save = self.services.save_settings
        if save is not None:
            self._run("settings", save, changes)

    def apply_settings(self, settings: Settings) -> bool:
        """Use ``settings`` from the next reply on; True if the model must be reloaded."""
        old, self.core.settings = self.core.settings, settings
        self.services.settings = settings
        return any(getattr(old, key) != getattr(settings, key) for key in RELOAD_KEYS)
