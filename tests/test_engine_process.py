"""The llama.cpp worker-process engine on SmolLM2 (real text): streaming, KV reuse, cancel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol_engine(smollm2_gguf: Path) -> Iterator[ProcessEngine]:
    engine = ProcessEngine()
    engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=4096, n_threads=2))
    yield engine
    engine.close()


def ask(text: str, history: tuple[ChatMessage, ...] = (), max_tokens: int | None = 24,
        **sampling) -> ChatRequest:
    return ChatRequest((*history, ChatMessage("user", text)),
                       sampling=SamplingOptions(max_tokens=max_tokens, **sampling))


def test_info_describes_model_and_gpu_choice(smol_engine: ProcessEngine, smollm2_gguf) -> None:
    from starling_tui.llama.backend import gpu_offload_supported

    info = smol_engine.info
    assert info is not None
    assert info.path == str(smollm2_gguf) and info.quant == "Q4_1"
    assert info.n_ctx == 4096 and info.n_ctx_train == 8192 and info.n_layers == 30
    assert info.template == "chat_template"
    if gpu_offload_supported():
        assert info.n_gpu_layers == 30 and "offloaded" in info.gpu_note and info.gpu_build
    else:
        assert info.n_gpu_layers == 0 and "no GPU backend" in info.gpu_note
        assert not info.gpu_build


def test_multi_turn_real_text_reuses_kv(smol_engine: ProcessEngine) -> None:
    first = ask("What is the capital of France?")
    pieces = list(smol_engine.generate(first))
    reply = "".join(pieces)
    stats = smol_engine.last_stats
    assert len(pieces) > 1 and reply.strip()
    assert stats.completion_tokens >= len([p for p in pieces if p])
    assert stats.prompt_tokens == len(smol_engine.preview(first).token_ids)
    assert stats.finish_reason in ("stop", "length") and stats.ttft_s > 0

    history = (*first.messages, ChatMessage("assistant", reply))
    second = ask("And what is the capital of Germany?", history)
    prompt = smol_engine.preview(second).token_ids
    first_ids = smol_engine.preview(first).token_ids
    assert prompt[: len(first_ids)] == first_ids
    reply2 = "".join(smol_engine.generate(second))
    stats2 = smol_engine.last_stats
    counters = smol_engine.counters()
    assert reply2.strip()
    # llama.cpp's own counter: only the tokens after the reused prefix were evaluated.
    assert stats2.cached_tokens > stats.prompt_tokens
    assert stats2.evaluated_tokens == stats2.prompt_tokens - stats2.cached_tokens
    assert counters["n_p_eval"] + (1 if stats2.evaluated_tokens == 1 else 0) == (
        stats2.evaluated_tokens
    )
    assert counters["n_p_eval"] < len(prompt) // 2


def test_fresh_engine_evaluates_the_whole_prompt(smol_engine: ProcessEngine, smollm2_gguf) -> None:
    """Reuse is per engine: a new worker evaluates everything, the warm one only the tail.

    (Their greedy replies are not compared: evaluating a prompt in one batch instead of turn
    by turn may round differently; bit-identical resumes are test_kv_state's business.)
    """
    first = ask("Name three colors.")
    reply = "".join(smol_engine.generate(first))
    second = ask("Which one is warmest?", (*first.messages, ChatMessage("assistant", reply)))
    warm = "".join(smol_engine.generate(second))
    warm_stats = smol_engine.last_stats
    assert warm and warm_stats.cached_tokens > smol_engine.last_stats.prompt_tokens // 2
    assert smol_engine.counters()["n_p_eval"] == warm_stats.evaluated_tokens
    cold_engine = ProcessEngine()
    try:
        cold_engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=4096, n_threads=2))
        assert "".join(cold_engine.generate(second))
        assert cold_engine.last_stats.cached_tokens == 0
        assert cold_engine.last_stats.prompt_tokens == warm_stats.prompt_tokens
        assert cold_engine.counters()["n_p_eval"] == cold_engine.last_stats.prompt_tokens
    finally:
        cold_engine.close()


def test_stops_on_end_of_turn(smol_engine: ProcessEngine) -> None:
    """Generation ends at the model's end-of-turn token, which is not part of the text."""
    reply = "".join(smol_engine.generate(ask("Say only the word yes.", max_tokens=64)))
    assert reply == "Yes."
    assert smol_engine.last_stats.finish_reason == "stop"
    assert smol_engine.last_stats.completion_tokens == 2


def test_seeded_sampling_is_reproducible(smol_engine: ProcessEngine, smollm2_gguf: Path) -> None:
    """temperature > 0 draws with the given seed: same seed, same text; the options apply.

    "Same" as ``ask --seed`` promises it: from the same cache state (here a fresh engine each
    time). Within one engine a repeated prompt reuses the cache and evaluates only its last
    token, which without flash attention (the CPU default) rounds differently from evaluating
    it in the prompt's batch, so a high-temperature draw may differ.
    """
    def sample(engine: ProcessEngine, seed: int) -> str:
        request = ask("Write a short poem about rain.", max_tokens=24, temperature=1.5,
                      top_k=100, top_p=0.95, min_p=0.01, repeat_penalty=1.1, seed=seed)
        return "".join(engine.generate(request))

    def fresh_sample(seed: int) -> str:
        engine = ProcessEngine()
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=4096, n_threads=2))
        try:
            return sample(engine, seed)
        finally:
            engine.close()

    first = fresh_sample(7)
    assert fresh_sample(7) == first
    assert any(fresh_sample(seed) != first for seed in (8, 9))


