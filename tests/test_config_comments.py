"""``update_config_file`` changes only the keys it is given; the rest stays byte-identical."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from starling_tui.config import load_settings, save_settings, update_config_file
from starling_tui.errors import ConfigError
from starling_tui.paths import app_paths

COMMENTED = '''\
# My starling setup -- keep these notes!
model = "old-model"   # the one I use most
theme = "nord"
system_prompt = """
Be brief.
model = "this line is inside the string"
"""

[engine]
# GPU box at work
n_gpu_layers = 20  # more crashes
ctx = 8192

[sampling]
temperature = 0.7 # "# not a comment start"
seed = 1
'''


def write(text: str) -> Path:
    path = app_paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_changed_keys_are_rewritten_in_place_and_comments_kept() -> None:
    path = write(COMMENTED)
    update_config_file(model="starling", temperature=0.2, n_gpu_layers="all")
    expected = (
        COMMENTED.replace('model = "old-model"   #', 'model = "starling"   #')
        .replace("n_gpu_layers = 20  #", 'n_gpu_layers = "all"  #')
        .replace('temperature = 0.7 # "#', 'temperature = 0.2 # "#')
    )
    assert path.read_text(encoding="utf-8") == expected


def test_missing_keys_go_into_their_table_and_none_removes_a_key() -> None:
    path = write(COMMENTED)
    update_config_file(threads=1, top_k=40, seed=None, mlock=True, system_prompt=None)
    text = path.read_text(encoding="utf-8")
    assert text == (
        COMMENTED.replace('system_prompt = """\nBe brief.\nmodel = "this line is inside the '
                          'string"\n"""\n', "")
        .replace("ctx = 8192\n", "ctx = 8192\nthreads = 1\nmlock = true\n")
        .replace("seed = 1\n", "top_k = 40\n")
    )
    data = tomllib.loads(text)
    assert data["engine"]["threads"] == 1 and data["sampling"] == {"temperature": 0.7, "top_k": 40}


def test_a_missing_table_is_appended_and_root_keys_go_before_the_first_table() -> None:
    path = write('# only a comment\n[sampling]\nseed = 3 # lucky\n')
    update_config_file(batch=256, model="m")
    assert path.read_text(encoding="utf-8") == (
        '# only a comment\nmodel = "m"\n[sampling]\nseed = 3 # lucky\n\n[engine]\nbatch = 256\n'
    )
    assert load_settings(environ={}).batch == 256


def test_dotted_keys_and_no_trailing_newline() -> None:
    path = write("engine.ctx = 100 # dotted\ntheme = 'x'")
    update_config_file(ctx=200, theme="y")
    text = path.read_text(encoding="utf-8")
    # What the product promises: the values, the dotted key and its comment kept, a final
    # newline; not which quote style the TOML library writes for an existing string.
    assert tomllib.loads(text) == {"engine": {"ctx": 200}, "theme": "y"}
    assert text.startswith("engine.ctx = 200 # dotted\n") and text.endswith("\n")
    assert text.count("\n") == 2


def test_a_new_file_and_save_settings_keep_comments_too() -> None:
    path = app_paths().config_file
    update_config_file(seed=5)
    assert tomllib.loads(path.read_text()) == {"sampling": {"seed": 5}}
    write(COMMENTED)
    settings = load_settings(environ={}).replace(seed=9, ctx=0)
    save_settings(settings)
    text = path.read_text(encoding="utf-8")
    assert "# GPU box at work\n" in text and "n_gpu_layers = 20  # more crashes\n" in text
    assert "seed = 9\n" in text and "ctx =" not in text
    assert load_settings(environ={}) == settings


def test_a_broken_file_is_not_touched() -> None:
    path = write("model = \n# half-edited\n")
    with pytest.raises(ConfigError):
        update_config_file(seed=1)
    assert path.read_text() == "model = \n# half-edited\n"


def test_a_file_that_is_not_utf8_is_one_line_and_untouched() -> None:
    path = app_paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'theme = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"config\.toml: not UTF-8 text \(invalid"):
        update_config_file(seed=1)
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_settings(environ={})
    assert path.read_bytes() == b'theme = "caf\xe9"\n'


def test_an_unusual_layout_falls_back_to_a_correct_rewrite() -> None:
    # An inline table cannot be edited line by line; the result must still be right.
    path = write("engine = { ctx = 100 }\n")
    update_config_file(batch=64)
    assert tomllib.loads(path.read_text()) == {"engine": {"ctx": 100, "batch": 64}}
