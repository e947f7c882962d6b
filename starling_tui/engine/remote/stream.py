"""Reading a streamed ``/v1/completions`` reply: server-sent events → text pieces and figures.

Each event's ``data`` is one JSON completion chunk (``choices[0].text``, ``finish_reason``),
the stream ends with ``data: [DONE]``. llama-server adds its own ``timings`` to the last chunk
and some servers send ``usage``; both refine the figures. What can go wrong is told apart:
a malformed event (not JSON, an ``error`` object, a line that is no SSE field) raises
:class:`RemoteError`; a stream that breaks off or goes quiet after text arrived ends the reply
as ``incomplete`` with the pieces already given kept; before any text it raises.

The reply is treated as the local engine treats its own: the prompt format's space before the
reply is dropped (:class:`~starling_tui.prompt.reply_text.ReplyStart`), and the loop guard
(:mod:`starling_tui.engine.worker.loop_guard`) watches the stream, which is closed once the
reply repeats itself (``repetition``). The guard sees streamed pieces, not token ids (the
OpenAI stream carries none): llama-server sends one piece per token, except that the tokens of
a character split across tokens arrive as one piece, so on ASCII text it stops at the same
token as the local engine.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starling_tui.engine.base import GenerationStats
from starling_tui.engine.remote.transport import EventStream, RemoteError
from starling_tui.engine.worker.loop_guard import LoopGuard
from starling_tui.prompt.reply_text import ReplyStart
from starling_tui.types import FinishReason

_FIELDS = ("data", "event", "id", "retry")


def sse_payloads(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each event (multi-line data joined by newlines); comments skipped."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # keep-alive comment (sse-starlette's ": ping")
        name, _, value = line.partition(":")
        if name not in _FIELDS:
            raise RemoteError(f"the server sent a malformed event stream ({line[:40]!r})")
        if name == "data":
            data.append(value.removeprefix(" "))
    if data:
        yield "\n".join(data)


@dataclass
class Chunk:
    """One completion chunk: its text, finish reason and any figures it carries."""

    text: str = ""
    finish: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def parse_chunk(payload: str) -> Chunk | None:
    """The chunk in ``payload``; None for the closing ``[DONE]``. RemoteError when malformed."""
    if payload.strip() == "[DONE]":
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        raise RemoteError(f"the server sent a malformed event ({payload[:40]!r})") from None
    if not isinstance(data, dict):
        raise RemoteError("the server sent a malformed event (not a JSON object)")
    if "error" in data:
        error = data["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise RemoteError(f"the server failed mid-reply: {str(message)[:200]}")
    figures = {k: data[k] for k in ("timings", "usage") if isinstance(data.get(k), dict)}
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        return Chunk(figures=figures)  # a usage-only chunk
    choice = choices[0]
    if not isinstance(choice, dict):
        raise RemoteError("the server sent a malformed event (choices[0] is not an object)")
    text = choice.get("text") or ""
    if not isinstance(text, str):
        raise RemoteError("the server sent a malformed event (text is not a string)")
    return Chunk(text, choice.get("finish_reason"), figures)


def finish_reason(reason: str | None) -> FinishReason:
    """OpenAI's finish reason as ours (an unknown one means the reply did not end normally)."""
    if reason in ("stop", "eos", None):
        return "stop"
    return "length" if reason == "length" else "incomplete"


def sse_chunks(lines: Iterable[str]) -> Iterator[Chunk | None]:
    """The completion chunks of an OpenAI event stream (None for ``[DONE]``)."""
    return (parse_chunk(payload) for payload in sse_payloads(lines))


ChunkDecoder = Callable[[Iterable[str]], Iterator["Chunk | None"]]


class PieceGuard:
    """The loop guard fed with streamed pieces: each distinct piece stands for one token."""

    def __init__(self) -> None:
        self._guard = LoopGuard()
        self._ids: dict[str, int] = {}

    def add(self, piece: str) -> bool:
        """Record the next piece; True once the reply's tail is one span repeated."""
        return self._guard.add(self._ids.setdefault(piece, len(self._ids)), piece)


