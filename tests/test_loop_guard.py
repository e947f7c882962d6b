"""The loop guard: scripted token loops, real tokenizations (SmolLM2, Mistral), a real SmolLM2
loop through the engine, loops that only count, and regular replies that must never trip it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from loop_guard_texts import COUNTING_LOOPS, LOOPING_PHRASE, REGULAR_REPLIES

from starling_tui.engine.worker.loop_guard import (
    COUNTER_REPEATS,
    COUNTER_TOKENS,
    MAX_SPAN,
    MIN_TOKENS,
    PATTERN_TOKENS,
    LoopGuard,
    first_alarm,
    repeated_tail,
)

Tokenize = Callable[[str], tuple[list[int], list[str]]]

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


def _counting(rows: int, row: Callable[[int], list[tuple[int, str]]]) -> tuple[list, list]:
    """Token ids and texts of ``rows`` rows, row ``i`` given as (id, text) pairs."""
    pairs = [pair for i in range(rows) for pair in row(i)]
    return [t for t, _ in pairs], [x for _, x in pairs]


def _digits(number: int) -> list[tuple[int, str]]:
    """A number as one token per digit, the way Mistral's and SmolLM2's tokenizers split it."""
    return [(100 + int(d), d) for d in str(number)]


def test_a_loop_that_only_counts_stops_after_counter_repeats() -> None:
    # "Step 7: check it.\n" rows: 6 tokens besides the number's digits
    def row(i: int) -> list[tuple[int, str]]:
        return [(1, "Step"), (2, " "), *_digits(i + 5), (3, ":"), (4, " check"), (5, " it"),
                (6, ".\n")]

    ids, texts = _counting(300, row)
    alarm = first_alarm(ids, texts)
    assert alarm is not None
    rows_seen = texts[:alarm].count(".\n")
    assert COUNTER_REPEATS <= rows_seen <= COUNTER_REPEATS + 2
    assert first_alarm(ids) is None  # without the texts nothing tells a number apart


def test_numbers_of_any_length_count_as_one_place() -> None:
    # 98, 99, 100, 101: the row grows by a token and the span must not change
    ids, texts = _counting(200, lambda i: [(1, "| "), *_digits(90 + i), (2, " | 0 |\n")])
    assert first_alarm(ids, texts) is not None


def test_rows_where_two_numbers_change_are_no_counting_loop() -> None:
    # "| i | i*i |" (a table of squares): two numbers change from row to row
    ids, texts = _counting(
        300, lambda i: [(1, "| "), *_digits(i), (2, " | "), *_digits(i * i), (3, " |\n")])
    assert first_alarm(ids, texts) is None


def test_a_short_run_of_counted_rows_is_fine() -> None:
    ids, texts = _counting(COUNTER_REPEATS - 2,
                           lambda i: [(1, "- [ ] Task "), *_digits(i), (2, ": review\n")])
    assert first_alarm(ids, texts) is None


def test_counter_tokens_is_a_floor() -> None:
    # rows of two to four tokens: many copies, few tokens ("1\n2\n…300\n")
    ids, texts = _counting(300, lambda i: [*_digits(i + 1), (2, "\n")])
    alarm = first_alarm(ids, texts)
    assert alarm is not None and alarm >= COUNTER_TOKENS


@pytest.fixture(scope="module")
def tokenizers(smollm2_gguf: Path, starling_f16_gguf: Path) -> dict[str, Tokenize]:
    """The real tokenizers: SmolLM2's (GPT-2 style BPE) and the tiny fixtures' Mistral v1.

    Each gives a text's ids and each token's text, as the engine's piece decoder emits it."""
    from starling_tui.llama.backend import load_model, model_params

    models = {name: load_model(path, model_params(vocab_only=True))
              for name, path in (("SmolLM2", smollm2_gguf), ("Mistral", starling_f16_gguf))}
    return {name: _tokenizer(model) for name, model in models.items()}


