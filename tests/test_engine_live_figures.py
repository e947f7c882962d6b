"""A reply's figures while it goes: the prompt read so far and the tokens generated so far
reach ``ProcessEngine.last_stats`` before the reply ends (the app's progress and meter)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo, PromptPreview
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import FaultPlan
from starling_tui.types import ChatMessage, ChatRequest

pytestmark = pytest.mark.slow

PROMPT = 100


class SlowReadingSession:
    """Reads a 100-token prompt in five timed batches, then writes ten timed tokens, polling
    the cancel check as the real session does (between batches, before each token)."""

    def __init__(self, options: EngineOptions, *, vocab_only: bool, faults: FaultPlan) -> None:
        self.options = options

    def info(self) -> ModelInfo:
        return ModelInfo(path="p", name="slow", quant="Q", n_ctx_train=512, n_ctx=512,
                         n_layers=1, n_gpu_layers=0, backend="CPU", template="openchat")

    def generate(self, request: ChatRequest, emit: Callable[[str], None],
                 cancelled: Callable[[], bool],
                 live: Callable[[GenerationStats], None] | None = None) -> GenerationStats:
        stats = GenerationStats(prompt_tokens=PROMPT)
        if live is not None:
            live(stats)
        for batch in range(1, 6):
            time.sleep(0.15)
            stats.evaluated_tokens = 20 * batch
            cancelled()
        for n in range(1, 11):
            cancelled()
            time.sleep(0.1)
            stats.completion_tokens = n
            emit(f" t{n}")
        return stats

    def preview(self, request: ChatRequest) -> PromptPreview:
        return PromptPreview((1,), "")

    def after_reply(self, request: ChatRequest, stats: GenerationStats) -> None:
        pass

    def prefill_next_turn(self, interrupted: Any) -> int:
        return 0

    def close(self) -> None:
        pass


def watch_reply(engine: ProcessEngine, request: ChatRequest
                ) -> tuple[list[tuple[int, int, bool]], str]:
    """Generate in a thread; sample ``last_stats`` meanwhile as (prompt read, completion
    tokens, any text yet). Returns the samples and the reply."""
    pieces: list[str] = []
    done = threading.Event()

    def run() -> None:
        pieces.extend(engine.generate(request))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    samples: list[tuple[int, int, bool]] = []
    while not done.wait(0.02):
        s = engine.last_stats
        read = s.cached_tokens + s.restored_tokens + s.evaluated_tokens
        samples.append((read, s.completion_tokens, bool(pieces)))
    return samples, "".join(pieces)


def test_the_figures_reach_the_parent_while_the_reply_goes(smollm2_gguf: Path) -> None:
    engine = ProcessEngine(session_factory=SlowReadingSession)
    try:
        engine.load(EngineOptions(model_path=str(smollm2_gguf)))
        samples, reply = watch_reply(engine, ChatRequest((ChatMessage("user", "hi"),)))
        assert reply.startswith(" t1")
        reading = [read for read, _, text in samples if not text and 0 < read < PROMPT]
        assert reading, "no prompt progress before the first piece"
        writing = [done for _, done, _ in samples if 0 < done < 10]
        assert writing, "no token count before the reply ended"
        assert engine.last_stats.completion_tokens == 10
    finally:
        engine.close()


def test_the_real_session_counts_the_prompt_and_the_tokens_as_it_goes(
    smollm2_gguf: Path,
) -> None:
    engine = ProcessEngine(faults=FaultPlan(token_delay=0.05))
    try:
        # small batches make a long prompt's reading take several polls
        engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=4096, n_batch=16))
        text = " ".join(f"item {i} is a small fruit;" for i in range(400))
        request = ChatRequest((ChatMessage("user", f"{text}\nName one."),))
        request = ChatRequest(request.messages, sampling=request.sampling.__class__(
            max_tokens=24))
        samples, _ = watch_reply(engine, request)
        final = engine.last_stats
        assert final.prompt_tokens > 2000
        reading = [read for read, _, text in samples if not text and 0 < read < final.prompt_tokens]
        assert reading, "no prompt progress before the first piece"
        assert any(0 < done < final.completion_tokens for _, done, _ in samples)
        assert final.evaluated_tokens + final.cached_tokens + final.restored_tokens == (
            final.prompt_tokens)
    finally:
        engine.close()
