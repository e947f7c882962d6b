"""Driving the real ``starling-tui`` in a private tmux server (the end-to-end tests)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    """One private tmux server running the app in a 110x32 pane."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def start(self, command: str) -> None:
        # The pane gets its size just after it starts: a program started with new-session can
        # miss that SIGWINCH and stay at 80x24. Start it once the 110x32 pane exists.
        self.run("new-session", "-d", "-s", "app", "-x", "110", "-y", "32", "sleep 600")
        self.run("respawn-pane", "-k", "-t", "app", command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "app", *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "app", "-l", text)

    def wait(self, condition: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(0.2)


def app_command(home: Path, flags: str = "--max-tokens 24") -> str:
    """The shell command that runs this tree's app (PYTHONPATH: the code under test, whatever
    the environment's install points at) with its data in ``home``."""
    script = Path(sys.executable).with_name("starling-tui")
    program = str(script) if script.exists() else f"{sys.executable} -m starling_tui.cli.main"
    env = f"STARLING_TUI_HOME={home} TERM=xterm-256color PYTHONPATH={ROOT}"
    return f"env {env} {program} {flags}; echo APP-EXITED=$?; sleep 30"


def messages(home: Path) -> list[tuple[str, str, str]]:
    """(conversation id, role, content) of every saved message, oldest first."""
    with sqlite3.connect(home / "data" / "history.db") as db:
        return db.execute(
            "SELECT conversation_id, role, content FROM messages ORDER BY id").fetchall()


def finish_reasons(home: Path) -> list[str | None]:
    """The finish reason of every saved reply, oldest first."""
    with sqlite3.connect(home / "data" / "history.db") as db:
        rows = db.execute(
            "SELECT finish_reason FROM messages WHERE role = 'assistant' ORDER BY id").fetchall()
    return [r[0] for r in rows]