def test_abandoned_stream_leaves_engine_consistent(smol_engine: ProcessEngine) -> None:
    """A caller that stops reading mid-reply cancels it; the next request works normally."""
    stream = smol_engine.generate(ask("Count from 1 to 100.", max_tokens=200))
    next(stream)
    stream.close()
    assert smol_engine.last_stats.finish_reason == "cancelled"
    assert smol_engine.last_stats.completion_tokens < 200
    assert "".join(smol_engine.generate(ask("Say only the word yes.", max_tokens=64))) == "Yes."


def test_a_new_request_ends_an_unread_reply(smol_engine: ProcessEngine) -> None:
    """Requests made while a reply is still unread end that reply instead of mixing streams."""
    first = smol_engine.generate(ask("Count from 1 to 100.", max_tokens=200))
    next(first)
    preview = smol_engine.preview(ask("Say only the word yes."))
    assert len(preview.token_ids) > 5
    second = smol_engine.generate(ask("Say only the word yes.", max_tokens=64))
    assert "".join(second) == "Yes."
    assert list(first) == []  # the superseded reply just ends
    assert "".join(smol_engine.generate(ask("Say only the word yes.", max_tokens=64))) == "Yes."


def test_cancel_before_the_first_piece_is_not_lost(smol_engine: ProcessEngine) -> None:
    pending = smol_engine.generate(ask("Count from 1 to 100.", max_tokens=200))
    smol_engine.cancel()  # e.g. Escape pressed before the reply thread asks for a piece
    assert list(pending) == []
    assert smol_engine.last_stats.finish_reason == "cancelled"
    assert smol_engine.last_stats.completion_tokens == 0
    smol_engine.cancel()  # no reply requested yet: the next one is not affected
    list(smol_engine.generate(ask("Say hi.", max_tokens=4)))
    assert smol_engine.last_stats.finish_reason in ("stop", "length")


def test_paused_reply_does_not_block_other_threads(smol_engine: ProcessEngine) -> None:
    paused = smol_engine.generate(ask("Count from 1 to 100.", max_tokens=200))
    assert next(paused)
    previews: list[tuple[int, ...]] = []
    other = threading.Thread(
        target=lambda: previews.append(smol_engine.preview(ask("Hi")).token_ids), daemon=True
    )
    other.start()
    other.join(20)
    assert not other.is_alive(), "preview waited for a paused reply"
    assert previews and previews[0]
    assert list(paused) == []  # that request ended the paused reply
    assert smol_engine.last_stats.finish_reason == "cancelled"
    list(smol_engine.generate(ask("Say hi.", max_tokens=4)))
    assert smol_engine.last_stats.finish_reason in ("stop", "length")
