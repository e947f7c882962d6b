"""``starling-tui`` entry point: argparse, lazy subcommands, one-line errors.

Each subcommand lives in ``starling_tui/cli/<name>_cmd.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Only the module of the command being run
is imported (``--help`` imports none of them, so it stays fast and never loads llama_cpp,
numpy or Textual); a module that is absent is simply not offered. With no subcommand, the
chat app (``tui``) starts and receives the arguments.

``main(argv, engine_factory=...)`` hands an engine factory (``Callable[[Settings], Engine]``)
to the commands that run a model (``args.engine_factory``); tests and demos inject a scripted
engine this way, also in a subprocess through an entry script of their own.

Known failures (:class:`~starling_tui.errors.UserError`, :class:`EngineError`, history and OS
errors, and text that is not valid UTF-8) print ``starling-tui: error: <one line>`` and exit 1;
Ctrl-C exits 130 quietly.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starling_tui.factory import EngineFactory

PROG = "starling-tui"
DEFAULT_COMMAND = "tui"
# name -> one-line help; the order is the order of ``--help``.
COMMANDS: dict[str, str] = {
    "tui": "open the chat app (the default when no command is given)",
    "ask": "ask a question from the shell, streaming the reply (saved to history)",
    "tokens": "show the exact prompt token ids and the rendered prompt",
    "history": "list, show, search, export, rename or delete conversations",
    "models": "list the GGUF models in the models folder",
    "pull": "download the Starling model and convert it to GGUF",
    "cache": "show or clear saved conversation states",
    "eval": "measure a model's perplexity (and KL divergence from a reference)",
}


def command_module_name(name: str) -> str:
    """The module implementing subcommand ``name``."""
    return f"starling_tui.cli.{name}_cmd"


def available_commands() -> list[str]:
    """Subcommands whose module exists (found without importing it)."""
    found = []
    for name in COMMANDS:
        try:
            if importlib.util.find_spec(command_module_name(name)) is not None:
                found.append(name)
        except (ImportError, ValueError):
            continue
    return found


def load_command(name: str) -> ModuleType:
    """Import a subcommand's module; UserError when it cannot be imported or is incomplete."""
    from starling_tui.errors import UserError

    try:
        module = importlib.import_module(command_module_name(name))
    except ImportError as error:
        raise UserError(f"the {name!r} command is unavailable ({error})") from None
    if not (hasattr(module, "add_parser") and hasattr(module, "run")):
        raise UserError(f"the {name!r} command is unavailable (incomplete module)")
    return module


def _version() -> str:
    from starling_tui import __version__

    return __version__


def build_parser(
    commands: Sequence[str], selected: ModuleType | None, name: str | None
) -> argparse.ArgumentParser:
    """The top-level parser; only ``selected`` gets its real sub-parser, others a placeholder."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Offline terminal chat with Starling-LM-7B-beta LaserRMT (and other GGUFs).",
        epilog=f"With no command, the chat app starts ('{PROG} tui --help' for its options).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        if command == name and selected is not None:
            selected.add_parser(subparsers)
        else:
            subparsers.add_parser(command, help=COMMANDS[command], add_help=False)
    return parser


def _pick_command(argv: list[str], commands: Sequence[str]) -> tuple[str | None, list[str]]:
    """Which subcommand ``argv`` runs; only options (or nothing) → the TUI gets them."""
    if argv and argv[0] in commands:
        return argv[0], argv
    if argv and (argv[0] in {"-h", "--help", "--version"} or not argv[0].startswith("-")):
        return None, argv  # help, or an unknown command for argparse to report
    if DEFAULT_COMMAND in commands:
        return DEFAULT_COMMAND, [DEFAULT_COMMAND, *argv]
    return None, argv


def main(argv: Sequence[str] | None = None, engine_factory: EngineFactory | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return the exit status.

    ``engine_factory`` (``Settings -> Engine``, default: the llama.cpp engine) is what the
    commands that run a model use to create it.
    """
    try:
        return _main(list(sys.argv[1:] if argv is None else argv), engine_factory)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(argv: list[str], engine_factory: EngineFactory | None = None) -> int:
    from starling_tui.errors import UserError

    commands = available_commands()
    name, argv = _pick_command(argv, commands)
    try:
        module = load_command(name) if name else None
    except UserError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    parser = build_parser(commands, module, name)
    args = parser.parse_args(argv)
    if module is None:
        parser.print_help()
        return 0
    args.engine_factory = engine_factory
    return run_command(module, args)


def run_command(module: ModuleType, args: argparse.Namespace) -> int:
    """Run a subcommand, turning known failures into one line on stderr and status 1."""
    import sqlite3

    from starling_tui.errors import EngineError, UserError, one_line
    from starling_tui.text import describe_unicode_error

    try:
        return int(module.run(args) or 0)
    except (UserError, EngineError, sqlite3.Error, OSError) as error:
        if isinstance(error, BrokenPipeError):
            raise
        print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except UnicodeError as error:
        # Last resort: commands check user text early; this catches a path they missed.
        print(f"{PROG}: error: text is not valid UTF-8 ({describe_unicode_error(error)})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
