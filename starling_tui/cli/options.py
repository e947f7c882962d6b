"""Command-line options shared by ``ask``, ``tokens`` and the chat app (``tui``).

``--file``/``-f`` (``ask`` and ``tokens``) attaches text files to the message, so ``tokens -f
a.py PROMPT`` shows exactly what ``ask -f a.py PROMPT`` sends.

The flags are built from the settings table (``starling_tui.config.SETTINGS``): every setting
with a flag gets one, with the table's help text and metavar, in the group of its section. Each
option's ``dest`` is the :class:`~starling_tui.config.Settings` field it overrides and its
default is ``None`` ("not given"), so :func:`settings_from_args` can layer flags over the
environment and the config file. Values are checked by the table's parser, with argparse's usual
error format. For a continued conversation its saved sampling settings sit between the flags and
the rest.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from starling_tui.config import SETTINGS, Settings, SettingSpec

SAMPLING_FIELDS = frozenset(s.name for s in SETTINGS if s.section == "sampling")


def checked(field: str) -> Callable[[str], str]:
    """An argparse ``type`` that validates a setting but keeps the raw text for layering."""

    def check(text: str) -> str:
        from starling_tui.config import parse_value
        from starling_tui.errors import ConfigError

        try:
            parse_value(field, text)
        except ConfigError as error:
            message = str(error).split(": ", 1)[-1]
            raise argparse.ArgumentTypeError(message) from None
        return text

    check.__name__ = field  # argparse names the type in some messages
    return check


def add_flag(group: Any, setting: SettingSpec) -> None:
    """The setting's flag (``--name/--no-name`` for booleans), default None = not given."""
    if setting.type.kind == "bool":
        group.add_argument(
            *setting.flags, dest=setting.name, action=argparse.BooleanOptionalAction,
            default=None, help=setting.help,
        )
        return
    group.add_argument(
        *setting.flags, dest=setting.name, metavar=setting.metavar, type=checked(setting.name),
        default=None, help=setting.help,
    )


def _flagged(section: str) -> list[SettingSpec]:
    return [s for s in SETTINGS if s.section == section and s.flags]


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model``: a GGUF path or a name from the models folder."""
    for setting in _flagged(""):
        add_flag(parser, setting)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """The flags of the ``[engine]`` settings that have one (``--ctx``, ``--engine URL``…: the
    README's settings table lists them all)."""
    group = parser.add_argument_group("engine")
    for setting in _flagged("engine"):
        add_flag(group, setting)


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    """The flags of the ``[sampling]`` settings (``--temperature``…; a boolean also gets its
    ``--no-`` form, as ``--no-loop-guard``)."""
    group = parser.add_argument_group("sampling")
    for setting in _flagged("sampling"):
        add_flag(group, setting)


def add_file_option(parser: argparse.ArgumentParser) -> None:
    """``--file PATH`` / ``-f PATH``: attach a text file (repeatable; ``-`` reads stdin)."""
    parser.add_argument(
        "--file", "-f", dest="files", metavar="PATH", action="append", default=[],
        help="attach a text file to the message (repeat for more files; '-' reads stdin); "
        "the model sees its name and its text in a fenced block before the message",
    )


def add_all(parser: argparse.ArgumentParser) -> None:
    """Every shared option: model, engine and sampling."""
    add_model_option(parser)
    add_engine_options(parser)
    add_sampling_options(parser)


def settings_from_args(
    args: argparse.Namespace, stored_sampling: Mapping[str, Any] | None = None
) -> Settings:
    """Settings with these flags over the environment, the config file and the defaults.

    ``stored_sampling`` (a continued conversation's saved sampling) goes between: flags beat
    it, and it beats the environment, the config file and the defaults.
    """
    from starling_tui.config import load_settings

    layered: dict[str, Any] = {}
    for name in SAMPLING_FIELDS & set(stored_sampling or {}):
        value = (stored_sampling or {})[name]
        # None means "no limit" there; here None would mean "not given", and 0 is "no limit".
        layered[name] = 0 if value is None and name == "max_tokens" else value
    layered.update({name: value for name, value in vars(args).items() if value is not None})
    return load_settings(layered)
