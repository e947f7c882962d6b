"""``tokens`` input checks that need no model: the messages file and its text."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from starling_tui.cli.tokens_cmd import _read_messages_file, parse_messages
from starling_tui.errors import UserError


def test_messages_with_text_that_is_not_utf8_are_refused() -> None:
    with pytest.raises(UserError, match=r"^m\.json: message 1 is not valid UTF-8 text"):
        parse_messages(
            '[{"role": "user", "content": "ok"}, {"role": "user", "content": "\\udcff"}]',
            "m.json",
        )


def test_messages_on_stdin_that_are_not_utf8_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.TextIOWrapper(io.BytesIO(b'[{"role": "user", "content": "\xff"}]'), "utf-8")
    monkeypatch.setattr("sys.stdin", raw)
    with pytest.raises(UserError, match=r"^the messages JSON on stdin is not valid UTF-8 text"):
        _read_messages_file("-")


def test_sources_are_checked_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from starling_tui.cli.main import main

    assert main(["tokens", "--model", "/nonexistent.gguf"]) == 1
    assert "give a PROMPT, --conversation ID or --messages FILE" in capsys.readouterr().err
    assert main(["tokens", "--messages", "m.json", "hello"]) == 1
    assert "either PROMPT or --messages" in capsys.readouterr().err


def test_conversation_and_next_message_with_its_own_settings(
    smollm2_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from starling_tui.cli.main import main
    from starling_tui.engine.fake import FakeEngine
    from starling_tui.history import HistoryStore

    with HistoryStore() as store:
        conv = store.create_conversation(system_prompt="S", mode="code",
                                         sampling={"max_tokens": 9})
        store.add_message(conv.id, "user", "one")
    engine = FakeEngine()
    status = main(["tokens", "--model", str(smollm2_gguf), "-c", conv.id, "two"],
                  engine_factory=lambda _settings: engine)
    out, err = capsys.readouterr()
    assert status == 0 and "S<|end_of_turn|>" in out and "one" in out and "two" in out
    assert "max_tokens = 9" in err
    with HistoryStore() as store:
        assert len(store.active_path(conv.id)) == 1  # tokens saves nothing
