"""On a terminal the CLI draws a progress bar with an ETA (checked through a real pty)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = Path(__file__).with_name("convert_entry.py")


@pytest.mark.slow
def test_progress_bar_with_eta_on_a_terminal(tiny_checkpoint: Path, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, str(ENTRY), "0.05", str(tiny_checkpoint), "--outtype", "f16",
         "--outfile", str(tmp_path / "m.gguf")],
        stdout=subprocess.DEVNULL, stderr=follower,
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
