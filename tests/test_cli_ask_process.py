"""``ask`` as a real process (the test entry script ``fake_cli.py`` injects a scripted engine):
kill -9 and Ctrl-C mid-reply keep the partial reply; bytes that are not UTF-8 save nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from interrupts import take_ctrl_c
from test_cli_support import cli_command, cli_env

from starling_tui.history import HistoryStore
from starling_tui.paths import app_paths


def wait_for_partial_reply(
    db: Path, proc: subprocess.Popen[str], timeout: float = 60, longer_than: str = ""
) -> str:
    """Poll the database (read-only) until the streaming reply has saved more than
    ``longer_than``."""
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
            if row and len(row[0]) > len(longer_than):
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
        wait_for_partial_reply(db, proc, longer_than=seen)  # one more progressive save
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
        preexec_fn=take_ctrl_c,
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
