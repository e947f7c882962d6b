"""Print the README's settings table, derived from the one settings table.

Every row comes from ``starling_tui.config.SETTINGS``: the key and its section, the default as
the config file spells it, the command-line flags the CLI actually builds for it (or "—"), the
environment variable and the help text. Regenerate the README's table after changing a setting::

    python docs/settings_table.py

and paste the output between the README's ``settings table`` markers; ``tests/test_readme.py``
fails while the two differ.
"""

from __future__ import annotations

import argparse
from typing import Any

from starling_tui.cli.options import add_all
from starling_tui.config import SETTINGS, SettingSpec, toml_value

BEGIN_MARKER = "<!-- settings table: `python docs/settings_table.py` prints it -->"
END_MARKER = "<!-- end of settings table -->"
# How the config file spells "automatic" (a default of None), one per kind of setting: "auto"
# for choices, 0 for counts, "" for optional text. The parser decides which one applies.
AUTOMATIC_SPELLINGS: tuple[Any, ...] = ("auto", 0, "")
NO_FLAG = "—"
SECTION_TITLES = {"": "top level", "engine": "`[engine]`", "sampling": "`[sampling]`"}


def file_default(setting: SettingSpec) -> str:
    """The default as written in ``config.toml`` (``"auto"``, ``0``, ``""``, ``4096``…)."""
    if setting.default is not None:
        return toml_value(setting.default)
    for spelling in AUTOMATIC_SPELLINGS:
        if _reads_as_automatic(setting, spelling):
            return toml_value(spelling)
    raise ValueError(f"{setting.name}: no spelling of its automatic default")


def _reads_as_automatic(setting: SettingSpec, spelling: Any) -> bool:
    try:
        return setting.type.parse(spelling) is None
    except ValueError:
        return False


def cli_flags() -> dict[str, tuple[str, ...]]:
    """Each setting's flags as the CLI builds them (``--loop-guard`` gains ``--no-loop-guard``)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_all(parser)
    names = {s.name for s in SETTINGS}
    return {a.dest: tuple(a.option_strings) for a in parser._actions if a.dest in names}


def settings_table() -> str:
    """The Markdown table of every setting, between the README's markers."""
    flags = cli_flags()
    rows = [
        BEGIN_MARKER,
        "| Key | Section | Default | Flag | Environment variable | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        shown_flags = ", ".join(f"`{f}`" for f in flags.get(setting.name, ())) or NO_FLAG
        cells = (
            f"`{setting.name}`",
            SECTION_TITLES[setting.section],
            f"`{file_default(setting)}`",
            shown_flags,
            f"`{setting.env}`",
            setting.help.replace("|", "\\|"),
        )
        rows.append("| " + " | ".join(cells) + " |")
    rows.append(END_MARKER)
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
