"""The worker's stderr goes to a log file, so a llama.cpp crash never draws over the screen.

When llama.cpp aborts it prints its ``GGML_ASSERT`` line (and, unless ``GGML_NO_BACKTRACE`` is
set, a gdb backtrace of dozens of lines) on the inherited stderr — over the TUI or after the
CLI's one-line error. The worker therefore points its fd 2 at a log file (truncated at each
worker start, emptied again past ``LOG_LIMIT``), and the parent quotes the last error line of
that log in its :class:`~starling_tui.errors.EngineCrashed` message. Each parent process
has its own file, ``<cache>/engine-logs/engine-<pid>.log``, so a TUI and an ``ask`` running at
once never truncate (or quote) each other's; the newest ``KEEP_LOGS`` files are kept.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

LOG_DIR = "engine-logs"
KEEP_LOGS = 8
LOG_LIMIT = 1 << 20  # a long session's warnings must not fill the disk
_TAIL = 64 * 1024
_MAX_DETAIL = 200
_ERROR = re.compile(r"GGML_ASSERT|error|fatal|abort|exception|out of memory", re.IGNORECASE)


def prepare_log() -> Path | None:
    """The log path for this process's workers (its folder created, old logs pruned), or None
    if the cache is unwritable."""
    from starling_tui.atomic import make_private_dirs
    from starling_tui.paths import app_paths

    folder = app_paths().cache_dir / LOG_DIR
    path = folder / f"engine-{os.getpid()}.log"
    try:
        make_private_dirs(folder)
    except OSError:
        return None
    _prune(folder, keep=path)
    return path


def _prune(folder: Path, keep: Path) -> None:
    """Delete all but the newest ``KEEP_LOGS`` logs (``keep`` is this process's own)."""
    try:
        logs = sorted((p for p in folder.glob("engine-*.log") if p != keep),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for old in logs[KEEP_LOGS - 1 :]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # another process pruned at the same time: nothing lost that matters


def redirect_stderr(path: str | None) -> None:
    """In the worker: no backtraces from ggml, and fd 2 (C and Python alike) into ``path``."""
    os.environ["GGML_NO_BACKTRACE"] = "1"  # read by ggml when it aborts
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    except OSError:
        return  # stderr stays as it was; the backtrace is off at least
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)


def bound_log(path: str | None) -> None:
    """Empty the log once it passes ``LOG_LIMIT`` (appends then restart at its beginning)."""
    if path is None:
        return
    try:
        if os.fstat(2).st_size > LOG_LIMIT:
            os.ftruncate(2, 0)
    except OSError:
        pass


def last_error_line(path: Path | None) -> str:
    """The log's last line that reads like an error (the ``GGML_ASSERT`` itself), or ""."""
    if path is None:
        return ""
    try:
        with path.open("rb") as handle:
            handle.seek(max(handle.seek(0, os.SEEK_END) - _TAIL, 0))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    for line in reversed(text.splitlines()):
        found = _ERROR.search(line)
        if found:
            # "/long/build/path/llama-context.cpp:1785: GGML_ASSERT(...) failed": the assert.
            start = found.start() if found.group(0) == "GGML_ASSERT" else 0
            detail = " ".join(line[start:].split())
            return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 1] + "…"
    return ""
