"""Helpers for the CLI tests: run ``starling-tui`` as a real process (no tests here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

FAKE_CLI = Path(__file__).with_name("fake_cli.py")


def cli_command(fake: dict[str, Any] | None = None) -> list[str]:
    """The installed console script, as a user would run it; with ``fake``, the test entry
    script that runs the same ``main`` with a scripted engine (see ``fake_cli.py``)."""
    if fake is not None:
        return [sys.executable, str(FAKE_CLI), json.dumps(fake)]
    script = Path(sys.executable).parent / "starling-tui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "starling_tui.cli.main"]


def cli_env() -> dict[str, str]:
    """The test's environment (its STARLING_TUI_HOME)."""
    return dict(os.environ)


def run_cli(
    *args: str, stdin: str | None = None, fake: dict[str, Any] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``starling-tui ARGS`` to completion, capturing text output."""
    return subprocess.run(
        [*cli_command(fake), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=timeout,
        check=False,
    )


def conversation_id(stderr: str) -> str:
    """The id ``ask`` printed on stderr."""
    for line in stderr.splitlines():
        if line.startswith("conversation: "):
            return line.split(": ", 1)[1].strip()
    raise AssertionError(f"no conversation id in stderr: {stderr!r}")


def stats_line(stderr: str) -> dict[str, Any]:
    """The JSON figures ``ask --stats`` printed on stderr."""
    for line in stderr.splitlines():
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise AssertionError(f"no stats line in stderr: {stderr!r}")


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    """Exit status 1, no traceback, a single ``starling-tui: error:`` line naming ``fragment``."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("starling-tui: error: "), result.stderr
    assert fragment in lines[0], lines[0]
