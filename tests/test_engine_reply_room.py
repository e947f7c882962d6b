"""A reply that fills the window goes on after a context shift (``context_overflow = shift``).

The one-layer model writes random-looking text that never ends on its own, so a reply asked for
more tokens than the window holds runs into the end of the window: with ``shift`` the older
turns are shifted out and the reply goes on until only the question and the reply are left;
with ``drop`` it stops at the end of the window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow

N_CTX = 256
WORDS = "the river runs past the old mill and under the bridge to the sea"


def conversation(turns: int) -> tuple[ChatMessage, ...]:
    """A system prompt, ``turns`` earlier exchanges and a new question."""
    messages = [ChatMessage("system", "You answer at length.")]
    for i in range(turns):
        messages += [ChatMessage("user", f"Question {i}: {WORDS}?"),
                     ChatMessage("assistant", f"Answer {i}: {WORDS}.")]
    # Long enough on its own for a shift to pay (MIN_KEPT): the random reply's text need not
    # re-tokenize as it was generated, so only the question may line up.
    messages.append(ChatMessage("user", "Now tell me everything you know about rivers, lakes "
                                        "and the sea, in great detail please."))
    return tuple(messages)


def reply(path: Path, policy: str, **extend: Any) -> tuple[Any, Any, Any]:
    """Generate a 300-token reply in a 256-token window; (stats, first plan, session)."""
    from starling_tui.engine.worker.session import Session

    session = Session(EngineOptions(model_path=str(path), n_ctx=N_CTX, n_threads=2,
                                    state_cache=False, context_overflow=policy,  # type: ignore[arg-type]
                                    **extend))
    request = ChatRequest(conversation(5), sampling=SamplingOptions(max_tokens=300,
                                                                    loop_guard=False))
    first, _ = session.plan(request)
    stats = session.generate(request, lambda _text: None, lambda: False)
    return stats, first, session


@pytest.mark.parametrize("extend", [{}, {"self_extend": 2, "self_extend_window": 32}],
                         ids=["plain", "self-extend"])
def test_a_reply_that_fills_the_window_goes_on_after_a_shift(one_layer_gguf: Path,
                                                             extend: dict[str, int]) -> None:
    stats, first, session = reply(one_layer_gguf, "shift", **extend)
    try:
        # past the end of the window, until no older turn was left to shift out
        assert stats.prompt_tokens + stats.completion_tokens > N_CTX + 20, stats
        assert stats.finish_reason == "length" and stats.completion_tokens < 300
        assert first.dropped_messages < stats.dropped_messages == 10  # all earlier turns
        assert len(session.tokens) < N_CTX
        assert session.tokens[:3] == first.ids[:3]  # the system prompt stayed at the start
    finally:
        session.close()


def test_without_shift_the_reply_stops_at_the_window(one_layer_gguf: Path) -> None:
    stats, first, session = reply(one_layer_gguf, "drop")
    try:
        assert stats.finish_reason == "length"
        assert stats.prompt_tokens + stats.completion_tokens == N_CTX
        assert stats.dropped_messages == first.dropped_messages
    finally:
        session.close()


def test_only_whole_older_turns_may_go_mid_reply() -> None:
    """The planner's answer is used only if it keeps the system prompt and the question."""
    from starling_tui.engine.worker.reply_room import keeps_what_matters
    from starling_tui.prompt.fit import FittedPrompt

    messages = conversation(2)
    request = ChatRequest(messages)
    partial = ChatMessage("assistant", "so far")
    system = messages[0]

    def fitted(*kept: ChatMessage) -> FittedPrompt:
        return FittedPrompt((*kept, partial), [], len(messages) - len(kept))

    assert keeps_what_matters(request, fitted(system, *messages[3:]))  # one turn out
    assert not keeps_what_matters(request, fitted(*messages[1:]))  # the system prompt went
    assert not keeps_what_matters(request, fitted(system))  # the question went
    assert not keeps_what_matters(request, FittedPrompt((*messages, partial), [], 0))  # nothing
