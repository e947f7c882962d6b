"""The entry point: lazy subcommands, help, one-line errors, Ctrl-C."""

from __future__ import annotations

import sys
import types

import pytest
from test_cli_support import assert_one_line_error, run_cli

from starling_tui.cli import main as cli_main
from starling_tui.errors import EngineCrashed, HistoryError, UserError


def test_help_lists_the_subcommands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0 and result.stderr == ""
    for name in ("ask", "tokens", "history", "models"):
        assert f"\n    {name} " in result.stdout


def test_missing_command_module_is_not_offered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli_main.COMMANDS, "ghost", "a command whose module does not exist")
    assert "ghost" not in cli_main.available_commands()
    assert "ask" in cli_main.available_commands()
    with pytest.raises(SystemExit):
        cli_main.main(["--help"])
    assert "ghost" not in capsys.readouterr().out


def install_command(monkeypatch: pytest.MonkeyPatch, behaviour: BaseException | int) -> None:
    """A throwaway ``boom`` subcommand whose run() raises or returns ``behaviour``."""
    module = types.ModuleType("starling_tui.cli.boom_cmd")

    def add_parser(subparsers: object) -> None:
        subparsers.add_parser("boom")  # type: ignore[attr-defined]

    def run(_args: object) -> int:
        if isinstance(behaviour, BaseException):
            raise behaviour
        return behaviour

    module.add_parser = add_parser  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "starling_tui.cli.boom_cmd", module)
    monkeypatch.setitem(cli_main.COMMANDS, "boom", "test command")
    monkeypatch.setattr(cli_main, "available_commands", lambda: ["boom"])


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (UserError("bad input\nsecond line"), "starling-tui: error: bad input\n"),
        (HistoryError("database is locked"), "starling-tui: error: database is locked\n"),
        (
            EngineCrashed("the engine process died (SIGSEGV)"),
            "starling-tui: error: the engine process died (SIGSEGV)\n",
        ),
        (
            PermissionError(13, "Permission denied", "/x"),
            "starling-tui: error: Permission denied: /x\n",
        ),
        (
            UnicodeEncodeError("utf-8", "a\udcff", 1, 2, "surrogates not allowed"),
            "starling-tui: error: text is not valid UTF-8 (byte 0xff at character 1)\n",
        ),
        (
            UnicodeDecodeError("utf-8", b"ab\xfe", 2, 3, "invalid start byte"),
            "starling-tui: error: text is not valid UTF-8 (byte 0xfe at byte 2)\n",
        ),
    ],
)
def test_known_errors_become_one_line(
    error: BaseException,
    shown: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    install_command(monkeypatch, error)
    assert cli_main.main(["boom"]) == 1
    captured = capsys.readouterr()
    assert captured.err == shown and captured.out == ""


def test_ctrl_c_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install_command(monkeypatch, KeyboardInterrupt())
    assert cli_main.main(["boom"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_exit_status_is_the_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    install_command(monkeypatch, 3)
    assert cli_main.main(["boom"]) == 3


def test_bugs_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    install_command(monkeypatch, ZeroDivisionError("a real bug"))
    with pytest.raises(ZeroDivisionError):
        cli_main.main(["boom"])


def test_unknown_conversation_is_one_line() -> None:
    assert_one_line_error(run_cli("history", "show", "nosuchid"), "no conversation 'nosuchid'")


def test_bad_setting_in_environment_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARLING_TUI_TEMPERATURE", "hot")
    assert_one_line_error(run_cli("models"), "STARLING_TUI_TEMPERATURE")


def test_bad_flag_value_is_an_argparse_error() -> None:
    result = run_cli("ask", "--ctx", "lots", "hi")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --ctx: expected an integer" in result.stderr


def test_unknown_command_is_an_argparse_error() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "invalid choice: 'frobnicate'" in result.stderr


def test_broken_command_module_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "starling_tui.cli.boom_cmd", None)  # import fails
    monkeypatch.setitem(cli_main.COMMANDS, "boom", "test command")
    monkeypatch.setattr(cli_main, "available_commands", lambda: ["boom"])
    assert cli_main.main(["boom"]) == 1
    assert capsys.readouterr().err.startswith(
        "starling-tui: error: the 'boom' command is unavailable"
    )


def test_options_alone_go_to_the_default_command(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(cli_main, "available_commands", lambda: ["tui", "ask"])

    def load_command(name: str) -> None:
        seen.append([name])

    monkeypatch.setattr(cli_main, "load_command", load_command)
    with pytest.raises(SystemExit):
        cli_main.main(["--model", "x"])  # the placeholder tui parser rejects the option
    assert seen == [["tui"]]
