"""Pieces of a streaming reply, posted to the screen in timed batches (runs in a worker thread).

One post per piece would flood the event loop with messages when the engine is fast; one post
per ``BATCH_S`` keeps the message count bounded whatever the engine's speed. How much of the
text each Markdown append takes is the widget's business (:mod:`.widgets.markdown_feed`), so
no piece cap is needed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.message import Message

from starling_tui.ui.messages import ReplyChunk

BATCH_S = 0.03
Post = Callable[[Message], object]


class ReplyBatcher:
    """Collects pieces and posts them as :class:`ReplyChunk` at most once per ``interval_s``."""

    def __init__(
        self, message_id: int, post: Post, *, interval_s: float = BATCH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.message_id = message_id
        self.post = post
        self.interval_s = interval_s
        self.clock = clock
        self.pending: list[str] = []
        self.last_post = clock()

    def add(self, piece: str) -> None:
        """Queue a piece; post the batch when the interval has passed."""
        self.pending.append(piece)
        if self.clock() - self.last_post >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        """Post what is queued now."""
        if self.pending:
            self.post(ReplyChunk(self.message_id, "".join(self.pending)))
            self.pending.clear()
        self.last_post = self.clock()
