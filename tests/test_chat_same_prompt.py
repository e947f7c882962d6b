"""The same conversation and message give the same prompt ids whichever front end sends them.

``tokens --conversation ID MESSAGE``, ``ask --conversation ID MESSAGE`` and the app (its
controller's preview job, F7) all build the request through the chat core; the ids are compared
with SmolLM2's real tokenizer (vocabulary-only loads, no generation).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling_tui import factory
from starling_tui.chat import ChatCore
from starling_tui.cli.main import main
from starling_tui.config import load_settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.history import HistoryStore
from starling_tui.types import ChatRequest
from starling_tui.ui.jobs import ChatJobs
from starling_tui.ui.messages import PreviewReady
from starling_tui.ui.services import Services

MESSAGE = "And what about Italy?"


def saved_conversation() -> str:
    """A conversation with a system prompt, a branch, an empty failed reply, its own max_tokens."""
    with HistoryStore() as store:
        conv = store.create_conversation(system_prompt="Answer in one word.",
                                         sampling={"max_tokens": 7, "top_k": 3})
        user = store.add_message(conv.id, "user", "Capital of France?")
        store.add_message(conv.id, "assistant", "Lyon", parent_id=user.id)  # another branch
        store.add_message(conv.id, "assistant", "", parent_id=user.id, finish_reason="error")
        store.add_message(conv.id, "assistant", "Paris", parent_id=user.id)
        return conv.id


def test_tokens_ask_and_the_app_send_the_same_prompt(
    smollm2_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = saved_conversation()
    flags = ["--model", str(smollm2_gguf), "--ctx", "512", "--temperature", "0.5"]
    settings = load_settings({"ctx": 512, "temperature": 0.5})
    options = factory.engine_options(settings, smollm2_gguf)

    assert main(["tokens", *flags, "--conversation", cid, MESSAGE]) == 0
    out, err = capsys.readouterr()
    tokens_ids = json.loads(out.splitlines()[0])
    assert "max_tokens = 7" in err  # the conversation's own limit is part of what ask sends

    vocab = ProcessEngine()
    posted: list[object] = []
    try:
        vocab.load_vocab(options)
        with HistoryStore() as store:
            services = Services(vocab, store, settings=settings, model_path=str(smollm2_gguf))
            jobs = ChatJobs(ChatCore(store, vocab, settings), services, posted.append)
            jobs.preview(cid, MESSAGE, mode="auto")  # what the app's F7 worker runs
    finally:
        vocab.close()
    (ready,) = posted
    assert isinstance(ready, PreviewReady)
    app_preview = ready.preview

    recorder = FakeEngine(["Rome"])
    assert main(["ask", *flags, "--conversation", cid, MESSAGE],
                engine_factory=lambda _settings: recorder) == 0
    capsys.readouterr()
    (sent,) = recorder.requests
    assert [m.content for m in sent.messages] == [
        "Answer in one word.", "Capital of France?", "Paris", MESSAGE
    ]
    assert (sent.sampling.max_tokens, sent.sampling.top_k, sent.sampling.temperature) == (
        7, 3, 0.5
    )
    ask_ids = ProcessEngine.preview_only(options, sent).token_ids

    assert tokens_ids == list(app_preview.token_ids) == list(ask_ids)
    assert tokens_ids[-3:] != [] and MESSAGE.split()[0] in app_preview.rendered


def test_a_new_chat_previews_what_start_sends(tmp_path: Path) -> None:
    settings = load_settings({"system_prompt": "Be kind.", "top_p": 0.9})
    with HistoryStore(tmp_path / "h.db") as store:
        engine = FakeEngine()
        core = ChatCore(store, engine, settings)
        expected: ChatRequest = core.request(None, "Hello", mode="code")
        pending = core.start("Hello", mode="code")
        pending.run()
    assert engine.requests[0].messages == expected.messages
    assert engine.requests[0].sampling == expected.sampling and expected.mode == "code"
