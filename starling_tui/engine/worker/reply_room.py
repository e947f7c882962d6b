"""Room for a reply that fills the window: a context shift in the middle of the reply.

Under ``context_overflow = "shift"`` the prompt leaves room for a reply (``max_tokens``, else
512 tokens, at most half the window), but a long answer can still reach the end of the window.
Rather than cutting it there (finish reason ``length``), the oldest whole turns are shifted out
of the KV cache exactly as the next prompt would leave them out: the prompt planner is asked
for the conversation *with the reply so far as its last message*, keeping only a token of room
after it (the policy's chunk, a quarter of the window by default, is what frees space), and the
cache is shifted to match (:meth:`.KvSequence.shift_for`). The reply's own tokens are never
touched, so generation simply goes on.

Because the planner is the same pure function of the messages, the follow-up's prompt leaves
out at least these turns: its cache is then reused as after any shift. The reply's statistics
report the messages the model no longer sees. Nothing happens (the reply ends with ``length``)
when the policy is not ``shift``, when the system prompt or the question itself would have to
go, or when no gap frees anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from starling_tui.engine.base import GenerationStats
from starling_tui.engine.worker.kv_sequence import KvSequence
from starling_tui.errors import EngineError
from starling_tui.prompt.fit import FittedPrompt
from starling_tui.types import ChatMessage, ChatRequest


def room_maker(
    plan: Callable[[ChatRequest], FittedPrompt], kv: KvSequence, request: ChatRequest,
    reply: Callable[[], str], stats: GenerationStats,
) -> Callable[[], bool]:
    """A callback for a full window: True when a context shift made room for more tokens.

    ``plan`` fits a request into the window with no reply room; ``reply`` is the text so far.
    """

    def make_room() -> bool:
        partial = replace(request, messages=(*request.messages,
                                             ChatMessage("assistant", reply())))
        try:
            fitted = plan(partial)
        except EngineError:  # even the question and the reply alone do not fit
            return False
        if not keeps_what_matters(request, fitted) or not kv.shift_for(fitted.ids):
            return False
        stats.dropped_messages = fitted.dropped_messages
        return len(kv.tokens) + 1 < kv.n_ctx

    return make_room


def keeps_what_matters(request: ChatRequest, fitted: FittedPrompt) -> bool:
    """Only whole older turns left out: the system prompt and the question stay."""
    systems = [m for m in request.messages if m.role == "system"]
    kept_systems = [m for m in fitted.messages if m.role == "system"]
    return (fitted.dropped_messages > 0 and kept_systems == systems
            and len(fitted.messages) >= 2 and fitted.messages[-2] == request.messages[-1])
