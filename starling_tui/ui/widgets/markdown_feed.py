"""Streaming text into a Textual ``Markdown`` widget without flooding or stalling the event loop.

Why not await the render of every batch the worker posts (the previous design): a fast engine's
2,000-token reply came as 125 batches, each one a stream write plus a wait for the Markdown lock
(43 ``Markdown.append`` calls after ``get_stream``'s coalescing); every append has a fixed cost
(re-parse of the last block, a mount, a restyle, a relayout of the reply). Why not
``Markdown.get_stream()`` alone: it coalesces without a bound, so a reply that arrives faster
than it renders lands in one long append that blocks key presses for a second.

:class:`MarkdownFeed` takes text without waiting (``write`` is synchronous) and renders it from
one task: each round appends everything that arrived meanwhile, at most ``max_chars`` (cut at
a line end where possible, so the cut rarely splits a block).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.widgets import Markdown

# ≈ 80 tokens. A bigger append stalls the event loop longer (parsing and mounting happen in one
# go) but costs less CPU per reply; 400 keeps most of the throughput and the stalls short
# (ui_bench's stream, in thread CPU time: benchmarks/README.md, UI).
MAX_APPEND_CHARS = 400


def take_chunk(pending: str, max_chars: int) -> tuple[str, str]:
    """Split ``pending`` into what to append now and what waits: at most ``max_chars``,
    ending at the last newline inside the limit when there is one."""
    if len(pending) <= max_chars:
        return pending, ""
    cut = pending.rfind("\n", 0, max_chars) + 1 or max_chars
    return pending[:cut], pending[cut:]


class MarkdownFeed:
    """Feeds streamed text into one Markdown widget, coalescing what arrives during a render."""

    def __init__(
        self, markdown: Markdown, max_chars: int = MAX_APPEND_CHARS,
        after_append: Callable[[], object] = lambda: None,
    ) -> None:
        self.markdown = markdown
        self.max_chars = max_chars
        self.after_append = after_append  # called once each append has been rendered
        self.appends = 0  # Markdown.append calls made (the benchmark reports it)
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def write(self, text: str) -> None:
        """Queue ``text``; it is rendered by the feed's task without the caller waiting."""
        if self._closing:
            raise RuntimeError("write after close")
        if not text:
            return
        self._pending.append(text)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="markdown-feed")

    async def close(self) -> None:
        """Render what is still queued, then stop; the widget then shows the whole text."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def cancel(self) -> None:
        """Stop rendering at once (the widget is going away)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                chunk, rest = take_chunk("".join(self._pending), self.max_chars)
                self._pending = [rest] if rest else []
                self.appends += 1
                await self.markdown.append(chunk)
                self.after_append()
            if self._closing:
                return
