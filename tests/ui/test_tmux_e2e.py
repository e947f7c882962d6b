"""End to end: the real ``starling-tui`` in tmux with the real engine and the SmolLM2 GGUF.

Type a message, see the reply, quit, relaunch, find the conversation by search and continue it.
Needs tmux (``apt-get install tmux``); skipped with that reason when it is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tmux_helpers import Tmux, app_command, messages

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_chat_quit_relaunch_find_and_continue(
    tmux: Tmux, isolated_home: Path, smollm2_gguf: Path
) -> None:
    models = isolated_home / "data" / "models"
    models.mkdir(parents=True)
    (models / smollm2_gguf.name).symlink_to(smollm2_gguf)

    tmux.start(app_command(isolated_home))
    tmux.wait(lambda s: "/8192" in s, "the model to load")
    tmux.type("What is the capital of France?")
    tmux.keys("Enter")
    tmux.wait(lambda s: "tok/s" in s, "the reply to finish")
    first = messages(isolated_home)
    assert [role for _, role, _ in first] == ["user", "assistant"]
    reply = first[1][2]
    assert reply.strip()
    screen = tmux.screen()
    assert "What is the capital of France?" in screen
    assert reply.split()[0] in screen
    tmux.keys("C-q")
    tmux.wait(lambda s: "APP-EXITED=0" in s, "the app to quit")
    tmux.run("kill-session", "-t", "app")

    # a second, unrelated chat, so the search has something to tell apart
    tmux.start(app_command(isolated_home).replace("--max-tokens 24", "--max-tokens 8 --new"))
    tmux.wait(lambda s: "/8192" in s, "the model to load again")
    tmux.type("Name a colour")
    tmux.keys("Enter")
    tmux.wait(lambda s: "tok/s" in s, "the second reply")
    tmux.keys("C-q")
    tmux.wait(lambda s: "APP-EXITED=0" in s, "the app to quit again")
    tmux.run("kill-session", "-t", "app")

    tmux.start(app_command(isolated_home))
    tmux.wait(lambda s: "/8192" in s, "the model to load a third time")
    tmux.keys("C-f")
    tmux.type("France")
    tmux.wait(lambda s: "[France]" in s, "the search hit (with its highlighted excerpt)")
    tmux.keys("Enter")  # opens the top hit
    tmux.wait(lambda s: "What is the capital of France?" in s, "the conversation to open")
    tmux.type("And of Italy?")
    tmux.keys("Enter")
    tmux.wait(lambda s: "And of Italy?" in s and "tok/s" in s, "the follow-up reply")
    tmux.wait(lambda s: len(messages(isolated_home)) == 6, "the follow-up to be saved", 30)
    rows = messages(isolated_home)
    france = rows[0][0]
    assert [(c == france, role) for c, role, _ in rows] == [
        (True, "user"), (True, "assistant"), (False, "user"), (False, "assistant"),
        (True, "user"), (True, "assistant"),
    ]
    assert rows[4][2] == "And of Italy?" and rows[5][2].strip()
    tmux.keys("C-q")
    tmux.wait(lambda s: "APP-EXITED=0" in s, "the app to quit at the end")
