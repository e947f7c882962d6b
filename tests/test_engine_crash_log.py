"""The worker's stderr log: the error line a crash message quotes, and its size bound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from starling_tui.engine.crash_log import LOG_LIMIT, last_error_line


def test_last_error_line_is_the_assert_not_the_noise(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text(
        "load_tensors: something harmless\n"
        "/build/vendor/llama.cpp/src/llama-context.cpp:1785: "
        "GGML_ASSERT(n_tokens_all <= cparams.n_batch) failed\n"
        "\n"
    )
    assert last_error_line(log) == "GGML_ASSERT(n_tokens_all <= cparams.n_batch) failed"
    log.write_text("Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent)\n")
    assert last_error_line(log) == "Fatal Python error: Segmentation fault"
    log.write_text("load_tensors: something harmless\n")
    assert last_error_line(log) == ""
    assert last_error_line(tmp_path / "absent.log") == ""
    assert last_error_line(None) == ""


def test_long_lines_are_cut(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("error: " + "x" * 1000 + "\n")
    line = last_error_line(log)
    assert line.startswith("error: xxx") and len(line) == 200 and line.endswith("…")


SCRIPT = """
import os, sys
from starling_tui.engine.crash_log import bound_log, redirect_stderr
redirect_stderr(sys.argv[1])
os.write(2, b"x" * (int(sys.argv[2]) + 10))
bound_log(sys.argv[1])
os.write(2, b"after\\n")
print(os.environ["GGML_NO_BACKTRACE"])
"""


def test_stderr_goes_to_the_log_which_stays_bounded(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("a previous worker's lines\n")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(log), str(LOG_LIMIT)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stderr == "" and done.stdout == "1\n"
    assert log.read_text() == "after\n"


def test_each_process_has_its_own_log_and_old_ones_are_pruned() -> None:
    import os
    import time

    from starling_tui.engine.crash_log import KEEP_LOGS, prepare_log
    from starling_tui.paths import app_paths

    folder = app_paths().cache_dir / "engine-logs"
    folder.mkdir(parents=True)
    for pid in range(100, 100 + KEEP_LOGS + 3):  # other processes' logs, oldest first
        old = folder / f"engine-{pid}.log"
        old.write_text(f"log of {pid}\n")
        stamp = time.time() - 1000 + pid
        os.utime(old, (stamp, stamp))
    ours = prepare_log()
    assert ours == folder / f"engine-{os.getpid()}.log"
    other = subprocess.run(
        [sys.executable, "-c",
         "from starling_tui.engine.crash_log import prepare_log; print(prepare_log())"],
        capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert other != str(ours) and other.startswith(str(folder))  # a TUI and an `ask` at once
    left = sorted(p.name for p in folder.iterdir())
    kept = [f"engine-{pid}.log" for pid in range(100 + 3 + 1, 100 + KEEP_LOGS + 3)]
    assert left == sorted(kept)  # the other process pruned to its own + KEEP_LOGS - 1 newest
