"""The README stays true: its quick start, its settings (example and table) and what CI runs."""

from __future__ import annotations

import argparse
import importlib.util
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from starling_tui.config import SETTINGS, Settings, load_settings, spec

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


def _sub_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for action in actions for name, sub in action.choices.items()}


def _command_parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command that runs (``ask``, ``history export``…) with its argparse parser."""
    from starling_tui.cli import main as cli

    commands = cli.available_commands()
    pending = [(name, _sub_parsers(cli.build_parser(commands, cli.load_command(name), name))[name])
               for name in commands]
    while pending:
        path, parser = pending.pop(0)
        subs = _sub_parsers(parser)
        if not subs:
            yield path, parser
        pending += [(f"{path} {name}", sub) for name, sub in subs.items()]


def _is_setting_flag(action: argparse.Action) -> bool:
    """A flag built from the settings table (``cli/options.py``), documented by its table."""
    names = {s.name for s in SETTINGS}
    return action.dest in names and action.help == spec(action.dest).help


def _long_flags(actions: list[argparse.Action]) -> list[str]:
    return [flag for action in actions for flag in action.option_strings
            if flag.startswith("--") and flag not in {"--help", "--version"}]


def _command_row(command: str) -> str:
    rows = [line for line in _section("Commands and flags").splitlines()
            if re.match(rf"\| [^|]*`{command}[ `]", line)]
    assert len(rows) == 1, f"no one row for `{command}` under Commands and flags"
    return rows[0]


def _missing_from_row(command: str, parser: argparse.ArgumentParser) -> list[str]:
    row = _command_row(command)
    own = [a for a in parser._actions if not _is_setting_flag(a)]
    return [f"{command} {flag}" for flag in _long_flags(own)
            if not re.search(rf"`{re.escape(flag)}[ `]", row)]


def test_the_commands_are_walked() -> None:
    paths = {path for path, _ in _command_parsers()}
    assert {"tui", "ask", "history export", "pull", "eval"} <= paths


def test_every_command_flag_is_in_its_row_of_the_command_table() -> None:
    missing = []
    for path, parser in _command_parsers():
        missing += _missing_from_row(f"starling-tui {path}", parser)
    assert missing == []


def test_every_converter_flag_is_in_its_row_of_the_command_table() -> None:
    from starling_convert.cli import build_parser

    assert _missing_from_row("starling-convert", build_parser()) == []


def test_every_settings_flag_of_a_command_is_in_the_settings_table() -> None:
    table = _section("Settings")
    for path, parser in _command_parsers():
        flags = _long_flags([a for a in parser._actions if _is_setting_flag(a)])
        assert [f for f in flags if f"`{f}`" not in table] == [], path
