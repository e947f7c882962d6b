"""The llama.cpp engine in its child process: cancelling, overflow, UTF-8, scripts, closing
(fresh engines per test; the shared-engine tests are in test_engine_process.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from test_engine_process import ask

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import FaultPlan
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage

pytestmark = pytest.mark.slow



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
    from starling_tui.engine.worker.sampling import PieceDecoder
    from starling_tui.llama.backend import load_model, model_params

    model = load_model(smollm2_gguf, model_params(vocab_only=True))
    text = "日本語 🦙 naïve ❤️"
    ids = model.tokenize(text.encode(), False, False)
    decoder = PieceDecoder(model.vocab)
    pieces = [decoder.text(t) for t in ids] + [decoder.flush()]
    assert len(ids) > len(text.split())  # the emoji really is split across tokens
    assert "\ufffd" not in "".join(pieces)
    assert "".join(pieces) == text


def test_works_from_a_script_on_stdin(smollm2_gguf: Path) -> None:
    """Spawn re-imports the parent's main file; a ``python -`` script has none."""
    import subprocess
    import sys

    script = (
        "from starling_tui.engine.base import EngineOptions\n"
        "from starling_tui.types import ChatMessage, ChatRequest\n"
        "from starling_tui.engine.parent.process import ProcessEngine\n"
        f"options = EngineOptions(model_path={str(smollm2_gguf)!r})\n"
        "request = ChatRequest((ChatMessage('user', 'hi'),))\n"
        "print(len(ProcessEngine.preview_only(options, request).token_ids))\n"
    )
    result = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 5


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
