"""Context shift on the real engine (SmolLM2): past its window only new tokens are evaluated.

llama.cpp's own counter (``n_p_eval``) must agree with the engine's figures; the preview (what
``tokens`` and F7 show) must be the very prompt evaluated; a restarted engine resumes a shifted
conversation from its saved state; a cancel during a shift leaves the cache consistent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow

SYSTEM = ChatMessage("system", "You answer in one short sentence.")
REPLY = 8
LIMIT = SamplingOptions(max_tokens=REPLY)


def options(path: Path, **changes: object) -> EngineOptions:
    values: dict[str, object] = {"model_path": str(path), "n_ctx": 256, "n_threads": 2,
                                 "state_cache": False}
    values.update(changes)
    return EngineOptions(**values)  # type: ignore[arg-type]


def question(i: int) -> ChatMessage:
    return ChatMessage("user", f"Name one animal whose name starts with the letter {chr(65 + i)}.")


def request(messages: list[ChatMessage]) -> ChatRequest:
    return ChatRequest(tuple(messages), sampling=LIMIT, conversation_id="shifted")


def new_turn_tokens(engine: ProcessEngine, user: ChatMessage) -> int:
    """Most tokens a follow-up may evaluate: the new user turn with its headers, and the end
    of the last reply (the end-of-turn marker, and the reply's last few tokens: a reply cut
    at ``max_tokens`` can re-tokenize differently from how it was generated)."""
    alone = len(engine.preview(request([SYSTEM, user])).token_ids)
    return alone - len(engine.preview(request([SYSTEM])).token_ids) + 8


def chat(engine: ProcessEngine, turns: int, messages: list[ChatMessage] | None = None
         ) -> Iterator[tuple[list[ChatMessage], ChatRequest]]:
    """Ask ``turns`` questions; yields (history, request) after each reply."""
    messages = messages if messages is not None else [SYSTEM]
    for _ in range(turns):
        messages.append(question(sum(m.role == "user" for m in messages)))
        req = request(messages)
        reply = "".join(engine.generate(req))
        messages.append(ChatMessage("assistant", reply))
        yield messages, req


# Self-Extend (G 2, W 32) groups the cache every 32 tokens: the shift then cuts its map
SELF_EXTEND = [{}, {"self_extend": 2, "self_extend_window": 32}]


@pytest.mark.parametrize("extend", SELF_EXTEND, ids=["plain", "self-extend"])
def test_past_the_window_only_new_tokens_are_evaluated(smollm2_gguf: Path,
                                                       extend: dict[str, int]) -> None:
    engine = ProcessEngine()
    try:
        engine.load(options(smollm2_gguf, **extend))
        shifts = 0
        dropped = 0
        for messages, req in chat(engine, 11):
            stats, counters = engine.last_stats, engine.counters()
            preview = engine.preview(req)
            assert stats.prompt_tokens == len(preview.token_ids) <= 256 - REPLY
            assert stats.dropped_messages == preview.dropped_messages
            assert counters["n_p_eval"] == stats.evaluated_tokens  # llama.cpp agrees
            assert stats.finish_reason in ("stop", "length")
            if stats.dropped_messages > dropped:  # this request shifted the cache
                shifts += 1
                assert preview.rendered.startswith("<|im_start|>system\nYou answer")
                assert stats.cached_tokens > 100
            if len(messages) > 3:  # shifted or not, only the new turn is evaluated
                assert stats.evaluated_tokens <= new_turn_tokens(engine, messages[-2]), stats
            dropped = stats.dropped_messages
        assert shifts >= 1
    finally:
        engine.close()


def test_drop_reevaluates_and_error_refuses(smollm2_gguf: Path) -> None:
    engine = ProcessEngine()
    try:
        engine.load(options(smollm2_gguf, context_overflow="drop"))
        history = [SYSTEM]
        for _ in chat(engine, 10, history):
            pass
        assert engine.last_stats.dropped_messages > 0
        assert engine.last_stats.evaluated_tokens > 60  # everything after the system prompt
        assert engine.counters()["n_p_eval"] == engine.last_stats.evaluated_tokens
        engine.load(options(smollm2_gguf, context_overflow="error"))
        with pytest.raises(EngineError, match="context_overflow = error") as caught:
            engine.preview(request([*history, question(11)]))
        assert "\n" not in str(caught.value)
    finally:
        engine.close()


@pytest.mark.parametrize("extend", SELF_EXTEND, ids=["plain", "self-extend"])
def test_restart_resumes_a_shifted_conversation(smollm2_gguf: Path, tmp_path: Path,
                                                extend: dict[str, int]) -> None:
    opts = options(smollm2_gguf, state_cache=True, state_cache_dir=str(tmp_path), **extend)
    engine = ProcessEngine()
    try:
        engine.load(opts)
        messages = [SYSTEM]
        for _ in chat(engine, 9, messages):
            pass
        assert engine.last_stats.dropped_messages > 0
    finally:
        engine.close()
    restarted = ProcessEngine()
    try:
        restarted.load(opts)
        next(chat(restarted, 1, messages))
        stats = restarted.last_stats
        assert stats.dropped_messages > 0 and stats.restored_tokens > 100, stats
        assert stats.evaluated_tokens <= new_turn_tokens(restarted, messages[-2]), stats
        assert restarted.counters()["n_p_eval"] == stats.evaluated_tokens
    finally:
        restarted.close()


def test_cancel_during_a_shift_leaves_a_consistent_cache(smollm2_gguf: Path) -> None:
    """The request that shifts is cancelled before its prompt is evaluated; asking again
    reuses the shifted cache and answers exactly as an engine that was never cancelled."""
    engines = ProcessEngine(), ProcessEngine()
    try:
        for engine in engines:
            engine.load(options(smollm2_gguf))
        cancelled, steady = engines
        messages = [SYSTEM]
        for _ in range(11):
            messages.append(question(sum(m.role == "user" for m in messages)))
            req = request(messages)
            shifting = cancelled.preview(req).dropped_messages > (
                cancelled.last_stats.dropped_messages)
            if shifting:
                stream = cancelled.generate(req)
                cancelled.cancel()  # stops this reply at its first check: inside the prompt
                assert list(stream) == [] and cancelled.last_stats.finish_reason == "cancelled"
            reply = "".join(cancelled.generate(req))
            assert reply == "".join(steady.generate(req))
            assert cancelled.counters()["n_p_eval"] == cancelled.last_stats.evaluated_tokens
            if shifting:
                assert cancelled.last_stats.cached_tokens > 100
                break
            messages.append(ChatMessage("assistant", reply))
        assert shifting, "the conversation never outgrew the window"
    finally:
        for engine in engines:
            engine.close()


def test_a_vocabulary_only_preview_is_what_generate_sees(smollm2_gguf: Path) -> None:
    """``tokens`` loads only the vocabulary: it must pick the same turns in the same window
    (llama.cpp pads a 300-token request to 512) as the loaded engine."""
    messages = [SYSTEM]
    for i in range(30):
        messages += [question(i), ChatMessage("assistant", f"The {chr(65 + i)}-animal is a cat.")]
    req = request([*messages, question(3)])
    opts = options(smollm2_gguf, n_ctx=300)
    engine = ProcessEngine()
    try:
        assert engine.load(opts).n_ctx == 512
        loaded = engine.preview(req)
    finally:
        engine.close()
    alone = ProcessEngine.preview_only(opts, req)
    assert loaded == alone and alone.dropped_messages > 0
