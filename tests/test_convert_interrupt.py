"""Ctrl-C (SIGINT) or SIGTERM during a conversion leaves no partial or temporary file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from interrupts import take_ctrl_c
from model_fixtures import leftovers

ENTRY = Path(__file__).with_name("convert_entry.py")


def _start_slow_conversion(tiny_checkpoint: Path, out: Path) -> subprocess.Popen[str]:
    # an entry script whose progress observer sleeps after every block written
    return subprocess.Popen(
        [sys.executable, str(ENTRY), "0.3", str(tiny_checkpoint), "--outtype", "q4_k_m",
         "--outfile", str(out / "model.gguf")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parent.parent, preexec_fn=take_ctrl_c)


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


def test_an_observer_that_raises_stops_the_conversion_cleanly(tiny_checkpoint: Path,
                                                              tmp_path: Path) -> None:
    from starling_convert.api import convert_checkpoint
    from starling_convert.hooks import ConvertHooks

    seen: list[tuple[str, int, int]] = []

    def stop_after_first_block(label: str, done: int, total: int) -> None:
        seen.append((label, done, total))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_checkpoint(tiny_checkpoint, "f16", tmp_path / "m.gguf", quiet=True,
                           hooks=ConvertHooks(observer=stop_after_first_block))
    assert len(seen) == 1 and seen[0][0] == "writing" and 0 < seen[0][1] < seen[0][2]
    assert leftovers(tmp_path) == []
