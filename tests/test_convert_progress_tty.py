"""On a terminal the CLI draws a progress bar with an ETA (checked through a real pty)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_progress_bar_with_eta_on_a_terminal(tiny_checkpoint: Path, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    env = {**os.environ, "STARLING_CONVERT_TEST_WRITE_DELAY": "0.05"}
    child = subprocess.Popen(
        [sys.executable, "-m", "convert", str(tiny_checkpoint), "--outtype", "f16",
         "--outfile", str(tmp_path / "m.gguf")],
        stdout=subprocess.DEVNULL, stderr=follower, env=env,
        cwd=Path(__file__).resolve().parent.parent)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO once the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert child.wait(timeout=60) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "\rwriting [" in screen
    assert "ETA" in screen
    assert "100.0%" in screen
