"""A context smaller than the requested batch: llama.cpp lowers the batch, the engine follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

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


CRASH_SCRIPT = """
import sys
from starling_tui.engine.base import EngineOptions
from starling_tui.errors import EngineCrashed
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import FaultPlan

engine = ProcessEngine(faults=FaultPlan(uncapped_batch=True))
engine.load(EngineOptions(model_path=sys.argv[1], n_ctx=64, n_batch=512, n_threads=2))
try:
    limit = SamplingOptions(max_tokens=4)
    request = ChatRequest((ChatMessage("user", sys.argv[2]),), sampling=limit)
    list(engine.generate(request))
except EngineCrashed as exc:
    print(exc)
engine.close()
"""


def test_llama_cpp_abort_is_one_line_and_stays_off_stderr(
    smollm2_gguf: Path, tmp_path: Path
) -> None:
    """A real GGML_ASSERT (the old batch defect, brought back by a test hook)."""
    import subprocess
    import sys

    from starling_tui.paths import app_paths

    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(smollm2_gguf), LONG],
        capture_output=True, text=True, timeout=120, check=True,
    )
    logs = list((app_paths().cache_dir / "engine-logs").glob("engine-*.log"))
    assert len(logs) == 1  # the crashed process's own log
    log = logs[0]
    assert done.stdout.strip() == (
        "the engine process crashed (SIGABRT) while generating a reply: "
        f"GGML_ASSERT(n_tokens_all <= cparams.n_batch) failed — see {log}; "
        "load the model again to continue"
    )
    assert done.stderr == ""
    assert "GGML_ASSERT" in log.read_text()
