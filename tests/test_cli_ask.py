"""``ask`` with the scripted engine (in process) and the kill -9 guarantee (real process)."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_cli import scripted
from test_cli_support import cli_command, cli_env

from starling_tui.cli.main import main
from starling_tui.engine.base import ChatMessage, ChatRequest
from starling_tui.engine.fake import FakeEngine
from starling_tui.history import HistoryStore
from starling_tui.paths import app_paths

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


def wait_for_partial_reply(db: Path, proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """Poll the database (read-only) until the streaming reply has saved some text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                row = conn.execute(
                    "SELECT content FROM messages WHERE role = 'assistant' AND content != ''"
                ).fetchone()
            except sqlite3.OperationalError:
                row = None  # schema not created yet
            finally:
                conn.close()
            if row:
                return str(row[0])
        time.sleep(0.05)
    raise AssertionError("the reply was never saved while streaming")


@pytest.mark.slow
def test_kill_9_mid_reply_keeps_the_partial_reply(smollm2_gguf: Path) -> None:
    words = [f"word{i}" for i in range(60)]
    fake = {"replies": [" ".join(words)], "delay_s": 0.1}
    proc = subprocess.Popen(
        [*cli_command(fake), "ask", "--model", str(smollm2_gguf), "tell me"],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = app_paths().history_db
    try:
        seen = wait_for_partial_reply(db, proc)
        time.sleep(1.2)  # let at least one more progressive save happen
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    with HistoryStore() as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (conv,) = store.list_conversations()
        user, reply = store.active_path(conv.id)
    assert (user.content, reply.finish_reason) == ("tell me", "incomplete")
    assert reply.content.startswith(seen) and len(reply.content) > len(seen)
    assert " ".join(words).startswith(reply.content) and reply.content != " ".join(words)


@pytest.mark.slow
def test_ctrl_c_mid_reply_saves_it_cancelled(smollm2_gguf: Path) -> None:
    words = [f"word{i}" for i in range(60)]
    fake = {"replies": [" ".join(words)], "delay_s": 0.1}
    proc = subprocess.Popen(
        [*cli_command(fake), "ask", "--model", str(smollm2_gguf), "tell me"],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = wait_for_partial_reply(app_paths().history_db, proc)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err
    with HistoryStore() as store:
        (conv,) = store.list_conversations()
        _user, reply = store.active_path(conv.id)
    assert reply.finish_reason == "cancelled"
    assert reply.content.startswith(seen) and out.startswith(reply.content)


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


def test_non_utf8_stdin_bytes_in_a_real_process(smollm2_gguf: Path) -> None:
    for args, stdin in ((["bad\udcff"], b""), (["-"], b"bad\xff")):
        command = [*cli_command({"replies": ["never"]}), "ask", "--model", str(smollm2_gguf)]
        argv = [os.fsencode(a) for a in command]
        result = subprocess.run(
            [*argv, *(os.fsencode(a) for a in args)],
            input=stdin,
            capture_output=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
        err = result.stderr.decode("utf-8", "replace")
        assert result.returncode == 1 and result.stdout == b"", err
        assert "Traceback" not in err and "not valid UTF-8 text" in err, err
        assert len(err.splitlines()) == 1, err
    with HistoryStore() as store:
        assert store.list_conversations() == []


def test_continued_conversation_keeps_what_was_set_for_it(
    capsys: Capture, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Precedence: flags > values set for the conversation > env > config file > defaults.

    Only the sampling values given as flags are stored with the conversation; the rest follow
    the settings of the day (issue 11: ``ask --continue`` used to freeze every value).
    """
    engine = FakeEngine()
    model = str(smollm2_gguf)
    _, _, err = ask(
        capsys, "-m", model, "--temperature", "0.7", "--top-k", "5", "--system", "S", "one",
        engine=engine,
    )
    cid = conv_id(err)
    with HistoryStore() as store:
        assert store.get_conversation(cid).sampling == {"temperature": 0.7, "top_k": 5}
    config = app_paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        'system_prompt = "from config"\n[sampling]\ntemperature = 0.2\nmax_tokens = 50\n'
    )
    monkeypatch.setenv("STARLING_TUI_TOP_P", "0.5")
    ask(capsys, "-m", model, "--continue", "two", engine=engine)
    sent = engine.requests[-1]
    assert (sent.sampling.temperature, sent.sampling.top_k) == (0.7, 5)  # its own, not config
    assert (sent.sampling.top_p, sent.sampling.max_tokens) == (0.5, 50)  # env and config
    assert sent.messages[0] == ChatMessage("system", "S")
    ask(capsys, "-m", model, "-c", cid, "--temperature", "0.3", "--system", "T", "three",
        engine=engine)
    sent = engine.requests[-1]
    assert (sent.sampling.temperature, sent.sampling.top_k) == (0.3, 5)  # the flag wins
    assert sent.messages[0] == ChatMessage("system", "T")
    with HistoryStore() as store:
        conv = store.get_conversation(cid)
    assert conv.sampling == {"temperature": 0.3, "top_k": 5} and conv.system_prompt == "T"
    _, _, err = ask(capsys, "-m", model, "new one", engine=engine)
    sent = engine.requests[-1]
    assert conv_id(err) != cid and sent.messages[0] == ChatMessage("system", "from config")
    assert (sent.sampling.temperature, sent.sampling.top_p, sent.sampling.max_tokens) == (
        0.2,
        0.5,
        50,
    )
