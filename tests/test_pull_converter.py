"""pull and the converter child process: describing --quant, and a failed or crashed run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from starling_tui.pull.converter import describe_quant, run_converter
from starling_tui.pull.errors import PullError
from starling_tui.pull.selection import QuantType


def test_the_converter_describes_its_output_types_to_pull() -> None:
    # pull asks the converter (a child process) instead of importing its table
    assert describe_quant("q4_k_m") == QuantType("q4_k_m", "Q4_K_M", False, 5.0)
    assert describe_quant("f16") == QuantType("f16", "F16", True, 16.0)
    with pytest.raises(PullError, match=r"^unknown --quant 'q9_z' \(choose from f32, "):
        describe_quant("q9_z")


@pytest.mark.parametrize(("code", "outcome"), [
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "killed by signal 11"),
    ("import sys; sys.exit(1)", "exit status 1"),
])
def test_a_failed_or_crashed_converter_is_one_pull_error(tmp_path: Path, code: str,
                                                         outcome: str) -> None:
    stand_in = (sys.executable, "-c", code)  # e.g. llama.cpp's quantizer crashing the child
    with pytest.raises(PullError) as caught:
        run_converter(tmp_path, "q4_k_m", tmp_path / "m.gguf", "o/r", None, converter=stand_in)
    assert str(caught.value) == f"converting o/r failed ({outcome})"
    with pytest.raises(KeyboardInterrupt):  # the converter's own Ctrl-C status
        run_converter(tmp_path, "q4_k_m", tmp_path / "m.gguf", "o/r", None,
                      converter=(sys.executable, "-c", "import sys; sys.exit(130)"))
