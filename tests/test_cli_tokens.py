"""``tokens`` input checks that need no model: the messages file and its text."""

from __future__ import annotations

import io

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
