"""``ask -f`` and ``tokens -f``: the files a message carries, from the command line to the ids."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from test_cli_support import assert_one_line_error, conversation_id, run_cli

from starling_tui import factory
from starling_tui.chat import ChatCore
from starling_tui.cli.main import main
from starling_tui.config import load_settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.history import HistoryStore
from starling_tui.prompt.attachments import render_attachment, turn_text
from starling_tui.types import Attachment, ChatMessage

Capture = pytest.CaptureFixture[str]
CODE = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a small Python file and a Markdown file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text(CODE, encoding="utf-8")
    (tmp_path / "notes.md").write_text("Use ```fences``` sparingly.\n", encoding="utf-8")
    return tmp_path


def ask(capsys: Capture, engine: FakeEngine, *args: str) -> tuple[int, str, str]:
    status = main(["ask", *args], engine_factory=lambda _settings: engine)
    out, err = capsys.readouterr()
    return status, out, err


def test_ask_sends_and_saves_the_files_in_order(
    project: Path, capsys: Capture, smollm2_gguf: Path
) -> None:
    engine = FakeEngine(["typed"])
    status, out, err = ask(capsys, engine, "--model", str(smollm2_gguf), "-f", "a.py",
                           "--file", "notes.md", "Add type hints")
    assert status == 0 and out == "typed\n"
    files = (Attachment("a.py", CODE), Attachment("notes.md", "Use ```fences``` sparingly.\n"))
    assert engine.requests[0].messages[-1].attachments == files
    with HistoryStore() as store:
        user = store.active_path(conversation_id(err))[0]
    assert (user.content, user.attachments) == ("Add type hints", files)


def test_ask_continue_attaches_to_the_follow_up(
    project: Path, capsys: Capture, smollm2_gguf: Path
) -> None:
    model = ["--model", str(smollm2_gguf)]
    ask(capsys, FakeEngine(["one"]), *model, "first")
    engine = FakeEngine(["two"])
    status, _out, err = ask(capsys, engine, *model, "--continue", "-f", "a.py", "Review this")
    assert status == 0
    users = [m for m in engine.requests[0].messages if m.role == "user"]
    assert [(m.content, m.attachments) for m in users] == [
        ("first", ()), ("Review this", (Attachment("a.py", CODE),))]
    with HistoryStore() as store:
        assert [m.attachments for m in store.active_path(conversation_id(err))] == [
            (), (), (Attachment("a.py", CODE),), ()]


def test_a_file_from_stdin(project: Path, capsys: Capture, smollm2_gguf: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"piped text\n")))
    engine = FakeEngine(["ok"])
    status, _out, _err = ask(capsys, engine, "--model", str(smollm2_gguf), "-f", "-", "Summarise")
    assert status == 0
    assert engine.requests[0].messages[-1].attachments == (Attachment("stdin", "piped text\n"),)


def test_stdin_is_either_the_prompt_or_a_file(project: Path, capsys: Capture,
                                              smollm2_gguf: Path) -> None:
    status, _out, err = ask(capsys, FakeEngine(), "--model", str(smollm2_gguf), "-f", "-", "-")
    assert status == 1 and "stdin holds either the prompt ('-') or a file ('-f -')" in err


def test_tokens_shows_the_file_in_the_prompt(project: Path, capsys: Capture,
                                             smollm2_gguf: Path) -> None:
    status = main(["tokens", "--model", str(smollm2_gguf), "-f", "notes.md", "Tidy it"],
                  engine_factory=lambda _settings: FakeEngine())
    out, _err = capsys.readouterr()
    rendered = out.split("\n", 1)[1]
    assert status == 0
    block = render_attachment(Attachment("notes.md", "Use ```fences``` sparingly.\n"))
    assert f"User: {block}\n\nTidy it<|end_of_turn|>" in rendered
    assert block.startswith("File: notes.md\n````markdown\n")


def test_tokens_refuses_files_without_a_message(project: Path, capsys: Capture,
                                                smollm2_gguf: Path) -> None:
    for args in (["-c", "abc", "-f", "a.py"], ["--messages", "m.json", "-f", "a.py"]):
        status = main(["tokens", "--model", str(smollm2_gguf), *args])
        assert status == 1 and "--file attaches to" in capsys.readouterr().err


def test_tokens_ask_and_the_app_send_the_same_ids_with_files(
    project: Path, capsys: Capture, smollm2_gguf: Path
) -> None:
    """The real SmolLM2 vocabulary: ``tokens -f``, the request ``ask -f`` sends, and the chat
    core's preview (what the app's inspector and chips run) give the very same ids."""
    flags = ["--model", str(smollm2_gguf), "--ctx", "1024"]
    with HistoryStore() as store:
        conv = store.create_conversation(system_prompt="Answer briefly.")
        user = store.add_message(conv.id, "user", "Read this", attachments=[
            Attachment("notes.md", "Use ```fences``` sparingly.\n")])
        store.add_message(conv.id, "assistant", "Done.", parent_id=user.id)
    ask_args = ["--conversation", conv.id, "-f", "a.py", "Add type hints"]
    settings = load_settings({"ctx": 1024})
    options = factory.engine_options(settings, smollm2_gguf)

    assert main(["tokens", *flags, *ask_args]) == 0
    tokens_ids = json.loads(capsys.readouterr().out.splitlines()[0])

    vocab = ProcessEngine()
    try:
        vocab.load_vocab(options)
        with HistoryStore() as store:  # what the app's preview runs for the draft and its chip
            app_ids = ChatCore(store, vocab, settings).preview(
                conv.id, "Add type hints", attachments=[Attachment("a.py", CODE)]).token_ids
    finally:
        vocab.close()

    recorder = FakeEngine(["ok"])
    assert main(["ask", *flags, *ask_args], engine_factory=lambda _s: recorder) == 0
    capsys.readouterr()
    (sent,) = recorder.requests
    ask_ids = ProcessEngine.preview_only(options, sent).token_ids

    assert tokens_ids == list(app_ids) == list(ask_ids)
    rendered = ProcessEngine.preview_only(options, sent).rendered
    assert render_attachment(Attachment("a.py", CODE)) in rendered
    assert "File: notes.md\n````markdown\n" in rendered  # the earlier message's file, rebuilt



def test_the_readme_shows_the_form_the_model_reads() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Files in a message", 1)[1].split("\n## ", 1)[0]
    example = section.split("````text\n", 1)[1].split("\n````", 1)[0]
    calc = Attachment("calc.py", "def add(a, b):\n    return a + b\n")
    assert example == turn_text(ChatMessage("user", "Add type hints", (calc,)))

# -- refusals: one line, nothing saved (the real process) ----------------------------------


def assert_refused(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    """Exit 1 with one error line naming ``fragment`` (``ask`` names the model it loaded)."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln and not ln.startswith("model: ")]
    assert len(lines) == 1 and lines[0].startswith("starling-tui: error: "), result.stderr
    assert fragment in lines[0], lines[0]


