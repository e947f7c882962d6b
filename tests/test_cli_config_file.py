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
