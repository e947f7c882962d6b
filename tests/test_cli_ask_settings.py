"""``ask`` and a conversation's own settings: what is stored, and what wins (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_ask import Capture, ask, conv_id

from starling_tui.engine.fake import FakeEngine
from starling_tui.history import HistoryStore
from starling_tui.paths import app_paths
from starling_tui.types import ChatMessage


def test_continued_conversation_keeps_what_was_set_for_it(
    capsys: Capture, smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Precedence: flags > values set for the conversation > env > config file > defaults.

    Only the sampling values given as flags are stored with the conversation; the rest follow
    the settings of the day (issue 11: ``ask --continue`` used to freeze every value).
    """
    engine = FakeEngine()
    model = str(smollm2_gguf)
    _, _, err = ask(
        capsys, "-m", model, "--temperature", "0.7", "--top-k", "5", "--system", "S", "one",
        engine=engine,
    )
    cid = conv_id(err)
    with HistoryStore() as store:
        assert store.get_conversation(cid).sampling == {"temperature": 0.7, "top_k": 5}
    config = app_paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        'system_prompt = "from config"\n[sampling]\ntemperature = 0.2\nmax_tokens = 50\n'
    )
    monkeypatch.setenv("STARLING_TUI_TOP_P", "0.5")
    ask(capsys, "-m", model, "--continue", "two", engine=engine)
    sent = engine.requests[-1]
    assert (sent.sampling.temperature, sent.sampling.top_k) == (0.7, 5)  # its own, not config
    assert (sent.sampling.top_p, sent.sampling.max_tokens) == (0.5, 50)  # env and config
    assert sent.messages[0] == ChatMessage("system", "S")
    ask(capsys, "-m", model, "-c", cid, "--temperature", "0.3", "--system", "T", "three",
        engine=engine)
    sent = engine.requests[-1]
    assert (sent.sampling.temperature, sent.sampling.top_k) == (0.3, 5)  # the flag wins
    assert sent.messages[0] == ChatMessage("system", "T")
    with HistoryStore() as store:
        conv = store.get_conversation(cid)
    assert conv.sampling == {"temperature": 0.3, "top_k": 5} and conv.system_prompt == "T"
    _, _, err = ask(capsys, "-m", model, "new one", engine=engine)
    sent = engine.requests[-1]
    assert conv_id(err) != cid and sent.messages[0] == ChatMessage("system", "from config")
    assert (sent.sampling.temperature, sent.sampling.top_p, sent.sampling.max_tokens) == (
        0.2,
        0.5,
        50,
    )