def history_is_empty() -> bool:
    with HistoryStore() as store:
        return store.list_conversations() == []


@pytest.mark.slow
@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("missing.py", None, "no such file: missing.py"),
    ("folder", "dir", "folder is a directory"),
    ("blob.bin", b"\x89PNG\x00\x00", "blob.bin is a binary file: a NUL byte at byte 4"),
    ("latin.txt", "naïve".encode("latin-1"), "latin.txt is not UTF-8 text (byte 0xef at byte 2)"),
])
def test_bad_files_are_one_line_and_save_nothing(
    project: Path, smollm2_gguf: Path, name: str, content: bytes | str | None, fragment: str
) -> None:
    if content == "dir":
        (project / name).mkdir()
    elif isinstance(content, bytes):
        (project / name).write_bytes(content)
    result = run_cli("ask", "--model", str(smollm2_gguf), "-f", "a.py", "-f", name, "Explain",
                     fake={"replies": ["never"]})
    assert_one_line_error(result, fragment)
    assert result.stdout == "" and history_is_empty()


@pytest.mark.slow
def test_a_link_is_named_on_stderr(project: Path, smollm2_gguf: Path) -> None:
    (project / "link.py").symlink_to(project / "a.py")
    result = run_cli("ask", "--model", str(smollm2_gguf), "-f", "link.py", "Explain",
                     fake={"replies": ["ok"]})
    assert result.returncode == 0, result.stderr
    assert f"note: link.py is a link to {project / 'a.py'}" in result.stderr.splitlines()


@pytest.mark.slow
def test_files_too_large_for_the_real_window_are_refused_with_their_tokens(
    project: Path, smollm2_gguf: Path
) -> None:
    (project / "big.py").write_text("".join(f"value_{i} = {i}\n" for i in range(200)))
    (project / "mid.py").write_text("".join(f"v{i} = {i}\n" for i in range(30)))
    model = ["--model", str(smollm2_gguf), "--ctx", "512"]
    result = run_cli("ask", *model, "-f", "big.py", "Explain")
    assert_refused(result, "big.py is too large: about ")
    assert "more than the 512-token context window (256 for the prompt, 256 kept for the " \
        "reply)" in result.stderr
    result = run_cli("tokens", *model, "-f", "mid.py", "-f", "a.py", "-f", "mid2.py", "Explain")
    assert_one_line_error(result, "no such file: mid2.py")
    (project / "mid2.py").write_text((project / "mid.py").read_text())
    result = run_cli("ask", *model, "-f", "mid.py", "-f", "a.py", "-f", "mid2.py", "Explain")
    assert_refused(result, "the files do not fit together")
    assert "leave out mid.py (" in result.stderr and "a.py (" not in result.stderr
    assert history_is_empty()
