"""The chat core with attached files: saved with their message, rebuilt the same, refused early."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_chat_attachments import CharEngine, text_file

from starling_tui import factory
from starling_tui.chat import ChatCore
from starling_tui.chat.attachments import AttachmentError
from starling_tui.config import Settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.history import HistoryStore
from starling_tui.prompt.attachments import render_attachment
from starling_tui.types import Attachment, ChatMessage

CODE = Attachment("a.py", "def f(x):\n    return x\n")
NOTES = Attachment("notes.md", "# Notes\n")


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore(tmp_path / "history.db", save_interval_s=0.0)


def make_core(store: HistoryStore, engine: FakeEngine | None = None) -> ChatCore:
    engine = engine or FakeEngine()
    if engine.info is None:
        engine.load(factory.engine_options(Settings(), "/m.gguf"))
    return ChatCore(store, engine, Settings(system_prompt="Be brief."))


def test_files_are_saved_with_their_message_and_sent_with_it(store: HistoryStore) -> None:
    engine = FakeEngine(["typed"])
    core = make_core(store, engine)
    pending = core.start("Add type hints", attachments=[CODE, NOTES])
    pending.run()
    assert pending.parent.attachments == (CODE, NOTES)
    (sent,) = engine.requests
    assert sent.messages == (ChatMessage("system", "Be brief."),
                             ChatMessage("user", "Add type hints", (CODE, NOTES)))
    (user, reply) = store.active_path(pending.conversation_id)
    assert user.attachments == (CODE, NOTES) and reply.attachments == ()
    assert render_attachment(CODE) in engine.preview(sent).rendered


def test_a_follow_up_carries_its_own_files_and_the_earlier_ones_stay(store: HistoryStore) -> None:
    engine = FakeEngine(["one", "two"])
    core = make_core(store, engine)
    first = core.start("first", attachments=[CODE])
    first.run()
    cid = first.conversation_id
    engine.requests.clear()
    core.send(cid, "second", attachments=[NOTES]).run()
    (sent,) = engine.requests
    users = [m for m in sent.messages if m.role == "user"]
    assert [(m.content, m.attachments) for m in users] == [("first", (CODE,)),
                                                          ("second", (NOTES,))]


def test_regenerate_edit_and_branches_rebuild_the_same_request(store: HistoryStore) -> None:
    engine = FakeEngine(["a", "b", "c", "d", "e"])
    core = make_core(store, engine)
    pending = core.start("Explain", attachments=[CODE])
    pending.run()
    cid = pending.conversation_id
    core.regenerate(cid).run()
    assert engine.requests[1].messages == engine.requests[0].messages
    edited = core.edit_and_resend(pending.parent.id, "Explain briefly")
    edited.run()
    assert edited.parent.attachments == (CODE,)  # an edit keeps the message's files
    assert engine.requests[2].messages[-1] == ChatMessage("user", "Explain briefly", (CODE,))
    other = core.edit_and_resend(pending.parent.id, "Explain", attachments=[NOTES])
    other.run()
    assert engine.requests[3].messages[-1] == ChatMessage("user", "Explain", (NOTES,))
    core.switch_branch(edited.parent.id, -1)  # back to the first version
    core.regenerate(cid).run()
    assert engine.requests[4].messages == engine.requests[0].messages


def test_resume_after_a_restart_previews_the_same_ids(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        core = make_core(store)
        pending = core.start("Explain", attachments=[CODE, NOTES])
        pending.run()
        cid = pending.conversation_id
        before = core.preview(cid, "and now?", attachments=[NOTES])
    with HistoryStore(path) as reopened:
        after = make_core(reopened).preview(cid, "and now?", attachments=[NOTES])
    assert after == before and render_attachment(CODE) in after.rendered


def test_the_preview_of_an_unsent_message_is_what_send_sends(store: HistoryStore) -> None:
    engine = FakeEngine(["x", "y"])
    core = make_core(store, engine)
    expected = core.request(None, "Hello", mode="code", attachments=[CODE])
    core.start("Hello", mode="code", attachments=[CODE]).run()
    assert engine.requests[0].messages == expected.messages
    cid = engine.requests[0].conversation_id
    assert cid is not None
    expected = core.request(cid, "More", attachments=[NOTES])
    core.send(cid, "More", attachments=[NOTES]).run()
    assert engine.requests[1].messages == expected.messages


def test_files_that_do_not_fit_leave_the_history_untouched(store: HistoryStore) -> None:
    core = make_core(store, CharEngine(1024))
    big = text_file("big.py", 5000)
    with pytest.raises(AttachmentError, match=r"big\.py is too large"):
        core.start("Explain", attachments=[big])
    assert store.list_conversations() == []
    pending = core.start("Hi", attachments=[text_file("small.py", 50)])
    pending.run()
    cid = pending.conversation_id
    before = store.active_path(cid)
    with pytest.raises(AttachmentError, match=r"big\.py is too large"):
        core.send(cid, "Explain", attachments=[big])
    with pytest.raises(AttachmentError, match="leave out"):
        core.send(cid, "Both", attachments=[text_file("a.py", 400), text_file("b.py", 400)])
    assert store.active_path(cid) == before
    with pytest.raises(AttachmentError, match=r"leave out small\.py"):
        core.edit_and_resend(before[0].id, "much longer " * 33)
    assert store.siblings(before[0].id) == [before[0]]


@pytest.mark.slow
def test_the_real_engine_shifts_a_file_out_with_its_message(smollm2_gguf: Path) -> None:
    """SmolLM2's vocabulary and template, a 512-token window: as the chat grows the prompt
    holds the file's block whole while its question is in the window, and no line of it after."""
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.parent.process import ProcessEngine
    from starling_tui.types import ChatRequest

    big = Attachment("table.py", "".join(f"ROW_{i} = {i * 7}\n" for i in range(8)))
    block = render_attachment(big)
    engine = ProcessEngine()
    seen: set[bool] = set()
    try:
        engine.load_vocab(EngineOptions(model_path=str(smollm2_gguf), n_ctx=512,
                                        context_overflow="shift"))
        messages: tuple[ChatMessage, ...] = (ChatMessage("user", "Question 0", (big,)),)
        for turn in range(1, 12):
            messages += (ChatMessage("assistant", f"Answer {turn}: " + "fine " * 8),)
            messages += (ChatMessage("user", f"Question {turn}"),)
            preview = engine.preview(ChatRequest(messages))
            kept = "Question 0" in preview.rendered
            seen.add(kept)
            assert (block in preview.rendered) == kept
            if not kept:
                assert "ROW_" not in preview.rendered and "table.py" not in preview.rendered
    finally:
        engine.close()
    assert seen == {True, False}  # the window did shift the file's turn out
