"""End to end, the way a person uses the app every day: the real ``starling-tui`` in tmux with
the real engine and the SmolLM2 GGUF.

A multi-line message shows as typed; a second branch, then Alt+Left back to the first, and the
words typed next land in the prompt box (no action, no edit mode); F7 during a reply opens the
inspector without stopping the reply. A file attached from the picker (F4, Tab completion)
shows as a chip with its tokens and goes with the message. Needs tmux; skipped with that reason
when it is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tmux_helpers import Tmux, app_command, finish_reasons, messages

from starling_tui.history.store import HistoryStore

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def prompt_box(screen: str) -> str:
    """The prompt box's text lines (between its borders, above the status line)."""
    lines = screen.splitlines()
    bottom = max(i for i, line in enumerate(lines) if "▁▁▁" in line and "▊" in line)
    top = max(i for i, line in enumerate(lines[:bottom]) if "▔▔▔" in line and "▊" in line)
    return "\n".join(line.split("▊", 1)[-1].rstrip(" ▎") for line in lines[top + 1:bottom])


def test_daily_use_multiline_branches_typing_and_f7_during_a_reply(
    tmux: Tmux, isolated_home: Path, smollm2_gguf: Path
) -> None:
    models = isolated_home / "data" / "models"
    models.mkdir(parents=True)
    (models / smollm2_gguf.name).symlink_to(smollm2_gguf)
    tmux.start(app_command(isolated_home, "--max-tokens 96 --temperature 0.9 --new"))
    tmux.wait(lambda s: "/8192" in s, "the model to load")

    # a multi-line message keeps its lines and its indentation
    tmux.type("Line one")
    tmux.keys("C-j")
    tmux.type("Line two")
    tmux.keys("C-j")
    tmux.type("    indented line three")
    tmux.keys("Enter")
    screen = tmux.wait(lambda s: "tok/s" in s, "the first reply")
    lines = [line.rstrip() for line in screen.splitlines()]
    assert any(line.endswith(" Line one") for line in lines), screen
    assert any(line.endswith(" Line two") for line in lines), screen
    assert any(line.endswith("     indented line three") for line in lines), screen
    assert not any("Line one Line two" in line for line in lines)

    # a second branch of the reply, then back to the first: typing goes on in the prompt box
    tmux.keys("C-r")
    tmux.wait(lambda s: "‹2/2›" in s and "generating" not in s, "the second branch")
    tmux.keys("M-Left")
    tmux.wait(lambda s: "‹1/2›" in s, "the first branch again")
    tmux.type("hello there")
    screen = tmux.wait(lambda s: "hello there" in prompt_box(s), "the typed words in the box")
    assert "Editing a message" not in screen

    # send it; F7 while the reply is written opens the inspector, which waits for the reply
    tmux.keys("C-u")  # the box's line, emptied
    tmux.type("Write a long story about a cat who sails around the world.")
    tmux.keys("Enter")
    tmux.wait(lambda s: "generating" in s, "the reply to stream", 60)
    tmux.keys("F7")
    tmux.wait(lambda s: "waiting for the reply to end" in s, "the inspector to wait", 30)
    screen = tmux.wait(lambda s: "Next prompt" in s and " tokens" in s
                       and "waiting for the reply" not in s, "the inspector's prompt", 120)
    assert finish_reasons(isolated_home)[-1] in ("stop", "length")  # not stopped by F7
    last_reply = messages(isolated_home)[-1][2]
    assert last_reply.strip()
    tmux.keys("Escape")
    screen = tmux.wait(lambda s: "Next prompt" not in s, "the inspector to close")
    assert "[stopped]" not in screen
    tmux.keys("C-q")
    tmux.wait(lambda s: "APP-EXITED=0" in s, "the app to quit")


def test_attach_a_file_from_the_picker_and_send_it(
    tmux: Tmux, isolated_home: Path, smollm2_gguf: Path, tmp_path: Path
) -> None:
    models = isolated_home / "data" / "models"
    models.mkdir(parents=True)
    (models / smollm2_gguf.name).symlink_to(smollm2_gguf)
    work = tmp_path / "project"
    (work / "src").mkdir(parents=True)
    (work / "src" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    tmux.start(f"cd {work} && " + app_command(isolated_home, "--max-tokens 24 --new"))
    tmux.wait(lambda s: "/8192" in s, "the model to load")

    tmux.keys("F4")
    tmux.wait(lambda s: "Attach a file" in s and "src/" in s, "the picker in the working folder")
    tmux.type("s")
    tmux.keys("Tab")  # completes the folder
    tmux.wait(lambda s: "calc.py" in s, "the folder's files")
    tmux.keys("Tab", "Enter")  # completes the file, attaches it
    screen = tmux.wait(lambda s: "src/calc.py" in s and " tokens" in s and "✕" in s,
                       "the file's chip with its tokens")
    chip = next(line for line in screen.splitlines() if "src/calc.py" in line and "✕" in line)
    assert "32 B" in chip
    tmux.type("What does this do?")
    tmux.keys("Enter")
    screen = tmux.wait(lambda s: "tok/s" in s and "▸ 📄 src/calc.py" in s,
                       "the reply, the message showing its file collapsed")
    assert "✕" not in screen  # the chip went with the message
    with HistoryStore(isolated_home / "data" / "history.db") as store:
        (conversation,) = store.list_conversations()
        question = store.active_path(conversation.id)[0]
    assert question.content == "What does this do?"
    assert [(a.name, a.text) for a in question.attachments] == [
        ("src/calc.py", "def add(a, b):\n    return a + b\n")]
    tmux.keys("C-q")
    tmux.wait(lambda s: "APP-EXITED=0" in s, "the app to quit")
