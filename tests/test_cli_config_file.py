"""A config file the program cannot take is said in one line on stderr (exit 1), never ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.cli.main import main
from starling_tui.engine.fake import FakeEngine
from starling_tui.history import HistoryStore


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("temprature = 0.7\n", "unknown setting 'temprature'"),
        ("[sampling]\ntemprature = 0.7\n", "unknown setting [sampling] temprature"),
        ('[engine]\ncontext_overflow = "wrap"\n',
         'context_overflow: expected "shift", "drop" or "error", got \'wrap\''),
        ("[engine]\nctx = -1\n", "ctx: expected a number >= 0"),
    ],
)
@pytest.mark.parametrize("command", [["ask", "hi"], ["tokens", "hi"]])
def test_a_bad_key_or_value_is_one_line_on_stderr_and_exit_1(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], text: str, said: str,
    command: list[str],
) -> None:
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir()
    config.write_text(text)
    status = main(command, engine_factory=lambda _settings: FakeEngine(["never"]))
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert err.startswith(f"starling-tui: error: {config}: ") and said in err
    assert err.count("\n") == 1
    with HistoryStore() as store:
        assert store.list_conversations() == []


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("STARLING_TUI_TEMPRATURE",
         "STARLING_TUI_TEMPRATURE is not a setting (did you mean STARLING_TUI_TEMPERATURE?)"),
        ("STARLING_TUI_COLOUR", "STARLING_TUI_COLOUR is not a setting"),
    ],
)
def test_a_misspelt_environment_variable_is_one_line_on_stderr_and_exit_1(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    name: str, said: str,
) -> None:
    monkeypatch.setenv(name, "0.7")
    status = main(["ask", "hi"], engine_factory=lambda _settings: FakeEngine(["never"]))
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert err.startswith("starling-tui: error: environment variable ") and said in err
    assert err.count("\n") == 1
    with HistoryStore() as store:
        assert store.list_conversations() == []


def test_the_variables_that_are_not_settings_are_taken() -> None:
    """STARLING_TUI_HOME, the llama.cpp log switch and the API key are read where they act;
    the settings' reader knows them by the names those places use."""
    from starling_tui.config.sources import NOT_SETTINGS, read_env_values
    from starling_tui.engine.remote.credentials import KEY_VARIABLE
    from starling_tui.llama.backend import LLAMA_LOG_ENV
    from starling_tui.paths import HOME_ENV

    assert set(NOT_SETTINGS) == {HOME_ENV, LLAMA_LOG_ENV, KEY_VARIABLE}
    assert read_env_values({name: "1" for name in NOT_SETTINGS}) == {}
