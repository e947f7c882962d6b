"""Crash isolation and bad model files: the parent always survives with one clear line."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.errors import EngineCrashed, EngineError
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow

HELLO = ChatRequest((ChatMessage("user", "Hello there, how are you?"),),
                    sampling=SamplingOptions(max_tokens=8))


def options(path: Path) -> EngineOptions:
    return EngineOptions(model_path=str(path), n_ctx=512, n_threads=2)


def assert_usable(engine: ProcessEngine, path: Path) -> None:
    """The same engine object loads again and generates."""
    engine.load(options(path))
    text = "".join(engine.generate(HELLO))
    stats = engine.last_stats
    assert text and stats.prompt_tokens > 0 and stats.completion_tokens >= 1
    assert stats.finish_reason in ("stop", "length")


@pytest.mark.parametrize(
    ("point", "how", "signame"),
    [("load", "segv", "SIGSEGV"), ("prompt", "abort", "SIGABRT"), ("token", "segv", "SIGSEGV"),
     ("token", "kill", "SIGKILL")],
)
def test_worker_crash_becomes_engine_crashed(
    smollm2_gguf: Path, point: Any, how: Any, signame: str
) -> None:
    engine = ProcessEngine(faults=FaultPlan(crash_at=point, crash_how=how))
    try:
        pieces: list[str] = []
        with pytest.raises(EngineCrashed, match=signame) as caught:
            engine.load(options(smollm2_gguf))
            pieces.extend(engine.generate(HELLO))
        message = str(caught.value)
        assert "\n" not in message and "load the model again" in message
        assert engine.info is None
        if point == "token":
            assert len(pieces) == 1 and engine.last_stats.finish_reason == "error"
        engine.faults = NO_FAULTS  # the next worker this engine starts is sound
        assert_usable(engine, smollm2_gguf)
    finally:
        engine.close()


def test_worker_killed_from_outside_mid_reply(smollm2_gguf: Path) -> None:
    """An OOM kill (SIGKILL from outside) mid-reply surfaces as EngineCrashed."""
    # Slow tokens: the short reply must still be running when the kill lands.
    engine = ProcessEngine(faults=FaultPlan(token_delay=0.2))
    try:
        engine.load(options(smollm2_gguf))
        engine.faults = NO_FAULTS
        pid = engine.worker_pid
        assert pid is not None
        long = ChatRequest((ChatMessage("user", "Count to 500."),),
                           sampling=SamplingOptions(max_tokens=400))
        with pytest.raises(EngineCrashed, match="SIGKILL"):
            for n, _ in enumerate(engine.generate(long)):
                if n == 2:
                    threading.Thread(target=os.kill, args=(pid, signal.SIGKILL)).start()
        assert_usable(engine, smollm2_gguf)
    finally:
        engine.close()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def bad_files(tmp: Path, smollm2_gguf: Path, tiny_checkpoint: Path) -> dict[str, Path]:
    good = smollm2_gguf.read_bytes()
    shard = next(tiny_checkpoint.glob("*.safetensors"))
    return {
        "missing": tmp / "absent.gguf",
        "random": _write(tmp / "random.gguf", os.urandom(64 * 1024)),
        "lfs": _write(tmp / "lfs.gguf", b"version https://git-lfs.github.com/spec/v1\n"
                      b"oid sha256:" + b"0" * 64 + b"\nsize 4368439584\n"),
        "safetensors": shard,
        "empty": _write(tmp / "empty.gguf", b""),
        "header-only": _write(tmp / "header.gguf", good[:16]),
        "truncated-metadata": _write(tmp / "meta.gguf", good[:200_000]),
        "truncated-tensors": _write(tmp / "tensors.gguf", good[: len(good) // 2]),
    }


EXPECTED = {
    "missing": "not found",
    "random": "not a GGUF",
    "lfs": "git-lfs pointer",
    "safetensors": "not a GGUF",
    "empty": "not a GGUF",
    "header-only": "truncated|damaged|could not load",
    "truncated-metadata": "meta.gguf is truncated or corrupt",
    "truncated-tensors": "tensors.gguf is truncated: .* header describes",
}


def test_each_bad_model_file_is_one_clear_line(
    tmp_path: Path, smollm2_gguf: Path, tiny_checkpoint: Path
) -> None:
    engine = ProcessEngine()
    try:
        for kind, path in bad_files(tmp_path, smollm2_gguf, tiny_checkpoint).items():
            with pytest.raises(EngineError, match=EXPECTED[kind]) as caught:
                engine.load(options(path))
            message = str(caught.value)
            assert ("\n" not in message and path.name in message) or kind == "missing", message
            assert engine.info is None
        assert_usable(engine, smollm2_gguf)
    finally:
        engine.close()
