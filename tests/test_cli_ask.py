"""``ask`` with the scripted engine (in process) and the kill -9 guarantee (real process)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_cli import scripted

from starling_tui.cli.main import main
from starling_tui.engine.fake import FakeEngine
from starling_tui.history import HistoryStore
from starling_tui.types import ChatRequest

Fake = Callable[..., None]
Capture = pytest.CaptureFixture[str]
SPEC: dict[str, object] = {}  # the scripted engine of ``ask()`` calls without ``engine``


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the scripted engine's behaviour for ``main()`` calls in this test."""

    def configure(**spec: object) -> None:
        monkeypatch.setattr(f"{__name__}.SPEC", dict(spec))

    configure()
    return configure


def ask(capsys: Capture, *args: str, engine: FakeEngine | None = None) -> tuple[int, str, str]:
    """``main(["ask", ...])`` with ``engine`` (or one scripted by ``fake``) injected."""
    make = scripted(SPEC) if engine is None else (lambda _settings: engine)
    status = main(["ask", *args], engine_factory=make)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def conv_id(err: str) -> str:
    return next(ln for ln in err.splitlines() if ln.startswith("conversation: ")).split(": ")[1]


def test_new_conversation_is_streamed_and_saved(
    fake: Fake, capsys: Capture, smollm2_gguf: Path
) -> None:
    fake(replies=["Paris is the capital."])
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "Capital of France?")
    assert status == 0 and out == "Paris is the capital.\n"
    cid = conv_id(err)
    with HistoryStore() as store:
        conv = store.get_conversation(cid)
        path = store.active_path(cid)
    assert conv.title == "Capital of France?" and conv.model == smollm2_gguf.stem
    assert conv.sampling == {} and conv.mode == "auto"  # nothing was set for it
    assert [(m.role, m.content, m.finish_reason) for m in path] == [
        ("user", "Capital of France?", None),
        ("assistant", "Paris is the capital.", "stop"),
    ]
    assert path[1].completion_tokens == 4 and path[1].prompt_tokens


def test_continue_and_conversation_send_the_whole_history(
    fake: Fake, capsys: Capture, smollm2_gguf: Path
) -> None:
    model = str(smollm2_gguf)
    status, _, err = ask(capsys, "--model", model, "--system", "Be brief.", "first")
    cid = conv_id(err)
    status, out, err = ask(capsys, "--model", model, "--continue", "second")
    assert status == 0 and conv_id(err) == cid and out == "You said: second\n"
    status, out, err = ask(capsys, "--model", model, "--conversation", cid[:4], "--code", "third")
    assert conv_id(err) == cid
    with HistoryStore() as store:
        conv = store.get_conversation(cid)
        contents = [m.content for m in store.active_path(cid)]
    assert conv.system_prompt == "Be brief." and conv.mode == "code"
    assert contents == [
        "first",
        "You said: first",
        "second",
        "You said: second",
        "third",
        "You said: third",
    ]


