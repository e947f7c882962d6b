"""Settings: defaults < file < environment < CLI flags; validation; the TOML writer."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from starling_tui import config
from starling_tui.config import Settings, load_settings, save_settings, update_config_file
from starling_tui.errors import ConfigError
from starling_tui.paths import app_paths


def write_config(text: str) -> Path:
    path = app_paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env() -> None:
    assert load_settings(environ={}) == Settings()
    assert Settings().temperature == 0.0 and Settings().n_gpu_layers == "auto"


def test_precedence_cli_over_env_over_file() -> None:
    write_config(
        'model = "from-file"\n[engine]\nctx = 2048\nthreads = 1\n'
        "[sampling]\ntemperature = 0.7\ntop_k = 40\n"
    )
    env = {
        "STARLING_TUI_CTX": "4096",
        "STARLING_TUI_TEMPERATURE": "0.2",
        "STARLING_TUI_MODEL": "from-env",
    }
    cli = {"temperature": "0.9", "model": None, "command": "ask", "prompt": "hi"}
    settings = load_settings(cli, environ=env)
    assert settings.temperature == 0.9  # CLI
    assert settings.ctx == 4096 and settings.model == "from-env"  # env
    assert settings.threads == 1 and settings.top_k == 40  # file
    assert settings.batch == 512  # default


def test_zero_and_auto_mean_automatic() -> None:
    write_config(
        '[engine]\nctx = 0\nflash_attn = "auto"\nn_gpu_layers = "all"\n[sampling]\nmax_tokens = 0\n'
    )
    settings = load_settings(environ={"STARLING_TUI_EXTRA_BUFTS": "1"})
    assert settings.ctx is None and settings.flash_attn is None
    assert settings.max_tokens is None and settings.n_gpu_layers == "all"
    assert settings.extra_bufts is True
    assert load_settings({"ctx": "0"}, environ={"STARLING_TUI_CTX": "512"}).ctx is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[engine]\nctx = "big"\n', "ctx: expected an integer"),
        ("[sampling]\ntop_p = 1.5\n", "top_p: expected a number between 0 and 1"),
        ("[engine]\nturbo = true\n", "unknown setting [engine] turbo"),
        ("colour = 1\n", "unknown setting 'colour'"),
        ("[engine\n", "config.toml"),
        ('[engine]\nn_gpu_layers = "some"\n', 'expected "auto", "all" or a number'),
    ],
)
def test_bad_file_values_are_one_line_errors(text: str, message: str) -> None:
    write_config(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        load_settings(environ={})
    assert "\n" not in str(raised.value)


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^STARLING_TUI_MMAP: mmap: expected true or false"):
        load_settings(environ={"STARLING_TUI_MMAP": "perhaps"})


def test_save_writes_only_changes_and_round_trips() -> None:
    settings = Settings().replace(
        model="starling",
        temperature=0.3,
        ctx=8192,
        system_prompt='say "hi"\n\tand\x7f bye',
        n_gpu_layers=12,
    )
    path = save_settings(settings)
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert data == {
        "model": "starling",
        "system_prompt": 'say "hi"\n\tand\x7f bye',
        "engine": {"n_gpu_layers": 12, "ctx": 8192},
        "sampling": {"temperature": 0.3},
    }
    assert load_settings(environ={}) == settings
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_update_keeps_other_keys_and_removes_none() -> None:
    write_config('theme = "nord"\n[sampling]\nseed = 7\n')
    update_config_file(model="smol", seed=None)
    assert app_paths().config_file.read_text() == 'theme = "nord"\nmodel = "smol"\n[sampling]\n'
    assert tomllib.loads(app_paths().config_file.read_text()) == {
        "model": "smol",
        "theme": "nord",
        "sampling": {},  # the emptied table's header stays, as every line not changed does
    }
    with pytest.raises(ConfigError):
        update_config_file(top_k=-1)
    assert load_settings(environ={}).model == "smol"


def test_toml_value_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        config.toml_value([1, 2])


def test_text_settings_must_be_utf8() -> None:
    # An environment variable holding undecodable bytes arrives with surrogate escapes.
    with pytest.raises(ConfigError, match="STARLING_TUI_SYSTEM_PROMPT: system_prompt: expected"):
        load_settings(environ={"STARLING_TUI_SYSTEM_PROMPT": "be \udcff"})
    with pytest.raises(ConfigError, match="UTF-8"):
        Settings().replace(theme="\udcff")
