"""The llama.cpp worker-process engine on SmolLM2 (real text): streaming, KV reuse, cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling_tui.engine.base import (
    ChatMessage,
    ChatRequest,
    EngineError,
    EngineOptions,
    SamplingOptions,
)
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import FaultPlan

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
    from starling_tui.engine.worker.llama_backend import gpu_offload_supported

    info = smol_engine.info
    assert info is not None
    assert info.path == str(smollm2_gguf) and info.quant == "Q4_1"
    assert info.n_ctx == 4096 and info.n_ctx_train == 8192 and info.n_layers == 30
    assert info.template == "chat_template"
    if gpu_offload_supported():
        assert info.n_gpu_layers == 30 and "offloaded" in info.gpu_note
    else:
        assert info.n_gpu_layers == 0 and "no GPU backend" in info.gpu_note


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


def test_cancel_stops_generation_within_a_token(smollm2_gguf: Path) -> None:
    # Tokens 50 ms apart, so this caller always keeps up with the stream however busy the
    # machine is: then "pieces received when cancelling" is what the worker had produced.
    engine = ProcessEngine(faults=FaultPlan(token_delay=0.05))
    try:
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024, n_threads=2))
        request = ask("Count from 1 to 300, separated by commas.", max_tokens=400)
        received = 0
        at_cancel = 0
        for _piece in engine.generate(request):
            received += 1
            if received == 5:
                engine.cancel()
                at_cancel = received
        stats = engine.last_stats
        assert stats.finish_reason == "cancelled"
        # The worker checks the flag before every token: at most the token in flight follows.
        assert stats.completion_tokens <= at_cancel + 1
        assert received <= at_cancel + 1
        # The engine is still usable and the KV cache consistent.
        assert "".join(engine.generate(ask("Say only the word yes.", max_tokens=64))) == "Yes."
    finally:
        engine.close()


def test_cancel_interrupts_a_long_prompt(smollm2_gguf) -> None:
    """The prompt is one llama_decode call: only llama.cpp's abort callback can stop it."""
    text = "apple banana cherry " * 400
    engine = ProcessEngine()
    try:
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=2048, n_batch=2048,
                                  n_threads=2))
        request = ask(f"Summarize: {text}", max_tokens=1)
        n_prompt = len(engine.preview(request).token_ids)
        start = time.perf_counter()
        list(engine.generate(request))
        full = time.perf_counter() - start  # evaluating the whole prompt, uninterrupted
        list(engine.generate(ask("Something else entirely.", max_tokens=1)))  # evict it
        timer = threading.Timer(full / 3, engine.cancel)
        start = time.perf_counter()
        timer.start()
        pieces = list(engine.generate(request))
        interrupted = time.perf_counter() - start
        timer.join()
        assert pieces == [] and engine.last_stats.finish_reason == "cancelled"
        assert engine.counters()["kv_tokens"] < n_prompt
        assert interrupted < full
        # The KV cache is consistent afterwards: the same prompt now runs to completion.
        list(engine.generate(request))
        assert engine.last_stats.finish_reason in ("stop", "length")
        assert engine.counters()["n_p_eval"] == engine.last_stats.evaluated_tokens
    finally:
        engine.close()


def test_context_overflow_drops_oldest_turns(smollm2_gguf) -> None:
    engine = ProcessEngine()
    try:
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=256, n_threads=2))
        history: tuple[ChatMessage, ...] = (ChatMessage("system", "Be brief."),)
        for i in range(12):
            history += (ChatMessage("user", f"Tell me fact number {i} about the sea."),
                        ChatMessage("assistant", "The sea is large and deep. " * 3))
        request = ask("One more?", history, max_tokens=32)
        preview = engine.preview(request)
        assert preview.dropped_messages > 0 and len(preview.token_ids) <= 256 - 32
        assert "Be brief." in preview.rendered and "One more?" in preview.rendered
        assert "fact number 0 " not in preview.rendered
        reply = "".join(engine.generate(request))
        assert engine.last_stats.dropped_messages == preview.dropped_messages
        assert reply or engine.last_stats.finish_reason == "stop"
        with pytest.raises(EngineError, match="last message needs"):
            list(engine.generate(ask("word " * 400, max_tokens=32)))
        assert engine.info is not None  # still loaded and usable
        list(engine.generate(ask("hi", max_tokens=2)))
    finally:
        engine.close()


def test_generate_without_model_is_an_error() -> None:
    with pytest.raises(EngineError, match="no model"):
        list(ProcessEngine().generate(ask("hi")))


def test_utf8_is_never_split(smollm2_gguf) -> None:
    """Multi-byte characters spread over several tokens come out whole."""
    from starling_tui.engine.worker.llama_backend import load_model, model_params
    from starling_tui.engine.worker.sampling import PieceDecoder

    model = load_model(smollm2_gguf, model_params(vocab_only=True))
    text = "日本語 🦙 naïve ❤️"
    ids = model.tokenize(text.encode(), False, False)
    decoder = PieceDecoder(model.vocab)
    pieces = [decoder.text(t) for t in ids] + [decoder.flush()]
    assert len(ids) > len(text.split())  # the emoji really is split across tokens
    assert "\ufffd" not in "".join(pieces)
    assert "".join(pieces) == text


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


def test_works_from_a_script_on_stdin(smollm2_gguf: Path) -> None:
    """Spawn re-imports the parent's main file; a ``python -`` script has none."""
    import subprocess
    import sys

    script = (
        "from starling_tui.engine.base import ChatMessage, ChatRequest, EngineOptions\n"
        "from starling_tui.engine.parent.process import ProcessEngine\n"
        f"options = EngineOptions(model_path={str(smollm2_gguf)!r})\n"
        "request = ChatRequest((ChatMessage('user', 'hi'),))\n"
        "print(len(ProcessEngine.preview_only(options, request).token_ids))\n"
    )
    result = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 5


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


def test_close_stops_a_paused_reply(smollm2_gguf: Path) -> None:
    engine = ProcessEngine(faults=FaultPlan(token_delay=0.2))  # 400 slow tokens: 80 s
    try:
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024, n_threads=2))
        paused = engine.generate(ask("Count from 1 to 500.", max_tokens=400))
        assert next(paused)
        started = time.monotonic()
        engine.close()
        assert time.monotonic() - started < 10
        assert engine.worker_pid is None and engine.info is None
    finally:
        engine.close()
