"""Ctrl-C (SIGINT) or SIGTERM during a conversion leaves no partial or temporary file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from model_fixtures import leftovers


def _start_slow_conversion(tiny_checkpoint: Path, out: Path) -> subprocess.Popen[str]:
    # test-only hook (convert.writer.WRITE_DELAY_ENV): sleep after every block written
    env = {**os.environ, "STARLING_CONVERT_TEST_WRITE_DELAY": "0.3"}
    return subprocess.Popen(
        [sys.executable, "-m", "convert", str(tiny_checkpoint), "--outtype", "q4_k_m",
         "--outfile", str(out / "model.gguf")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=Path(__file__).resolve().parent.parent)


def _wait_for_partial_file(out: Path, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(name.endswith(".partial") for name in leftovers(out)):
            return
        assert child.poll() is None, child.communicate()
        time.sleep(0.05)
    child.kill()
    pytest.fail("the conversion never started writing")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_leaves_no_partial_file(tiny_checkpoint: Path, tmp_path: Path, sig) -> None:
    out = tmp_path / "out"
    out.mkdir()
    child = _start_slow_conversion(tiny_checkpoint, out)
    _wait_for_partial_file(out, child)
    child.send_signal(sig)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130
    assert stderr.strip().splitlines()[-1] == "starling-convert: interrupted, nothing written"
    assert "Traceback" not in stderr
    assert leftovers(out) == []