def test_engine_receives_system_prompt_and_mode(
    capsys: Capture, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine(["ok"])
    ask(
        capsys,
        "--model",
        str(smollm2_gguf),
        "--system",
        "S",
        "--code",
        "--temperature",
        "0.5",
        "--max-tokens",
        "9",
        "q",
        engine=engine,
    )
    request = engine.requests[0]
    assert [(m.role, m.content) for m in request.messages] == [("system", "S"), ("user", "q")]
    assert request.mode == "code" and request.conversation_id
    assert request.sampling.temperature == 0.5 and request.sampling.max_tokens == 9


def test_prompt_from_stdin_and_stats(
    fake: Fake, capsys: Capture, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from a pipe\n"))
    fake(replies=["one two three four"])
    status, out, err = ask(
        capsys, "--model", str(smollm2_gguf), "--stats", "--max-tokens", "2", "-"
    )
    assert status == 0 and out == "one two\n"
    stats = json.loads(err.splitlines()[-1])
    assert stats["finish_reason"] == "length" and stats["completion_tokens"] == 2
    assert {"prompt_tokens", "evaluated_tokens", "ttft_s", "tokens_per_s"} <= set(stats)
    with HistoryStore() as store:
        path = store.active_path(conv_id(err))
    assert [m.content for m in path] == ["from a pipe", "one two"]
    assert path[1].finish_reason == "length"


def test_engine_failure_is_saved_and_reported(
    fake: Fake, capsys: Capture, smollm2_gguf: Path
) -> None:
    fake(replies=["this reply will crash"], fail_on="crash")
    status, _out, err = ask(capsys, "--model", str(smollm2_gguf), "hello")
    assert status == 1 and "starling-tui: error: the engine process died" in err
    with HistoryStore() as store:
        path = store.active_path(conv_id(err))
    assert [(m.role, m.finish_reason) for m in path] == [("user", None), ("assistant", "error")]
    assert "died" in path[1].stats["error"]


def test_empty_prompt_and_unknown_conversation_write_nothing(
    fake: Fake, capsys: Capture, smollm2_gguf: Path
) -> None:
    status, _, err = ask(capsys, "--model", str(smollm2_gguf), "  ")
    assert status == 1 and "the prompt is empty" in err
    status, _, err = ask(capsys, "--model", str(smollm2_gguf), "--conversation", "feedf00d", "x")
    assert status == 1 and "no conversation 'feedf00d'" in err
    with HistoryStore() as store:
        assert store.list_conversations() == []


class TrimmingEngine(FakeEngine):
    """A scripted engine whose context holds only the newest ``keep`` messages."""

    def __init__(self, keep: int) -> None:
        super().__init__(n_ctx=4096)
        self.keep = keep

    def generate(self, request: ChatRequest) -> Iterator[str]:
        dropped = max(0, len(request.messages) - self.keep)
        yield from super().generate(request)
        self.last_stats.dropped_messages = dropped


def test_model_line_on_stderr_names_quant_backend_and_gpu_note(
    fake: Fake, capsys: Capture, smollm2_gguf: Path
) -> None:
    fake(replies=["Hi."])
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "hello")
    assert status == 0 and out == "Hi.\n"  # stdout: the reply only
    lines = err.splitlines()
    model_lines = [ln for ln in lines if ln.startswith("model: ")]
    assert model_lines == [f"model: {smollm2_gguf.stem} (Q4_K_M) on CPU, 0/32 layers on the GPU"
                           " — fake engine"]
    assert lines.index(model_lines[0]) < lines.index(f"conversation: {conv_id(err)}")


def test_context_overflow_is_noted_on_stderr(
    capsys: Capture, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = TrimmingEngine(keep=2)
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "one", engine=engine)
    assert status == 0 and "note:" not in err
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "--continue", "two",
                           engine=engine)
    assert status == 0 and out == "You said: two\n"
    assert "note: 1 oldest message left out to fit the 4096-token context" in err.splitlines()
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "--continue", "three",
                           engine=engine)
    assert "note: 3 oldest messages left out to fit the 4096-token context" in err.splitlines()


def test_non_utf8_prompt_is_one_line_and_saves_nothing(
    fake: Fake, capsys: Capture, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # argv and stdin bytes that are not UTF-8 arrive as surrogate escapes ("\udcff").
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "bad\udcff")
    assert (status, out) == (1, "")
    assert err == (
        "starling-tui: error: the prompt is not valid UTF-8 text (byte 0xff at character 3)\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("bad\udcff"))
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "-")
    assert (status, out) == (1, "") and "prompt is not valid UTF-8 text" in err
    status, out, err = ask(capsys, "--model", str(smollm2_gguf), "--system", "\udce9", "fine")
    assert (status, out) == (1, "") and "the system prompt is not valid UTF-8 text" in err
    with HistoryStore() as store:
        assert store.list_conversations() == []


def test_model_line_of_a_remote_engine_names_the_server_not_gpu_layers() -> None:
    from starling_tui.cli.ask_cmd import model_line
    from starling_tui.engine.base import ModelInfo

    info = ModelInfo(
        path="http://127.0.0.1:8080/v1", name="smollm2", quant="remote", n_ctx_train=8192,
        n_ctx=2048, n_layers=30, n_gpu_layers=0, backend="llama-server at 127.0.0.1:8080",
        template="chat_template", gpu_note="remote server, prompt sent as token ids",
        remote=True,
    )
    assert model_line(info) == (
        "model: smollm2 (remote) on llama-server at 127.0.0.1:8080 — remote server, "
        "prompt sent as token ids"
    )
