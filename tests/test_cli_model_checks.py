"""Settings that cannot suit the machine or the model are refused in one line, before anything
is saved; a context rounded up says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.cli.main import main
from starling_tui.config.machine import logical_cores
from starling_tui.engine.base import EngineOptions
from starling_tui.engine.fake import FakeEngine
from starling_tui.errors import ConfigError, EngineError
from starling_tui.history import HistoryStore
from starling_tui.models import inspect_model
from starling_tui.models.capacity import check_context, context_note, kv_cache_bytes

Capture = pytest.CaptureFixture[str]


def run(capsys: Capture, *argv: str, engine: FakeEngine | None = None) -> tuple[int, str]:
    """``main(argv)`` with ``engine`` injected (None: the real llama.cpp engine); (status,
    stderr)."""
    status = main(list(argv), engine_factory=None if engine is None else (lambda _s: engine))
    return status, capsys.readouterr().err


def conversation_count() -> int:
    with HistoryStore() as store:
        return len(store.list_conversations())


# -- threads: the settings table refuses more than the machine has --------------------------


def test_ask_refuses_more_threads_than_cores_before_anything_runs(
    capsys: Capture, monkeypatch: pytest.MonkeyPatch, smollm2_gguf: Path
) -> None:
    with pytest.raises(SystemExit) as flag:
        run(capsys, "ask", "--model", str(smollm2_gguf), "--threads", "4096", "Hi")
    assert flag.value.code == 2
    assert f"--threads: expected at most {logical_cores()}" in capsys.readouterr().err
    monkeypatch.setenv("STARLING_TUI_THREADS", "4096")
    status, err = run(capsys, "ask", "--model", str(smollm2_gguf), "Hi", engine=FakeEngine())
    assert status == 1 and err.count("\n") == 1
    assert err.startswith("starling-tui: error: STARLING_TUI_THREADS: threads: expected at most")
    assert conversation_count() == 0


# -- the context: the model and the memory ----------------------------------------------------


def test_a_context_beyond_the_training_context_is_refused_at_load(
    capsys: Capture, starling_f16_gguf: Path
) -> None:
    trained = inspect_model(starling_f16_gguf).context_length
    status, err = run(capsys, "ask", "--model", str(starling_f16_gguf), "--ctx",
                      str(trained * 4), "Hi")
    assert status == 1 and err.count("\n") == 1, err
    assert (f"a {trained * 4}-token context is beyond the {trained} tokens "
            f"{starling_f16_gguf.stem} was trained on") in err
    assert conversation_count() == 0


def test_a_context_whose_kv_cache_does_not_fit_memory_is_refused(starling_f16_gguf: Path) -> None:
    from starling_tui.engine.parent.gguf_check import check_context_fits

    model = inspect_model(starling_f16_gguf)
    needed = kv_cache_bytes(model, 4096)
    assert needed == model.kv_per_token * 2 * 4096 and needed > 0  # f16: two bytes a number
    check_context(model, 4096, available=needed)  # exactly enough
    with pytest.raises(ConfigError) as refused:
        check_context(model, 4096, available=needed // 3)
    fits = needed // 3 // (model.kv_per_token * 2) // 256 * 256
    assert str(refused.value) == (
        f"ctx: a 4096-token context needs {needed / 2**20:.0f} MiB for its KV cache (f16) but "
        f"only {needed // 3 / 2**20:.0f} MiB of memory is free: use --ctx {fits} or less (or "
        "--kv-cache-type q8_0, half the size)")
    check_context(model, 4096, cache_type="q4_0", available=needed // 3)  # a third of f16's
    options = EngineOptions(model_path=str(starling_f16_gguf), n_ctx=4096)
    with pytest.raises(EngineError, match="for its KV cache"):
        check_context_fits(starling_f16_gguf, options, lambda: 1 << 20)
    check_context_fits(starling_f16_gguf, options, lambda: None)  # unknown: not checked


def test_context_note_says_when_llama_cpp_rounded_the_context() -> None:
    assert context_note(None, 4096) == "" and context_note(512, 512) == ""
    assert context_note(10, 256) == ("the context is 256 tokens, not the 10 asked: llama.cpp "
                                     "rounds it up to a multiple of 256")


@pytest.mark.slow
def test_ask_says_that_ctx_10_became_256(capsys: Capture, starling_f16_gguf: Path) -> None:
    status, err = run(capsys, "ask", "--model", str(starling_f16_gguf), "--ctx", "10",
                      "--max-tokens", "2", "Hi")
    assert status == 0, err
    assert ("note: the context is 256 tokens, not the 10 asked: llama.cpp rounds it up to a "
            "multiple of 256") in err.splitlines()
