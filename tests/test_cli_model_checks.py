"""Settings that cannot suit the machine or the model are refused in one line, before anything
is saved; coding mode only on an OpenChat model; a context rounded up says so."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from starling_tui.cli.main import main
from starling_tui.config.machine import logical_cores
from starling_tui.engine.base import EngineOptions, ModelInfo
from starling_tui.engine.fake import FakeEngine
from starling_tui.errors import ConfigError, EngineError, UserError
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


class NotOpenChat(FakeEngine):
    """The scripted engine, with a model in its own chat template (like SmolLM2's ChatML)."""

    def load(self, options: EngineOptions) -> ModelInfo:
        """Pretend to load a ChatML model."""
        self._info = dataclasses.replace(super().load(options), template="chat_template")
        return self._info


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


# -- coding mode needs an OpenChat model ------------------------------------------------------


def test_ask_code_on_another_model_is_refused_before_anything_is_saved(
    capsys: Capture, smollm2_gguf: Path
) -> None:
    status, err = run(capsys, "ask", "--model", str(smollm2_gguf), "--code", "Sort a list",
                      engine=NotOpenChat())
    assert status == 1
    assert err.splitlines()[-1] == ("starling-tui: error: coding mode needs an OpenChat model "
                                    "(Starling); this model uses another prompt format")
    assert conversation_count() == 0


def test_continuing_a_coding_conversation_on_another_model_piles_nothing_up(
    capsys: Capture, smollm2_gguf: Path
) -> None:
    status, _err = run(capsys, "ask", "--model", str(smollm2_gguf), "--code", "Sort a list",
                       engine=FakeEngine(["sorted(xs)"]))
    assert status == 0
    for _ in range(2):
        status, err = run(capsys, "ask", "--model", str(smollm2_gguf), "--continue", "Faster?",
                          engine=NotOpenChat())
        assert status == 1 and "coding mode needs an OpenChat model" in err
    with HistoryStore() as store:
        (conversation,) = store.list_conversations()
        path = store.active_path(conversation.id)
    assert conversation.mode == "code"
    assert [(m.role, m.finish_reason) for m in path] == [("user", None), ("assistant", "stop")]


def test_the_chat_core_refuses_code_mode_for_the_app_too(smollm2_gguf: Path) -> None:
    from starling_tui.chat import ChatCore
    from starling_tui.config import Settings

    engine = NotOpenChat()
    engine.load(EngineOptions(model_path=str(smollm2_gguf)))
    assert engine.info is not None and not engine.info.is_openchat
    with HistoryStore() as store:
        core = ChatCore(store, engine, Settings())
        with pytest.raises(UserError, match="coding mode needs an OpenChat model"):
            core.check_mode("code")
        core.check_mode("auto")
        with pytest.raises(UserError):
            core.start("Sort a list", mode="code")
        assert store.list_conversations() == []
    openchat = FakeEngine()
    assert openchat.load(EngineOptions(model_path="starling.gguf")).is_openchat


def test_real_models_say_whether_they_are_openchat(
    smollm2_gguf: Path, starling_f16_gguf: Path
) -> None:
    from starling_tui.engine.parent.process import ProcessEngine

    engine = ProcessEngine()
    try:
        assert not engine.load_vocab(EngineOptions(model_path=str(smollm2_gguf))).is_openchat
        assert engine.load_vocab(EngineOptions(model_path=str(starling_f16_gguf))).is_openchat
    finally:
        engine.close()


# -- a model without a chat template: Gemma 3 270M, a base model ------------------------------


@pytest.mark.slow
def test_tokens_and_ask_say_which_format_a_model_without_template_gets(
    capsys: Capture, gemma3_gguf: Path
) -> None:
    note = ("no chat template in the model: gemma format, the usual one for its architecture "
            "(gemma3); set chat_format to change it")
    status = main(["tokens", "--model", str(gemma3_gguf), "Hello there"])
    out, err = capsys.readouterr()
    assert status == 0
    rendered = out.split("\n", 1)[1]
    assert rendered == ("<bos><start_of_turn>user\nHello there<end_of_turn>\n"
                        "<start_of_turn>model\n\n")
    assert f"({note})" in err.splitlines()
    status = main(["tokens", "--model", str(gemma3_gguf), "--chat-format", "chatml", "Hi"])
    out, err = capsys.readouterr()
    assert status == 0 and out.splitlines()[1] == "<bos><|im_start|>user"
    assert "chatml format, as chat_format says" in err
    status, err = run(capsys, "ask", "--model", str(gemma3_gguf), "--max-tokens", "8",
                      "What is the capital of France?")
    assert status == 0, err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("model: ")]
    assert line.endswith(f"; {note}")
    status, err = run(capsys, "ask", "--model", str(gemma3_gguf), "--code", "Sort a list")
    assert status == 1 and "coding mode needs an OpenChat model" in err


def test_model_info_of_a_model_without_template(gemma3_gguf: Path) -> None:
    from starling_tui.engine.parent.process import ProcessEngine

    engine = ProcessEngine()
    try:
        info = engine.load_vocab(EngineOptions(model_path=str(gemma3_gguf)))
        assert (info.template, info.is_openchat) == ("gemma", False)
        assert info.template_note.startswith("no chat template in the model: gemma format")
        fallback = engine.load_vocab(EngineOptions(model_path=str(gemma3_gguf),
                                                   chat_format="openchat"))
        assert fallback.template == "openchat" and not fallback.is_openchat
    finally:
        engine.close()


def test_kv_size_from_the_header_of_a_grouped_query_model(gemma3_gguf: Path) -> None:
    gemma = inspect_model(gemma3_gguf)  # 18 layers, one KV head of 256 for keys and values
    assert gemma.kv_per_token == 18 * (256 + 256)
