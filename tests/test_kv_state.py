"""Saved KV states (issue 7): file format, budget, and resume across engine processes."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import FaultPlan
from starling_tui.errors import EngineCrashed
from starling_tui.llama.kv_state import (
    StateError,
    clear_states,
    enforce_budget,
    list_states,
    read_state,
    write_state,
)
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

# -- file format -------------------------------------------------------------------------


def test_round_trip_and_header(tmp_path: Path) -> None:
    path = tmp_path / "a.kv"
    data = bytes(range(256)) * 10
    size = write_state(path, {"conversation_id": "c", "fingerprint": {"n_ctx": 8}}, [1, 2, 3], data)
    meta, tokens, back = read_state(path)
    assert tokens == [1, 2, 3] and bytes(back) == data and meta["fingerprint"] == {"n_ctx": 8}
    assert size == path.stat().st_size
    (header,) = list(list_states(tmp_path))
    assert header.n_tokens == 3 and header.meta["conversation_id"] == "c"
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "empty"])
def test_damaged_files_are_rejected(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "a.kv"
    write_state(path, {"conversation_id": "c"}, [5, 6], b"x" * 4096)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-100] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "magic":
        raw[:4] = b"GGUF"
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.raises(StateError):
        read_state(path)


def test_budget_evicts_least_recently_used(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        p = tmp_path / f"s{i}.kv"
        write_state(p, {"conversation_id": str(i)}, [1], b"z" * 100_000)
        os.utime(p, (time.time() - 100 + i, time.time() - 100 + i))
        paths.append(p)
    os.utime(paths[0])  # s0 was just used: s1 is now the least recently used
    deleted = enforce_budget(tmp_path, 250_000)
    assert deleted == [paths[1]]
    assert paths[0].exists() and paths[2].exists()
    assert clear_states(tmp_path) == 2 and not list(tmp_path.iterdir())


# -- resume across processes (SmolLM2) -------------------------------------------------

QUESTION = "What is the capital of France?"
FOLLOW_UP = "And what about Italy?"


def options(path: Path, state_dir: Path, **changes) -> EngineOptions:
    # Replies are compared across processes token for token: one token per decode step (a
    # quantized model's batch arithmetic differs slightly, and drafts vary from run to run).
    values = {"model_path": str(path), "n_ctx": 1024, "n_threads": 2,
              "state_cache_dir": str(state_dir), "speculative": "off"}
    values.update(changes)
    return EngineOptions(**values)


def request(messages, cid: str | None = "conv-1") -> ChatRequest:
    return ChatRequest(tuple(messages), conversation_id=cid,
                       sampling=SamplingOptions(max_tokens=16))


def run_turns(opts: EngineOptions, turns: list[str], cid: str | None = "conv-1"):
    """Ask ``turns`` in one engine process; return (messages, replies, stats, counters)."""
    engine = ProcessEngine()
    try:
        engine.load(opts)
        messages: list[ChatMessage] = []
        replies, stats = [], []
        for text in turns:
            messages.append(ChatMessage("user", text))
            reply = "".join(engine.generate(request(messages, cid)))
            messages.append(ChatMessage("assistant", reply))
            replies.append(reply)
            stats.append(engine.last_stats)
        return messages, replies, stats, engine.counters()
    finally:
        engine.close()


def resume(opts: EngineOptions, history: list[ChatMessage], cid: str | None = "conv-1"):
    engine = ProcessEngine()
    try:
        engine.load(opts)
        reply = "".join(engine.generate(request([*history, ChatMessage("user", FOLLOW_UP)], cid)))
        return reply, engine.last_stats, engine.counters()
    finally:
        engine.close()


@pytest.fixture(scope="module")
def uninterrupted(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    """Both turns in one process, no saved states: the reference continuation."""
    opts = options(smollm2_gguf, tmp_path_factory.mktemp("none"), state_cache=False)
    messages, replies, _, _ = run_turns(opts, [QUESTION, FOLLOW_UP])
    return messages[:2], replies[1]


@pytest.fixture(scope="module")
def cold(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory, uninterrupted) -> str:
    """The follow-up evaluated from scratch in a fresh process (no saved state).

    It may differ from the uninterrupted continuation: evaluating the whole prompt in one
    batch rounds differently from evaluating it turn by turn (issue 7 allows exactly that).
    """
    opts = options(smollm2_gguf, tmp_path_factory.mktemp("cold"), state_cache=False)
    reply, stats, _ = resume(opts, uninterrupted[0])
    assert stats.cached_tokens == 0 and stats.restored_tokens == 0
    return reply


@pytest.mark.slow
def test_resume_evaluates_only_new_tokens_and_matches(
    smollm2_gguf: Path, tmp_path: Path, uninterrupted
) -> None:
    opts = options(smollm2_gguf, tmp_path)
    history, _, first, _ = run_turns(opts, [QUESTION])
    assert history == uninterrupted[0]
    (saved,) = list(list_states(tmp_path))
    assert saved.n_tokens >= first[0].prompt_tokens
    reply, stats, counters = resume(opts, history)
    assert reply == uninterrupted[1]
    assert stats.restored_tokens > first[0].prompt_tokens and stats.cached_tokens == 0
    assert stats.evaluated_tokens == stats.prompt_tokens - stats.restored_tokens
    assert counters["n_p_eval"] == stats.evaluated_tokens  # llama.cpp's own count


@pytest.mark.slow
def test_other_settings_or_conversation_never_restore(
    smollm2_gguf: Path, tmp_path: Path, cold: str
) -> None:
    history, _, _, _ = run_turns(options(smollm2_gguf, tmp_path), [QUESTION])
    for opts, cid in [(options(smollm2_gguf, tmp_path, n_ctx=2048), "conv-1"),
                      (options(smollm2_gguf, tmp_path, kv_cache_type="q8_0"), "conv-1"),
                      (options(smollm2_gguf, tmp_path), "conv-2"),
                      (options(smollm2_gguf, tmp_path), None)]:
        reply, stats, counters = resume(opts, history, cid)
        assert stats.restored_tokens == 0 and counters["n_p_eval"] == stats.prompt_tokens
        if opts.n_ctx == 1024 and opts.kv_cache_type is None:
            assert reply == cold


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["flip", "truncate", "swap"])
def test_bad_state_files_fall_back_cleanly(
    smollm2_gguf: Path, tmp_path: Path, cold: str, damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    opts = options(smollm2_gguf, tmp_path)
    history, _, _, _ = run_turns(opts, [QUESTION])
    (saved,) = list(list_states(tmp_path))
    raw = bytearray(saved.path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x55
        saved.path.write_bytes(bytes(raw))
    elif damage == "truncate":
        saved.path.write_bytes(bytes(raw[: len(raw) - 1000]))
    else:  # another conversation's state put in this one's place
        run_turns(opts, ["Tell me a joke."], cid="conv-2")
        other = next(h for h in list_states(tmp_path) if h.meta["conversation_id"] == "conv-2")
        os.replace(other.path, saved.path)
    with caplog.at_level(logging.WARNING, logger="starling_tui.engine"):
        reply, stats, _ = resume(opts, history)
    assert reply == cold and stats.restored_tokens == 0
    assert any("discarded saved state" in r.getMessage() for r in caplog.records)
    # The bad file is gone; the completed reply saved a good one in its place.
    (fresh,) = [h for h in list_states(tmp_path) if h.meta["conversation_id"] == "conv-1"]
    read_state(fresh.path)


@pytest.mark.slow
def test_kill_while_saving_leaves_no_half_state(
    smollm2_gguf: Path, tmp_path: Path, cold: str
) -> None:
    opts = options(smollm2_gguf, tmp_path)
    engine = ProcessEngine(faults=FaultPlan(crash_at="save", crash_how="kill"))
    try:
        engine.load(opts)
        messages = [ChatMessage("user", QUESTION)]
        reply = "".join(engine.generate(request(messages)))  # the reply itself arrives
        assert reply and engine.last_stats.finish_reason in ("stop", "length")
        # The state is written in the background after the reply: the worker dies there.
        with pytest.raises(EngineCrashed, match="SIGKILL"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                engine.counters()
                time.sleep(0.05)
    finally:
        engine.close()
    assert not list(list_states(tmp_path)) and list(tmp_path.glob("*.tmp"))
    history = [*messages, ChatMessage("assistant", reply)]
    resumed, stats, _ = resume(opts, history)
    assert stats.restored_tokens == 0 and resumed == cold


@pytest.mark.slow
def test_budget_evicts_the_oldest_conversation(smollm2_gguf: Path, tmp_path: Path) -> None:
    opts = options(smollm2_gguf, tmp_path, state_cache_budget_mb=2)  # ~1.5 MB per state
    run_turns(opts, [QUESTION], cid="old")
    run_turns(opts, [QUESTION], cid="new")
    assert [h.meta["conversation_id"] for h in list_states(tmp_path)] == ["new"]
