"""The README stays true: its quick start, its settings (example and table) and what CI runs."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

from starling_tui.config import SETTINGS, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _docs_script(name: str) -> ModuleType:
    """A script of ``docs/`` (not a package) imported from its path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    (example,) = _code_blocks(_section("Settings"), "toml")
    config = tmp_path / "config.toml"
    config.write_text(example)
    assert load_settings(environ={}, path=config) == Settings()


def test_settings_example_has_every_key() -> None:
    (example,) = _code_blocks(_section("Settings"), "toml")
    data = tomllib.loads(example)
    keys = [k for k, v in data.items() if not isinstance(v, dict)]
    keys += [k for table in data.values() if isinstance(table, dict) for k in table]
    assert sorted(keys) == sorted(s.name for s in SETTINGS)


def test_settings_table_is_the_one_the_settings_derive() -> None:
    """Regenerate it with ``python docs/settings_table.py`` when this fails."""
    script = _docs_script("settings_table")
    begin, end = script.BEGIN_MARKER, script.END_MARKER
    section = _section("Settings")
    assert begin in section and end in section, "the settings table's markers are missing"
    shown = begin + section.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
    assert shown == script.settings_table()


def test_settings_table_has_a_row_per_setting_with_its_flag_or_a_dash() -> None:
    rows = [r for r in _docs_script("settings_table").settings_table().splitlines()
            if r.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == [s.name for s in SETTINGS]
    for row, setting in zip(rows, SETTINGS, strict=True):
        flag_cell = row.split(" | ")[3]
        assert (f"`{setting.flag}`" in flag_cell) if setting.flag else flag_cell == "—"
        assert f"`{setting.env}`" in row


def test_every_chat_action_is_in_the_key_table() -> None:
    from starling_tui.ui.actions import CHAT_ACTIONS

    table = README.split("## Key bindings", 1)[1].split("\n## ", 1)[0]
    for action in CHAT_ACTIONS:
        assert f"| {action.help} |" in table, action.key
