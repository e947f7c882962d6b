"""How much of the context window the draft in the prompt box may take, counted as you type.

Three figures, each from the engine's own prompt rendering (``engine.preview``, so they are the
tokens the model will get):

- the draft's tokens: its text alone in a user message, less an empty one;
- the room: what the window leaves for the next message before older turns leave the model's
  view (the window, less the room kept for the reply, less the conversation so far with an
  empty message);
- the longest message that can be sent at all: the window less the reply's room, the system
  prompt and an empty message's framing (older turns can make way, the system prompt cannot).

Blocking (engine previews): called from a worker, never while a reply streams (a preview then
would end the reply). The conversation's figure is kept while the conversation is unchanged,
so each keystroke costs one preview of the draft alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from starling_tui.engine.base import PromptPreview
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest, OverflowPolicy

Preview = Callable[[ChatRequest], PromptPreview]


@dataclass(frozen=True)
class DraftRoom:
    """The draft's tokens against the room the window leaves it."""

    tokens: int | None  # the draft's own tokens; None: more than ``longest`` (not counted)
    room: int  # tokens it may take before older turns leave the model's view
    longest: int  # tokens any message may take (past it, it cannot be sent)
    reserve: int  # tokens kept free for the reply
    policy: OverflowPolicy = "shift"  # what the engine does when the room is passed

    @property
    def too_long(self) -> bool:
        """Would the engine refuse it? (With ``error``, passing the room is enough.)"""
        limit = self.room if self.policy == "error" else self.longest
        return self.tokens is None or self.tokens > limit

    @property
    def pushes_out(self) -> bool:
        """Would sending it make older turns leave the model's view?"""
        return not self.too_long and (self.tokens or 0) > self.room


def with_message(request: ChatRequest, text: str) -> ChatRequest:
    """``request`` with a user message ``text`` appended (an empty one too)."""
    return replace(request, messages=(*request.messages, ChatMessage("user", text)))


def system_only(request: ChatRequest) -> ChatRequest:
    """``request`` with only its leading system messages."""
    system = tuple(m for m in request.messages if m.role == "system")
    return replace(request, messages=system)


class DraftMeter:
    """Measures drafts, keeping the figures that depend on the conversation alone."""

    def __init__(self) -> None:
        self._lengths: dict[ChatRequest, int] = {}

    def _length(self, preview: Preview, request: ChatRequest) -> int:
        if request not in self._lengths:
            if len(self._lengths) > 8:  # a few conversations' figures are plenty
                self._lengths.clear()
            self._lengths[request] = len(preview(request).token_ids)
        return self._lengths[request]

    def measure(self, preview: Preview, conversation: ChatRequest, draft: str, *,
                n_ctx: int, reserve: int, policy: OverflowPolicy) -> DraftRoom:
        """The room ``draft`` has after ``conversation`` (the request without it) in a window
        of ``n_ctx`` tokens of which ``reserve`` are kept for the reply."""
        budget = max(n_ctx - reserve, 1)
        alone_empty = self._length(preview, with_message(system_only(conversation), ""))
        try:
            base = self._length(preview, with_message(conversation, ""))
        except EngineError:  # the conversation itself is past the window ("error" policy)
            base = budget
        tokens: int | None = 0
        if draft:
            try:
                alone = len(preview(with_message(system_only(conversation), draft)).token_ids)
                tokens = alone - alone_empty
            except EngineError:  # even alone it does not fit: the engine will refuse it
                tokens = None
        return DraftRoom(tokens, budget - base, budget - alone_empty, reserve, policy)


def describe_room(room: DraftRoom | None) -> str:
    """The prompt box's caption: ``45/467 tokens`` (the draft / the room left), with what
    happens past the room; "" for no draft."""
    if room is None or room.tokens == 0:
        return ""
    longest = max(room.longest, 0)
    if room.tokens is None:
        return f"too long: at most {longest} tokens fit"
    if room.too_long:
        limit = room.room if room.policy == "error" else longest
        return f"{room.tokens} tokens: too long, at most {max(limit, 0)} fit"
    text = f"{room.tokens}/{room.room} tokens"
    return f"{text}: older turns leave the model's view" if room.pushes_out else text
