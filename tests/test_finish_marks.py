"""A reply cut by a full window is marked as such, not as a max-tokens cut nobody asked for."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from starling_tui.chat.finish import WINDOW_FULL_MARK, finish_mark
from starling_tui.engine.base import EngineOptions, GenerationStats
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions


def test_marks_of_each_ending() -> None:
    assert finish_mark("stop") is None and finish_mark(None) is None
    assert finish_mark("length") == "cut at max tokens"
    assert finish_mark("length", {"window_full": False}) == "cut at max tokens"
    assert finish_mark("length", asdict(GenerationStats(window_full=True))) == WINDOW_FULL_MARK
    assert finish_mark("repetition", {"window_full": True}) == "cut: repeating itself"
    assert finish_mark("cancelled") == "stopped"


def _reply(path: Path, max_tokens: int | None) -> GenerationStats:
    """A reply of the one-layer model (it never ends on its own) in a 256-token window."""
    from starling_tui.engine.worker.session import Session

    session = Session(EngineOptions(model_path=str(path), n_ctx=256, n_threads=2,
                                    state_cache=False, context_overflow="drop"))
    request = ChatRequest((ChatMessage("user", "Tell me about rivers."),),
                          sampling=SamplingOptions(max_tokens=max_tokens, loop_guard=False))
    try:
        return session.generate(request, lambda _text: None, lambda: False)
    finally:
        session.close()


@pytest.mark.slow
def test_the_engine_says_which_limit_cut_the_reply(one_layer_gguf: Path) -> None:
    by_window = _reply(one_layer_gguf, None)
    assert by_window.finish_reason == "length" and by_window.window_full
    assert finish_mark(by_window.finish_reason, asdict(by_window)) == WINDOW_FULL_MARK
    by_limit = _reply(one_layer_gguf, 20)
    assert (by_limit.finish_reason, by_limit.completion_tokens) == ("length", 20)
    assert not by_limit.window_full
    assert finish_mark(by_limit.finish_reason, asdict(by_limit)) == "cut at max tokens"
