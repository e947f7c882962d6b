"""The README stays true: its quick start, its settings example and what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from starling_tui.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_second() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [block.strip() for block in _code_blocks(quick, "sh")]
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    install_and_run, install_and_test = commands
    assert install_and_run.endswith("starling-tui")
    assert "[test" in install_and_test and "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text()
    assert install_and_test in ci.splitlines()


def test_settings_example_is_the_defaults(tmp_path: Path) -> None:
    section = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    (example,) = _code_blocks(section, "toml")
    config = tmp_path / "config.toml"
    config.write_text(example)
    assert load_settings(environ={}, path=config) == Settings()


def test_every_chat_action_is_in_the_key_table() -> None:
    from starling_tui.ui.actions import CHAT_ACTIONS

    table = README.split("## Key bindings", 1)[1].split("\n## ", 1)[0]
    for action in CHAT_ACTIONS:
        assert f"| {action.help} |" in table, action.key
