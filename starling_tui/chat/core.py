"""The chat core: one conversation flow for ``ask``, ``tokens``, ``history export`` and the app.

:class:`ChatCore` takes the history store, the engine and the settings by injection and owns
every step between "the user typed something" and "the reply is saved": the conversation's
active path → the engine's messages, sampling layering (settings < the conversation's own
overrides, see :mod:`.sampling`), the request, its exact prompt (``preview``), send,
regenerate, edit-and-resend, branch switching, stream-and-save (:class:`.PendingReply`) and
the Markdown export. It never imports Textual; every method blocks, so the app calls them from
thread workers.

Typical use (``ask``)::

    core = ChatCore(store, engine, settings)
    pending = core.start("Hello", mode="auto")          # or core.send(conversation_id, text)
    # files: core.start(text, attachments=[f.attachment for f in read_attachments(paths)])
    result = pending.run(on_piece=print_piece)          # saved while it streams
    result.stats.finish_reason, result.stats.dropped_messages

The app: ``pending = core.send(cid, text, after=shown_last_id)``, ``pending.begin()`` for the
reply's bubble, ``pending.run(on_piece=batcher.add)`` in a thread worker, ``core.cancel()`` on
Escape. ``core.settings`` may be replaced when the settings screen changes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starling_tui.chat import attachments as files
from starling_tui.chat import conversations, export, sampling
from starling_tui.chat.path import build_request
from starling_tui.chat.reply import PendingReply
from starling_tui.config import Settings
from starling_tui.engine.base import Engine, PromptPreview
from starling_tui.errors import UserError
from starling_tui.history.records import Conversation, Message
from starling_tui.history.store import HistoryStore
from starling_tui.prompt.builder import CODE_NEEDS_OPENCHAT
from starling_tui.text import checked_text
from starling_tui.types import Attachment, ChatRequest, SamplingOptions


class ChatCore:
    """Conversations, their requests and their replies over one store and one engine."""

    def __init__(self, store: HistoryStore, engine: Engine | None, settings: Settings) -> None:
        self.store = store
        self._engine = engine  # None: requests and exports only (``tokens`` previews apart)
        self.settings = settings

    @property
    def engine(self) -> Engine:
        """The injected engine (a core built without one cannot preview or reply)."""
        if self._engine is None:
            raise UserError("no engine: this chat core only builds requests")
        return self._engine

    # -- settings -----------------------------------------------------------------------------

    @property
    def base_sampling(self) -> SamplingOptions:
        """Sampling from the settings alone (what a conversation without overrides uses)."""
        return sampling.sampling_from_settings(self.settings)

    def sampling_for(self, conversation: Conversation | None) -> SamplingOptions:
        """The settings' sampling with the conversation's own overrides applied."""
        overrides = conversation.sampling if conversation is not None else {}
        return sampling.layered(self.base_sampling, overrides)

    def conversation(self, id_or_prefix: str) -> Conversation:
        """A conversation by id or unique id prefix (HistoryError when there is none)."""
        return self.store.get_conversation(id_or_prefix)

    def new_conversation(
        self,
        *,
        mode: str = "auto",
        system_prompt: str | None = None,
        sampling_overrides: Mapping[str, Any] | None = None,
        model: str | None = None,
    ) -> Conversation:
        """An empty conversation; the system prompt defaults to the settings' one."""
        return conversations.create(
            self.store, mode=mode, model=self._model_name(model),
            system_prompt=self.settings.system_prompt if system_prompt is None else system_prompt,
            sampling_overrides=sampling_overrides or {},
        )

    def configure(self, conversation_id: str, **changes: Any) -> Conversation:
        """Change a conversation's own settings (see :func:`.conversations.configure`).

        Keywords: ``mode``, ``system_prompt``, ``model``, ``sampling_changes`` (added to the
        stored overrides), ``sampling_cleared`` (keys that follow the settings again),
        ``replace_sampling`` (the changes become the only overrides, as the app's form does).
        """
        return conversations.configure(self.store, conversation_id, **changes)

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        conversation_id: str | None,
        text: str | None = None,
        *,
        mode: str | None = None,
        system_prompt: str | None = None,
        sampling_changes: Mapping[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> ChatRequest:
        """The request the next message ``text`` would send (no text: the path as it is).

        ``conversation_id`` None is a new chat (the settings' system prompt). ``mode``,
        ``system_prompt`` and ``sampling_changes`` preview what :meth:`configure` would change
        (``ask --code --system … --temperature …``); ``attachments`` are the message's files.
        This is exactly what :meth:`send` sends for the same conversation, settings, text and
        files.
        """
        return conversations.next_request(
            self.store, self.settings, conversation_id, text, mode=mode,
            system_prompt=system_prompt, sampling_changes=sampling_changes,
            attachments=attachments,
        )

    def preview(
        self, conversation_id: str | None, text: str | None = None, *, mode: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> PromptPreview:
        """The exact prompt ids and rendering of :meth:`request` (for F7 and ``tokens``)."""
        return self.engine.preview(
            self.request(conversation_id, text, mode=mode, attachments=attachments)
        )

    def check_files_fit(self, request: ChatRequest) -> None:
        """Refuse, in one line, a request whose newest message's files cannot fit the window
        (a file larger than the window, or which files to leave out); see
        :func:`.attachments.check_files_fit`."""
        files.check_files_fit(self.engine, request)

    # -- turns --------------------------------------------------------------------------------

    def start(
        self,
        text: str,
        *,
        mode: str = "auto",
        system_prompt: str | None = None,
        sampling_overrides: Mapping[str, Any] | None = None,
        model: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> PendingReply:
        """A new conversation with ``text`` (and its files) as its first message.

        Files that cannot fit the context window are refused before anything is saved;
        nothing is kept on any other failure either.
        """
        checked_text(text, "the prompt")
        if system_prompt is not None:
            checked_text(system_prompt, "the system prompt")
        if attachments:
            files.check_files_fit(self.engine, self.request(
                None, text, mode=mode, system_prompt=system_prompt,
                sampling_changes=sampling_overrides, attachments=attachments,
            ))
        self.check_mode(mode)
        conversation = self.new_conversation(
            mode=mode, system_prompt=system_prompt, sampling_overrides=sampling_overrides,
            model=model,
        )
        try:
            return self._send_under(conversation, [], text, attachments, checked=True)
        except BaseException:
            self.store.delete_conversation(conversation.id)
            raise

    def send(
        self, conversation_id: str, text: str, *, after: int | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> PendingReply:
        """Save ``text`` (with its files) as the next user message; its pending reply.

        The parent is ``after`` (the message the user saw last) or the active leaf as read
        now; the request is built from that same path, so another process adding to the
        conversation meanwhile cannot make the saved tree differ from what the engine sees.
        Files that cannot fit the context window are refused before anything is saved.
        """
        checked_text(text, "the prompt")
        conversation = self.store.get_conversation(conversation_id)
        self.check_mode(conversation.mode)
        path = (
            self.store.path_to(after)
            if after is not None
            else self.store.active_path(conversation.id)
        )
        return self._send_under(conversation, path, text, attachments)

    def regenerate(self, conversation_id: str) -> PendingReply:
        """Answer the active branch's last user message again (a sibling of the old reply)."""
        conversation = self.store.get_conversation(conversation_id)
        self.check_mode(conversation.mode)
        path = self.store.active_path(conversation.id)
        users = [i for i, m in enumerate(path) if m.role == "user"]
        if not users:
            raise UserError("nothing to regenerate: send a message first")
        return self._pending(conversation, path[: users[-1] + 1])

    def edit_and_resend(
        self, message_id: int, text: str, *, attachments: Sequence[Attachment] | None = None
    ) -> PendingReply:
        """Save an edited copy of a user message as its sibling branch and answer it.

        The copy keeps the original's files unless ``attachments`` gives others (``()``:
        none); files that do not fit with the new text are refused before anything is saved.
        """
        checked_text(text, "the message")
        self.check_mode(self._conversation_mode(message_id))
        original = self.store.get_message(message_id)
        files_kept = original.attachments if attachments is None else tuple(attachments)
        if files_kept:
            conversation = self.store.get_conversation(original.conversation_id)
            above = self.store.path_to(original.parent_id) if original.parent_id else []
            files.check_files_fit(self.engine, build_request(
                conversation, above, self.sampling_for(conversation), unsent=text,
                attachments=files_kept,
            ))
        edited = self.store.edit_message(message_id, text, attachments=files_kept)
        conversation = self.store.get_conversation(edited.conversation_id)
        return self._pending(conversation, self.store.path_to(edited.id))

    def switch_branch(self, message_id: int, step: int) -> Message:
        """Show the sibling ``step`` away from ``message_id`` (wrapping); returns it."""
        siblings = self.store.siblings(message_id)
        ids = [m.id for m in siblings]
        target = siblings[(ids.index(message_id) + step) % len(siblings)]
        self.store.switch_branch(target.id)
        return target

    def check_mode(self, mode: str | None) -> None:
        """Refuse coding mode, in one line and before anything is saved, unless the loaded
        model is an OpenChat model (``ModelInfo.is_openchat``); the app asks before Ctrl+T."""
        info = self._engine.info if self._engine is not None else None
        if mode == "code" and info is not None and not info.is_openchat:
            raise UserError(CODE_NEEDS_OPENCHAT)

    def cancel(self) -> None:
        """Stop the reply being generated (thread-safe); it is saved ``cancelled``."""
        self.engine.cancel()

    # -- export -------------------------------------------------------------------------------

    def markdown(self, conversation_id: str) -> str:
        """The conversation's active branch as Markdown (the one export format)."""
        return export.conversation_markdown(self.store, conversation_id)

    def export_markdown(self, conversation_id: str, target: Path) -> Path:
        """Write :meth:`markdown` to ``target`` atomically; returns ``target``."""
        return export.write(target, self.markdown(conversation_id))

    def export_to_folder(self, conversation_id: str, folder: Path) -> Path:
        """Write the Markdown to ``folder/<title>-<id>.md`` atomically (the app's F8)."""
        conversation = self.store.get_conversation(conversation_id)
        return self.export_markdown(conversation.id, folder / export.file_name(conversation))

    # -- helpers ------------------------------------------------------------------------------

    def _send_under(
        self, conversation: Conversation, path: list[Message], text: str,
        attachments: Sequence[Attachment] = (), *, checked: bool = False,
    ) -> PendingReply:
        if attachments and not checked:
            files.check_files_fit(self.engine, build_request(
                conversation, path, self.sampling_for(conversation), unsent=text,
                attachments=attachments,
            ))
        parent_id = path[-1].id if path else None
        user = self.store.add_message(
            conversation.id, "user", text, parent_id=parent_id, attachments=attachments
        )
        # Re-read: the first user message gives a new conversation its title.
        return self._pending(self.store.get_conversation(conversation.id), [*path, user])

    def _pending(self, conversation: Conversation, path: list[Message]) -> PendingReply:
        request = build_request(conversation, path, self.sampling_for(conversation))
        return PendingReply(self.store, self.engine, path[-1], request)

    def _conversation_mode(self, message_id: int) -> str:
        return self.store.get_conversation(self.store.get_message(message_id).conversation_id).mode

    def _model_name(self, model: str | None) -> str:
        if model is not None:
            return model
        info = self.engine.info
        return info.name if info is not None else ""
