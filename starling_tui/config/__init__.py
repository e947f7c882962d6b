"""Settings: defaults, the TOML config file, ``STARLING_TUI_*`` environment variables, CLI flags.

Precedence, highest first: command-line flags, environment variables, the config file, defaults.
(``ask --continue`` puts the conversation's own saved sampling settings just below the flags.)

The settings table: every setting is declared once, as a field of :class:`Settings`
(:mod:`.settings`), with its section, default, value type (validation and bounds), help text,
form label and command-line flag. Everything else is derived from it:

- ``SETTINGS``: the specs (:class:`SettingSpec`) in file order; ``spec(name)`` finds one.
  ``spec.env`` (``STARLING_TUI_CTX``), ``spec.flag`` (``--ctx``, or None), ``spec.help``,
  ``spec.section``, ``spec.default``, ``spec.parse(value, source)`` (validated value or a
  one-line :class:`ConfigError`), ``spec.form`` (:class:`FormSpec`: label, kind — bool, int,
  float, choice or text —, choices, minimum, maximum, hint), ``spec.parse_text(text)`` (a form
  field: empty = the default) and ``spec.to_text(value)`` (what a form field shows).
- ``load_settings(cli, environ=, path=)``: defaults < file < environment < ``cli`` values.
- ``Settings.replace(**changes)``: a validated copy.
- ``update_config_file(path=None, **changes)`` (None removes a key) and ``save_settings``:
  edits made with ``tomlkit`` (:mod:`.toml_file`), so comments, blank lines and every key not
  changed stay as they were; writes are atomic.
- ``parse_gpu_layers(value)``: the one parser of ``n_gpu_layers`` ("auto", "all" or N).
- ``starling_tui.cli.options`` builds the command-line flags from ``SETTINGS``.

The config file is ``config.toml`` in the config folder (``app_paths().config_file``; with
``STARLING_TUI_HOME=/x`` it is ``/x/config/config.toml``). Every key is optional; a missing key
means the default. Each key's default, bounds and meaning are declared in the table
(:mod:`.settings`); ``starling-tui ask --help`` lists the ones with flags.

Environment variables: ``STARLING_TUI_`` + the key in upper case, e.g. ``STARLING_TUI_MODEL``,
``STARLING_TUI_CTX``, ``STARLING_TUI_TEMPERATURE``, ``STARLING_TUI_N_GPU_LAYERS``,
``STARLING_TUI_EXTRA_BUFTS=1``; any other ``STARLING_TUI_`` variable than those and the three
read elsewhere (:data:`.sources.NOT_SETTINGS`) is refused like an unknown key. CLI flags are
declared in the table (``spec(name).flag``): mostly the key with dashes (``--n-gpu-layers``,
``--ctx``, ``--temperature``…), ``--engine URL`` for ``engine_url``,
``--loop-guard/--no-loop-guard``; see ``starling-tui ask --help``.
"""

from starling_tui.config.settings import (
    SECTIONS,
    SETTINGS,
    Settings,
    parse_value,
    spec,
)
from starling_tui.config.sources import (
    config_path,
    load_settings,
    read_env_values,
    read_file_values,
)
from starling_tui.config.spec import ENV_PREFIX, FormSpec, SettingSpec
from starling_tui.config.toml_file import edit_toml, to_toml, toml_value
from starling_tui.config.values import parse_gpu_layers
from starling_tui.config.writing import save_settings, update_config_file, write_file_values

__all__ = [
    "ENV_PREFIX",
    "SECTIONS",
    "SETTINGS",
    "FormSpec",
    "SettingSpec",
    "Settings",
    "config_path",
    "edit_toml",
    "load_settings",
    "parse_gpu_layers",
    "parse_value",
    "read_env_values",
    "read_file_values",
    "save_settings",
    "spec",
    "to_toml",
    "toml_value",
    "update_config_file",
    "write_file_values",
]
