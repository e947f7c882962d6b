"""The chat screen's blocking work: what each thread worker runs (no widgets here).

Every job calls the chat core or the store, precomputes what the widgets show, and posts a typed
message (:mod:`starling_tui.ui.messages`). Errors are not caught here: they end the worker and
reach the one handler, :func:`starling_tui.ui.worker_errors.show_worker_error`.

The engine serves one request at a time, and a prompt preview asked for while a reply streams
ends that reply. So the jobs that only look (the draft meter, F7) run when no reply is on its
way, under one lock that the reply jobs take to say they are starting one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from textual.message import Message

from starling_tui.chat import ChatCore, PendingReply
from starling_tui.chat.attachments import attachment_tokens, read_attachment
from starling_tui.engine.base import GenerationStats
from starling_tui.errors import EngineError, UserError
from starling_tui.history.records import Conversation
from starling_tui.prompt.plan import reply_room
from starling_tui.types import Attachment, ChatMessage, TemplateMode
from starling_tui.ui import view_data as data
from starling_tui.ui.draft_meter import DraftMeter
from starling_tui.ui.messages import (
    ConversationDeleted,
    ConversationLoaded,
    DraftCounted,
    FileAttached,
    FilesCounted,
    GreedyRegenerate,
    ModelLoaded,
    ModelLoadFailed,
    Notice,
    OlderLoaded,
    PreviewDeferred,
    PreviewReady,
    ReplyFinished,
    ReplyStarted,
    SendRefused,
    SidebarLoaded,
    UserMessageAdded,
)
from starling_tui.ui.model_defaults import default_system_prompt
from starling_tui.ui.reply_batches import ReplyBatcher
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.attachments import PendingFile
from starling_tui.ui.widgets.chat_log import PAGE_SIZE

Post = Callable[[Message], object]
HIT_CONTEXT = 2  # messages shown above a search hit
MAX_HIT_SPAN = 400  # most messages mounted to show a hit with everything below it


class ChatJobs:
    """Blocking bodies of the chat screen's workers, over the chat core and the store."""

    def __init__(self, core: ChatCore, services: Services, post: Post) -> None:
        self.core = core
        self.services = services
        self.store = core.store
        self.post = post
        self.meter = DraftMeter()
        self._file_tokens: dict[tuple[str, str, str], int] = {}  # (model, mode, sha) → tokens
        self._engine_lock = threading.Lock()  # held while a look-only job asks the engine
        self._replying = False  # a reply job is under way (see the module docstring)

    @contextmanager
    def _reply_job(self) -> Iterator[None]:
        """Mark a reply job as under way (waiting for a preview in progress to end)."""
        with self._engine_lock:
            self._replying = True
        try:
            yield
        finally:
            with self._engine_lock:
                self._replying = False

    def _when_idle(self, look: Callable[[], None]) -> bool:
        """Run ``look`` (a prompt preview) unless a reply job is under way; did it run?"""
        with self._engine_lock:
            if self._replying:
                return False
            look()
            return True

    # -- history ------------------------------------------------------------------------------

    def sidebar(self, query: str) -> None:
        """Post fresh sidebar rows (a listing, or the search hits for ``query``)."""
        self.post(SidebarLoaded(data.sidebar_rows(self.store, query), query))

    def show(self, conversation: Conversation, focus_id: int | None = None,
             before_id: int | None = None, *, page_size: int = PAGE_SIZE,
             hit_id: int | None = None) -> None:
        """Post the conversation's newest ``page_size`` messages (the page above
        ``before_id`` when given)."""
        store, cid = self.store, conversation.id
        entries, more_above = data.load_page(store, cid, before_id, page_size)
        reply = data.last_reply(store, cid) if before_id is None else None
        start, dropped = data.view_start(store, reply)
        self.post(ConversationLoaded(
            conversation, entries, more_above, data.recall_prompts(store, cid), focus_id,
            data.context_in_use(reply), start, dropped, hit_id,
        ))

    def open(self, conversation_id: str | None, at: int | None = None) -> None:
        """Show a conversation (None: the most recent one, if there is one); ``at``: a
        search hit, shown on its branch, scrolled to and highlighted."""
        conversation = (
            self.store.get_conversation(conversation_id) if conversation_id
            else self.store.latest_conversation()
        )
        if conversation is None:
            return
        if at is None:
            self.show(conversation)
            return
        if at not in (m.id for m in self.store.active_path(conversation.id)):
            self.store.switch_branch(at)  # the match is on another branch: show that one
        ids = [m.id for m in self.store.active_path(conversation.id)]
        span = data.span_to(ids, at, HIT_CONTEXT, MAX_HIT_SPAN)
        if span is None:  # too far up to mount all that is below it
            self.post(Notice("The match is further up: scroll up to reach it"))
            self.show(conversation)
        else:
            self.show(conversation, page_size=span, hit_id=at)

    def older(self, conversation_id: str, before_id: int) -> None:
        """Post the page above ``before_id``."""
        entries, more_above = data.load_page(self.store, conversation_id, before_id)
        self.post(OlderLoaded(conversation_id, entries, more_above))

    def change(self, conversation_id: str, shown_id: str | None, query: str,
               **changes: Any) -> None:
        """Change a conversation's title or own settings, then refresh what shows it."""
        title = changes.pop("title", None)
        if title is not None:
            self.store.update_conversation(conversation_id, title=title)
        conversation = (
            self.core.configure(conversation_id, **changes) if changes
            else self.store.get_conversation(conversation_id)
        )
        if conversation_id == shown_id:
            self.show(conversation)
        self.sidebar(query)

    def delete(self, conversation_id: str, query: str) -> None:
        """Delete a conversation and refresh the sidebar."""
        self.store.delete_conversation(conversation_id)
        self.post(ConversationDeleted(conversation_id))
        self.sidebar(query)

    def export(self, conversation_id: str) -> None:
        """Write the chat core's Markdown export to the export folder and say where."""
        path = self.core.export_to_folder(conversation_id, self.services.export_dir)
        self.post(Notice(f"Exported to {path}"))

    def switch_branch(self, message_id: int, step: int) -> None:
        """Show the sibling ``step`` away from ``message_id`` (and its newest continuation)."""
        target = self.core.switch_branch(message_id, step)
        self.show(self.store.get_conversation(target.conversation_id), target.id)

    # -- engine -------------------------------------------------------------------------------

    def load_model(self, path: str) -> None:
        """Load a model; a failure becomes a dialog and the previous state stays usable."""
        engine = self.core.engine
        try:
            info = engine.load(self.services.engine_options(path))
        except (EngineError, UserError, OSError) as error:
            self.post(ModelLoadFailed(path, str(error)))
            return
        self.post(ModelLoaded(info, default_system_prompt(engine.preview)))

    def preview(self, conversation_id: str | None, text: str, mode: str,
                attachments: tuple[Attachment, ...] = ()) -> None:
        """Post the exact prompt of the next request (the unsent text and ``attachments`` as
        its message; an empty box and no files: an empty message, so the prompt shows where
        the next one goes rather than the last reply straight followed by another reply's
        header); a reply on its way: say that the inspector must wait for it."""
        def look() -> None:
            if text or attachments:
                self.post(PreviewReady(self.core.preview(conversation_id, text, mode=mode,
                                                         attachments=attachments)))
                return
            request = self.core.request(conversation_id, mode=mode)
            request = replace(request, messages=(*request.messages, ChatMessage("user", "")))
            self.post(PreviewReady(self.core.engine.preview(request), empty_message=True))

        if not self._when_idle(look):
            self.post(PreviewDeferred())

    def count_draft(self, conversation_id: str | None, text: str, *, mode: str,
                    system_prompt: str | None = None,
                    sampling: dict[str, Any] | None = None) -> None:
        """Post the draft's tokens against the room the window leaves it (nothing while a
        reply is on its way: the meter is counted again when it ends)."""
        def look() -> None:
            engine = self.core.engine
            info = engine.info
            if info is None:
                return
            request = self.core.request(conversation_id, mode=mode, system_prompt=system_prompt,
                                        sampling_changes=sampling)
            try:
                room = self.meter.measure(
                    engine.preview, request, text, n_ctx=info.n_ctx,
                    reserve=reply_room(request.sampling.max_tokens, info.n_ctx),
                    policy=self.core.settings.context_overflow,
                )
            except Exception:  # a meter is no reason for a dialog while the user types: a
                return         # broken preview is reported where it matters (F7, sending)
            self.post(DraftCounted(text, room))

        self._when_idle(look)

    # -- files --------------------------------------------------------------------------------

    def attach(self, path: str) -> None:
        """Read ``path`` for the draft (the chat core's checks: one line when it is no text
        file); its tokens are counted by :meth:`count_files`."""
        try:
            attached = read_attachment(path)
        except UserError as error:
            self.post(Notice(f"Not attached: {error}", "error"))
            return
        self.post(FileAttached(PendingFile(attached.attachment, attached.resolved)))

    def count_files(self, attachments: list[Attachment], mode: str) -> None:
        """Post the token counts of ``attachments`` (kept per model and mode; nothing while a
        reply is on its way: the screen asks again when it ends)."""
        engine = self.core.engine
        info = engine.info
        if info is None or not attachments:
            return
        template_mode: TemplateMode = "code" if mode == "code" else "auto"

        def look() -> None:
            counts: dict[str, int] = {}
            for attachment in attachments:
                key = (info.path, template_mode, attachment.sha256)
                if key not in self._file_tokens:
                    self._file_tokens[key] = attachment_tokens(engine, attachment, template_mode)
                counts[attachment.sha256] = self._file_tokens[key]
            self.post(FilesCounted(counts))

        self._when_idle(look)

    def _refused(self, text: str, check: Callable[[], object]) -> bool:
        """Run ``check`` (a preview of the request the message makes); when the engine
        refuses it, post why and say so: nothing is saved, the draft stays."""
        try:
            check()
        except (EngineError, UserError) as error:  # a file that does not fit: a UserError
            self.post(SendRefused(text, str(error)))
            return True
        return False

    # -- turns --------------------------------------------------------------------------------

    def send(self, conversation_id: str | None, text: str, *, mode: str,
             after: int | None = None, system_prompt: str | None = None,
             sampling: dict[str, Any] | None = None,
             attachments: tuple[Attachment, ...] = ()) -> None:
        """Save the user's message (a new chat when ``conversation_id`` is None, with the
        ``system_prompt`` and ``sampling`` overrides set before it) and reply."""
        with self._reply_job():
            core = self.core
            request = core.request(
                conversation_id, text, mode=mode if conversation_id is None else None,
                system_prompt=system_prompt, sampling_changes=sampling, attachments=attachments,
            )
            def fits() -> None:  # the files' own one-line reason first, then the whole prompt
                core.check_files_fit(request)
                core.engine.preview(request)

            if self._refused(text, fits):
                return
            if conversation_id is None:
                pending = core.start(text, mode=mode, system_prompt=system_prompt,
                                     sampling_overrides=sampling, attachments=attachments)
            else:
                pending = core.send(conversation_id, text, after=after, attachments=attachments)
            conversation = self.store.get_conversation(pending.conversation_id)
            self.post(UserMessageAdded(conversation, data.entry_for(self.store, pending.parent)))
            self.stream(pending)

    def edit_and_resend(self, message_id: int, text: str,
                        attachments: tuple[Attachment, ...] | None = None) -> None:
        """Save an edited copy of a user message (with ``attachments``; None: its own files)
        as a branch, show that branch, reply."""
        with self._reply_job():
            try:
                pending = self.core.edit_and_resend(message_id, text, attachments=attachments)
            except UserError as error:  # files that no longer fit: nothing was saved
                self.post(SendRefused(text, str(error)))
                return
            self.show(self.store.get_conversation(pending.conversation_id))
            self.stream(pending)

    def regenerate(self, conversation_id: str, *, greedy_ok: bool = False) -> None:
        """Answer the last user message again; the view shows the branch up to it first.

        At temperature 0 a reply that ended by itself would come out as the same words again
        (greedy decoding): unless ``greedy_ok``, say so instead of making an identical branch.
        A stopped or failed reply is regenerated at once (its new version gets further).
        """
        conversation = self.store.get_conversation(conversation_id)
        greedy = self.core.sampling_for(conversation).temperature == 0
        if greedy and not greedy_ok and data.ended_by_itself(data.last_reply(self.store,
                                                                           conversation_id)):
            self.post(GreedyRegenerate(conversation_id))
            return
        with self._reply_job():
            pending = self.core.regenerate(conversation_id)
            path = self.store.active_path(conversation_id)
            ids = [m.id for m in path]
            index = ids.index(pending.parent.id)
            below = path[index + 1].id if index + 1 < len(path) else None
            self.show(self.store.get_conversation(conversation_id), before_id=below)
            self.stream(pending)

    def stream(self, pending: PendingReply) -> None:
        """Stream and save the reply, posting it in batches; an engine failure keeps the
        partial reply (saved ``error``) and is re-raised for the one error handler."""
        reply = pending.begin()
        self.post(ReplyStarted(pending.conversation_id, data.entry_for(self.store, reply)))
        batcher = ReplyBatcher(reply.id, self.post)
        try:
            result = pending.run(on_piece=batcher.add)
        except Exception:
            batcher.flush()
            failed = GenerationStats(finish_reason="error")
            self.post(ReplyFinished(pending.conversation_id, reply.id, "error", failed))
            raise
        batcher.flush()
        start = data.first_seen_id(self.store.path_to(pending.parent.id),
                                   result.stats.dropped_messages)
        self.post(ReplyFinished(pending.conversation_id, reply.id, result.finish_reason,
                                result.stats, start))