def _tokenizer(model: Any) -> Tokenize:
    def tokenize(text: str) -> tuple[list[int], list[str]]:
        ids = list(model.tokenize(text.encode(), False, False))
        pieces = [bytes(model.token_to_piece(t)).rstrip(b"\0") for t in ids]  # a fixed buffer
        return ids, [piece.decode("utf-8", "replace") for piece in pieces]

    return tokenize


@pytest.mark.parametrize("name", list(REGULAR_REPLIES))
def test_regular_replies_never_fire(name: str, tokenizers: dict[str, Tokenize]) -> None:
    for tokenizer, tokenize in tokenizers.items():
        ids, texts = tokenize(REGULAR_REPLIES[name])
        assert first_alarm(ids, texts) is None, f"{name} ({tokenizer})"
        _span, covered = repeated_tail(ids)
        if covered >= MIN_TOKENS:  # only a low-variety pattern (the grid) gets this far
            assert len(set(ids)) < 12 and covered < PATTERN_TOKENS, f"{name} ({tokenizer})"


@pytest.mark.parametrize("name", list(COUNTING_LOOPS))
def test_counting_loops_stop(name: str, tokenizers: dict[str, Tokenize]) -> None:
    for tokenizer, tokenize in tokenizers.items():
        ids, texts = tokenize(COUNTING_LOOPS[name])
        assert first_alarm(ids) is None, f"{name} ({tokenizer}): exact repetition only"
        alarm = first_alarm(ids, texts)
        assert alarm is not None, f"{name} ({tokenizer})"
        # about COUNTER_REPEATS rows in, far before the loop (several hundred rows) ends
        assert alarm < len(ids) / 3, f"{name} ({tokenizer}): {alarm} of {len(ids)}"


@pytest.mark.parametrize("phrase", SMOLLM2_LOOPS)
def test_real_loop_phrases_stop_soon(phrase: str, tokenizers: dict[str, Tokenize]) -> None:
    for tokenize in tokenizers.values():
        ids, texts = tokenize("Here it is:\n" + phrase * 60)
        span = len(tokenize(phrase)[0])
        alarm = first_alarm(ids, texts)
        assert alarm is not None
        # the loop starts within the first few tokens; allow the span's own boundary drift
        assert alarm <= max(MIN_TOKENS, 3 * span) + 2 * span + 8


# Prompts SmolLM2-135M Q4_1 answered with a loop, greedily; which of them loops depends on the
# llama.cpp build's arithmetic (the haiku did in one build, the refrain and the song in another).
LOOPING_PROMPTS = ["Write a haiku about autumn.",
                   "Write a short poem with a refrain about the rain.",
                   "Write the lyrics of a children's song with a repeated chorus."]


def test_a_real_smollm2_loop_stops_with_repetition(smollm2_gguf: Path) -> None:
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.parent.process import ProcessEngine
    from starling_tui.paths import app_paths
    from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

    engine = ProcessEngine()
    engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024))
    try:
        for prompt in LOOPING_PROMPTS:
            ask = ChatMessage("user", prompt)
            guarded = "".join(engine.generate(ChatRequest(
                (ask,), sampling=SamplingOptions(max_tokens=400), conversation_id="loop")))
            if engine.last_stats.finish_reason == "repetition":
                break
        stats = engine.last_stats
        assert stats.finish_reason == "repetition", "none of the looping prompts looped"
        assert MIN_TOKENS <= stats.completion_tokens < 400
        # A stopped loop ends like a max-tokens cut: its KV state is saved for resuming.
        engine.close()
        assert list(app_paths().state_cache_dir.glob("*")), "no KV state saved"
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024))
        unguarded = "".join(engine.generate(
            ChatRequest((ask,), sampling=SamplingOptions(max_tokens=300, loop_guard=False))))
        assert engine.last_stats.finish_reason == "length"
        assert unguarded.startswith(guarded[:200])
        ids = list(engine.preview(ChatRequest((ChatMessage("assistant", unguarded),))).token_ids)
        assert repeated_tail(ids)[1] >= MIN_TOKENS  # what went on was the loop
    finally:
        engine.close()
