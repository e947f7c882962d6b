"""Out of memory is a clear error with a way on, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.errors import EngineError


def test_context_too_large_for_memory_says_how_to_fit_then_a_smaller_one_loads(
    starling_q4km_gguf: Path,
) -> None:
    engine = ProcessEngine()
    try:
        # ~1 KiB of KV cache per token for the tiny model: 2^31 tokens (2 TiB) cannot fit. The
        # model's header says so before anything is allocated; Self-Extend puts that context
        # within the model's reach, so memory is what refuses it.
        with pytest.raises(EngineError) as info:
            engine.load(EngineOptions(str(starling_q4km_gguf), n_ctx=2**31,
                                      self_extend=2**20, self_extend_window=2**20))
        message = str(info.value)
        assert "\n" not in message
        assert "KV cache" in message and "--ctx" in message
        # Beyond the training context without Self-Extend: refused with the limit to use.
        with pytest.raises(EngineError, match="use --ctx 4096 or less"):
            engine.load(EngineOptions(str(starling_q4km_gguf), n_ctx=2**31))
        loaded = engine.load(EngineOptions(str(starling_q4km_gguf), n_ctx=512))
        assert loaded.n_ctx == 512
    finally:
        engine.close()