class ReplyReader:
    """Turns one streamed reply into text pieces, filling ``stats`` as it goes.

    ``strip_space``: the prompt format wrote the space before the reply (it is not saved);
    ``guard`` watches for a reply that repeats itself (None: the loop guard is off).
    """

    def __init__(self, stream: EventStream, stats: GenerationStats, start: float,
                 cancelled: Callable[[], bool], stall_timeout_s: float,
                 decode: ChunkDecoder = sse_chunks, *, strip_space: bool = False,
                 guard: PieceGuard | None = None) -> None:
        self.decode = decode  # the stream's format: OpenAI SSE, or Ollama's JSON lines
        self.stream = stream
        self.stats = stats
        self.start = start
        self.cancelled = cancelled
        self.stall_timeout_s = stall_timeout_s
        self.reply_start = ReplyStart(strip_space)
        self.guard = guard
        self.figures: dict[str, Any] = {}  # the server's own timings/usage of this reply
        self._first_at: float | None = None
        self._pieces = 0

    def pieces(self) -> Iterator[str]:
        """Yield the reply's text; ``stats.finish_reason`` is final when this ends."""
        reason: str | None = None
        done = repeated = False
        try:
            for chunk in self.decode(self.stream.lines()):
                # Checked before every piece: lines already buffered from an aborted stream
                # (a cancel, a newer reply) must not reach the caller.
                if self.cancelled():
                    break
                if chunk is None:
                    done = True
                    break
                self.figures.update(chunk.figures)
                reason = chunk.finish or reason
                if chunk.text:
                    self._count()
                    text = self.reply_start.text(chunk.text)
                    if text:
                        yield text
                    if self.guard is not None and self.guard.add(chunk.text):
                        repeated = True
                        break
        except (OSError, http.client.HTTPException, UnicodeDecodeError) as exc:
            self._broken(exc)
            return
        if self.cancelled():
            self.stats.finish_reason = "cancelled"
        elif repeated:
            self.stats.finish_reason = "repetition"  # the caller closes the stream
        elif not done and reason is None:
            self._broken(None)
        else:
            self.stats.finish_reason = finish_reason(reason)
        self._apply_figures()

    def _count(self) -> None:
        now = time.perf_counter()
        if self._first_at is None:
            self._first_at = now
            self.stats.ttft_s = now - self.start
        self._pieces += 1
        self.stats.completion_tokens = self._pieces
        self.stats.tokens_per_s = (self._pieces - 1) / max(now - self._first_at, 1e-9)

    def _broken(self, exc: BaseException | None) -> None:
        """The stream ended early: cancelled, incomplete (text kept) or, with no text, raise."""
        if self.cancelled() or self.stream.aborted:
            self.stats.finish_reason = "cancelled"
            return
        if isinstance(exc, TimeoutError):
            line = f"the server stalled (no data for {self.stall_timeout_s:g}s)"
        elif isinstance(exc, UnicodeDecodeError):
            line = "the server sent an event stream that is not UTF-8"
        else:
            line = "the server closed the connection mid-reply"
        if self._pieces == 0:
            raise RemoteError(line)
        self.stats.finish_reason = "incomplete"
        self.stats.error = line
        self._apply_figures()

    def _apply_figures(self) -> None:
        """Exact counts from the server where it sent them (llama-server's timings, usage)."""
        timings = self.figures.get("timings", {})
        usage = self.figures.get("usage", {})
        predicted = timings.get("predicted_n", usage.get("completion_tokens"))
        if isinstance(predicted, int) and predicted > 0:
            self.stats.completion_tokens = predicted
        prompt_n = timings.get("prompt_n")
        if isinstance(prompt_n, int) and 0 <= prompt_n <= self.stats.prompt_tokens:
            self.stats.evaluated_tokens = prompt_n
            self.stats.cached_tokens = self.stats.prompt_tokens - prompt_n
