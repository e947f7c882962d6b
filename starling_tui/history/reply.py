"""Saving an assistant reply while it streams, so a crash keeps what was already shown.

A :class:`ReplyWriter` is returned by ``start_reply()``; the row exists from the
start, marked ``incomplete``. ``append``/``update`` write the text at most once per
``interval_s`` (one durable commit a second costs nothing next to token generation, one per
token would), and ``finish`` writes the final text, finish reason and figures. If the process
dies before ``finish``, the row keeps the last saved text and stays ``incomplete``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

from starling_tui.history.records import Message
from starling_tui.types import FINISH_REASONS

if TYPE_CHECKING:
    from starling_tui.history.store import HistoryStore


class ReplyWriter:
    """Progressive writer for one assistant message."""

    def __init__(
        self,
        store: HistoryStore,
        message: Message,
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.message_id = message.id
        self.conversation_id = message.conversation_id
        self.text = message.content
        self.interval_s = interval_s
        self.saves = 0  # text writes done after the initial insert
        self.finished = False
        self._clock = clock
        self._saved_text = message.content
        self._last_save = clock()

    def append(self, piece: str) -> bool:
        """Add a streamed piece; returns True when this call wrote to the database."""
        return self.update(self.text + piece)

    def update(self, text: str) -> bool:
        """Replace the whole text so far; saved if ``interval_s`` passed since the last save."""
        self.text = text
        if text == self._saved_text or self._clock() - self._last_save < self.interval_s:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """Save the current text now (still ``incomplete``)."""
        self.store.save_reply(self.message_id, self.text)
        self._saved_text = self.text
        self._last_save = self._clock()
        self.saves += 1

    def finish(self, reason: str, stats: Any = None) -> Message:
        """Write the final text, the finish reason and the reply's figures (a dataclass or dict)."""
        if reason not in FINISH_REASONS:
            raise ValueError(f"unknown finish reason {reason!r}")
        figures: dict[str, Any] = {}
        if stats is not None:
            is_record = is_dataclass(stats) and not isinstance(stats, type)
            figures = asdict(stats) if is_record else dict(stats)
        figures["finish_reason"] = reason
        self.store.save_reply(self.message_id, self.text, finish_reason=reason, stats=figures)
        self._saved_text = self.text
        self.finished = True
        return self.store.get_message(self.message_id)
