"""The blocking half of sending a message: save it, stream the reply, save that as it grows.

Runs in a Textual thread worker; talks to the screen only by posting typed messages. Pieces are
batched (one post per ``BATCH_S``) so a very fast engine cannot flood the event loop, and a batch
holds at most ``MAX_PIECES`` pieces so that no single Markdown append (which runs on the event
loop) takes long enough to delay key presses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from textual.message import Message

from starling_tui.engine.base import (
    ChatMessage,
    ChatRequest,
    EngineError,
    GenerationStats,
    TemplateMode,
)
from starling_tui.history.records import Message as StoredMessage
from starling_tui.history.reply import ReplyWriter
from starling_tui.history.store import HistoryStore
from starling_tui.ui import conversation_data as data
from starling_tui.ui.messages import ReplyChunk, ReplyFinished, ReplyStarted
from starling_tui.ui.services import Services

BATCH_S = 0.03
MAX_PIECES = 16
Post = Callable[[Message], object]


def stream_reply(
    services: Services, conversation_id: str, parent: StoredMessage, post: Post
) -> None:
    """Generate the reply to ``parent`` (the user message) and save it while it streams.

    On an engine failure the partial reply is kept, marked ``error``, and the error re-raised
    for the app's single worker-error handler.
    """
    store, engine = services.store, services.engine
    writer = store.start_reply(conversation_id, parent_id=parent.id)
    post(ReplyStarted(conversation_id, data.entry_for(store, store.get_message(writer.message_id))))
    request = data.build_request(store, conversation_id, services.sampling)
    batch = _Batcher(writer, post)
    try:
        for piece in engine.generate(request):
            batch.add(piece)
    except EngineError:
        batch.flush()
        stats = GenerationStats(finish_reason="error")
        writer.finish("error", stats)
        post(ReplyFinished(conversation_id, writer.message_id, "error", stats))
        raise
    batch.flush()
    stats = engine.last_stats
    writer.finish(stats.finish_reason, stats)
    post(ReplyFinished(conversation_id, writer.message_id, stats.finish_reason, stats))


class _Batcher:
    """Saves every piece (the writer throttles commits) and posts them in timed batches."""

    def __init__(self, writer: ReplyWriter, post: Post) -> None:
        self.writer = writer
        self.post = post
        self.pending: list[str] = []
        self.last_post = time.monotonic()

    def add(self, piece: str) -> None:
        self.pending.append(piece)
        self.writer.append(piece)
        if len(self.pending) >= MAX_PIECES or time.monotonic() - self.last_post >= BATCH_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.post(ReplyChunk(self.writer.message_id, "".join(self.pending)))
            self.pending.clear()
        self.last_post = time.monotonic()


def recall_prompts(store: HistoryStore, conversation_id: str) -> list[str]:
    """The user prompts of the active branch, oldest first (for Up recall)."""
    return [m.content for m in store.active_path(conversation_id) if m.role == "user"]


def next_request(
    services: Services, conversation_id: str | None, text: str, mode: TemplateMode
) -> ChatRequest:
    """The request the next turn would send, with the unsent ``text`` as the user message."""
    if conversation_id is None:
        request = ChatRequest((), mode=mode, sampling=services.sampling)
    else:
        request = data.build_request(services.store, conversation_id, services.sampling)
    if text.strip():
        request = replace(request, messages=(*request.messages, ChatMessage("user", text)))
    return request
