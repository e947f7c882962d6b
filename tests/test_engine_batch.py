"""A context smaller than the requested batch: llama.cpp lowers the batch, the engine follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.engine.base import (
    ChatMessage,
    ChatRequest,
    EngineError,
    EngineOptions,
    SamplingOptions,
)
from starling_tui.engine.process import ProcessEngine

pytestmark = pytest.mark.slow

LONG = " ".join(f"word{n}" for n in range(60))  # well over 64 tokens


def small_context(path: Path) -> EngineOptions:
    # llama.cpp makes this a 256-token context with a 64-token batch.
    return EngineOptions(model_path=str(path), n_ctx=64, n_batch=512, n_threads=2)


def test_prompt_longer_than_the_real_batch(smollm2_gguf: Path) -> None:
    engine = ProcessEngine()
    try:
        engine.load(small_context(smollm2_gguf))
        request = ChatRequest((ChatMessage("user", LONG),), sampling=SamplingOptions(max_tokens=4))
        assert len(engine.preview(request).token_ids) > 64
        list(engine.generate(request))
        stats = engine.last_stats
        assert stats.finish_reason in ("stop", "length"), stats
        assert stats.evaluated_tokens == stats.prompt_tokens > 64
        # Too long for the whole context: the overflow rule answers, not a crash.
        huge = ChatRequest((ChatMessage("user", LONG * 6),), sampling=SamplingOptions(max_tokens=4))
        with pytest.raises(EngineError, match=r"needs \d+ tokens but only \d+ fit") as caught:
            list(engine.generate(huge))
        assert "crashed" not in str(caught.value)
        list(engine.generate(request))
        assert engine.last_stats.finish_reason in ("stop", "length")
    finally:
        engine.close()
