"""``ask --continue`` resumes from a saved state across processes; ``starling-tui cache``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "starling_tui.cli.main", *args],
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())


def stats_of(result: subprocess.CompletedProcess[str]) -> dict:
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("{"))
    return json.loads(line)


def test_resume_across_processes_and_cache_command(smollm2_gguf: Path, isolated_home: Path) -> None:
    model = str(smollm2_gguf)
    first = cli("ask", "What is the capital of France?", "--model", model, "--max-tokens", "12",
                "--stats")
    assert first.returncode == 0, first.stderr
    assert stats_of(first)["restored_tokens"] == 0
    second = cli("ask", "And of Italy?", "--continue", "--model", model, "--max-tokens", "12",
                 "--stats")
    assert second.returncode == 0, second.stderr
    stats = stats_of(second)
    assert stats["restored_tokens"] > stats_of(first)["prompt_tokens"]
    assert stats["evaluated_tokens"] == stats["prompt_tokens"] - stats["restored_tokens"]

    shown = cli("cache", "--json")
    assert shown.returncode == 0
    (state,) = [json.loads(line) for line in shown.stdout.splitlines()]
    assert state["tokens"] >= stats["prompt_tokens"] and state["bytes"] > 0
    assert Path(state["path"]).parent == isolated_home / "cache" / "kv-states"
    assert "1 saved states" in cli("cache").stdout

    other = cli("cache", "clear", "--conversation", "nope")
    assert other.returncode == 1 and Path(state["path"]).exists()
    assert other.stderr.startswith("starling-tui: error: no conversation 'nope'")
    cleared = cli("cache", "clear", "--conversation", state["conversation_id"][:4])
    assert "cleared 1" in cleared.stdout and not Path(state["path"]).exists()
    assert "0 saved states" in cli("cache", "show").stdout
    assert cli("cache", "--conversation", "x").returncode == 2

    # Deleting the conversation deletes its saved state.
    third = cli("ask", "And of Spain?", "--continue", "--model", model, "--max-tokens", "4")
    assert third.returncode == 0 and Path(state["path"]).exists(), third.stderr
    deleted = cli("history", "delete", state["conversation_id"])
    assert deleted.returncode == 0 and not Path(state["path"]).exists()
