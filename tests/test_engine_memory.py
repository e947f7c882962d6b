"""Out of memory is a clear error with a way on, never a crash (issue #6)."""

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
        # ~1 KiB of KV cache per token for the tiny model: 2^31 tokens (2 TiB) cannot fit.
        with pytest.raises(EngineError) as info:
            engine.load(EngineOptions(str(starling_q4km_gguf), n_ctx=2**31))
        message = str(info.value)
        assert "\n" not in message
        assert "--ctx" in message and "--n-gpu-layers" in message
        loaded = engine.load(EngineOptions(str(starling_q4km_gguf), n_ctx=512))
        assert loaded.n_ctx == 512
    finally:
        engine.close()
