"""The loop guard: scripted token loops, real tokenizations (SmolLM2, Mistral), a real SmolLM2
loop through the engine, and regular replies that must never trip it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from loop_guard_texts import LOOPING_PHRASE, REGULAR_REPLIES

from starling_tui.engine.worker.loop_guard import (
    MAX_SPAN,
    MIN_TOKENS,
    PATTERN_TOKENS,
    LoopGuard,
    first_alarm,
    repeated_tail,
)

# Phrases SmolLM2-135M Q4_1 repeated for ever when asked greedily (benchmarks/loop_guard_bench.py)
SMOLLM2_LOOPS = [
    LOOPING_PHRASE,
    "A refrain of rain, a fleeting sight,\n",
    "  2.0\n      |",
    "A song of laughter,\n",
    "The recursive calls continue until the base case is reached, which is 2.\n\n",
    "They are also a symbol of the human spirit, and they are often used to represent the "
    "human body. ",
]


def test_a_scripted_loop_stops_once_it_covers_min_tokens() -> None:
    span = list(range(100, 110))  # 10 distinct tokens
    assert first_alarm([1, 2, 3] + span * 40) == 3 + MIN_TOKENS


def test_a_long_span_needs_three_copies() -> None:
    span = list(range(1000, 1300))
    assert first_alarm(span * 2) is None  # a chorus sung twice is no loop
    assert first_alarm(span * 4) == 3 * len(span)


def test_spans_longer_than_max_span_are_not_watched() -> None:
    span = list(range(5000, 5000 + MAX_SPAN + 10))
    assert first_alarm(span * 4) is None


def test_low_variety_patterns_need_pattern_tokens() -> None:
    row = [7, 7, 7, 7, 7, 7, 7, 9]  # a grid row: two distinct tokens
    assert first_alarm(row * 90) == PATTERN_TOKENS
    assert first_alarm(row * 60) is None  # 480 tokens: a big grid, still fine


def test_a_varied_text_never_fires_and_shows_no_repetition() -> None:
    tokens = list(range(2000))
    assert first_alarm(tokens) is None
    assert repeated_tail(tokens) == (0, 0)


def test_the_guard_resets_after_a_break_in_the_loop() -> None:
    guard = LoopGuard()
    span = list(range(20, 30))
    fired = [guard.add(t) for t in span * 15 + [999] + span * 2]
    assert not any(fired)  # 150 then 20 tokens: each run below MIN_TOKENS


@pytest.fixture(scope="module")
def tokenizers(smollm2_gguf: Path, starling_f16_gguf: Path) -> dict[str, Callable[[str], list]]:
    """The real tokenizers: SmolLM2's (GPT-2 style BPE) and the tiny fixtures' Mistral v1."""
    from starling_tui.engine.worker.llama_backend import load_model, model_params

    models = {name: load_model(path, model_params(vocab_only=True))
              for name, path in (("SmolLM2", smollm2_gguf), ("Mistral", starling_f16_gguf))}
    return {name: _tokenizer(model) for name, model in models.items()}


def _tokenizer(model: Any) -> Callable[[str], list]:
    def tokenize(text: str) -> list:
        return list(model.tokenize(text.encode(), False, False))

    return tokenize


@pytest.mark.parametrize("name", list(REGULAR_REPLIES))
def test_regular_replies_never_fire(name: str, tokenizers: dict) -> None:
    for tokenizer, tokenize in tokenizers.items():
        ids = tokenize(REGULAR_REPLIES[name])
        assert first_alarm(ids) is None, f"{name} ({tokenizer})"
        _span, covered = repeated_tail(ids)
        if covered >= MIN_TOKENS:  # only a low-variety pattern (the grid) gets this far
            assert len(set(ids)) < 12 and covered < PATTERN_TOKENS, f"{name} ({tokenizer})"


@pytest.mark.parametrize("phrase", SMOLLM2_LOOPS)
def test_real_loop_phrases_stop_soon(phrase: str, tokenizers: dict) -> None:
    for tokenize in tokenizers.values():
        ids = tokenize("Here it is:\n" + phrase * 60)
        span = len(tokenize(phrase))
        alarm = first_alarm(ids)
        assert alarm is not None
        # the loop starts within the first few tokens; allow the span's own boundary drift
        assert alarm <= max(MIN_TOKENS, 3 * span) + 2 * span + 8


def test_smollm2_haiku_loop_stops_with_repetition(smollm2_gguf: Path) -> None:
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.parent.process import ProcessEngine
    from starling_tui.paths import app_paths
    from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

    engine = ProcessEngine()
    engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024))
    ask = ChatMessage("user", "Write a haiku about autumn.")
    try:
        guarded = "".join(engine.generate(ChatRequest(
            (ask,), sampling=SamplingOptions(max_tokens=400), conversation_id="haiku")))
        stats = engine.last_stats
        assert stats.finish_reason == "repetition"
        assert MIN_TOKENS <= stats.completion_tokens < 400
        assert "a leaf's fate is determined, a leaf's fate is determined" in guarded
        # A stopped loop ends like a max-tokens cut: its KV state is saved for resuming.
        engine.close()
        assert list(app_paths().state_cache_dir.glob("*")), "no KV state saved"
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024))
        unguarded = "".join(engine.generate(
            ChatRequest((ask,), sampling=SamplingOptions(max_tokens=300, loop_guard=False))))
        assert engine.last_stats.finish_reason == "length"
        assert unguarded.startswith(guarded[:200])
    finally:
        engine.close()
