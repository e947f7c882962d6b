"""The chat core's flow: sampling layering, regenerate, edit-and-resend, branches, stream-and-save,
export — with a ``FakeEngine`` and a real store (no Textual, no model)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling_tui import factory
from starling_tui.chat import ChatCore
from starling_tui.config import Settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.errors import EngineCrashed, EngineError, UserError
from starling_tui.history import HistoryStore
from starling_tui.types import ChatRequest


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(tmp_path / "history.db", save_interval_s=0.0) as opened:
        yield opened


def core_with(store: HistoryStore, engine: FakeEngine, **settings: object) -> ChatCore:
    engine.load(factory.engine_options(Settings(), "/models/m.gguf"))
    return ChatCore(store, engine, Settings().replace(**settings))


def test_conversation_stores_only_what_was_set_and_follows_the_settings(
    store: HistoryStore,
) -> None:
    engine = FakeEngine()
    core = core_with(store, engine, temperature=0.2, max_tokens=50)
    pending = core.start("hi", sampling_overrides={"top_k": 5})
    pending.run()
    cid = pending.conversation_id
    assert store.get_conversation(cid).sampling == {"top_k": 5}
    core.settings = core.settings.replace(temperature=0.9)  # the settings screen changed it
    core.send(cid, "again").run()
    sent = engine.requests[-1].sampling
    assert (sent.temperature, sent.top_k, sent.max_tokens) == (0.9, 5, 50)
    core.configure(cid, sampling_changes={"max_tokens": None})  # "no limit", for this one
    assert core.request(cid).sampling.max_tokens is None
    core.configure(cid, sampling_cleared=("max_tokens",))
    assert core.request(cid).sampling.max_tokens == 50
    core.configure(cid, sampling_changes={"min_p": 0.1}, replace_sampling=True)  # the form
    assert store.get_conversation(cid).sampling == {"min_p": 0.1}
    with pytest.raises(ValueError, match="unknown sampling"):
        core.configure(cid, sampling_changes={"temprature": 1})


def test_request_is_what_send_sends(store: HistoryStore) -> None:
    engine = FakeEngine()
    core = core_with(store, engine, system_prompt="Be brief.")
    assert core.request(None, "first").messages[0].content == "Be brief."
    pending = core.start("first", mode="code")
    pending.run()
    cid = pending.conversation_id
    expected = core.request(cid, "second")
    assert core.preview(cid, "second") == engine.preview(expected)
    core.send(cid, "second").run()
    assert engine.requests[-1] == expected
    assert expected.mode == "code" and expected.conversation_id == cid


def test_regenerate_adds_a_sibling_reply(store: HistoryStore) -> None:
    core = core_with(store, FakeEngine(["one", "two"]))
    first = core.start("question")
    first.run()
    cid = first.conversation_id
    again = core.regenerate(cid)
    assert again.parent.content == "question"
    reply = again.run().message
    assert [m.content for m in store.siblings(reply.id)] == ["one", "two"]
    assert [m.content for m in store.active_path(cid)] == ["question", "two"]
    assert core.switch_branch(reply.id, -1).content == "one"
    assert [m.content for m in store.active_path(cid)] == ["question", "one"]
    with pytest.raises(UserError, match="nothing to regenerate"):
        core.regenerate(core.new_conversation().id)


def test_edit_and_resend_branches_from_the_edited_message(store: HistoryStore) -> None:
    engine = FakeEngine()
    core = core_with(store, engine)
    pending = core.start("one")
    pending.run()
    cid = pending.conversation_id
    core.send(cid, "two").run()
    second_user = store.active_path(cid)[2]
    core.edit_and_resend(second_user.id, "deux").run()
    assert [m.content for m in store.active_path(cid)] == [
        "one", "You said: one", "deux", "You said: deux"
    ]
    assert [m.content for m in engine.requests[-1].messages] == ["one", "You said: one", "deux"]
    shown = core.switch_branch(store.active_path(cid)[2].id, 1)  # wraps to the first branch
    assert shown.content == "two"
    assert [m.content for m in store.active_path(cid)][-2:] == ["two", "You said: two"]


def test_send_after_a_message_on_screen(store: HistoryStore) -> None:
    core = core_with(store, FakeEngine())
    pending = core.start("one")
    pending.run()
    cid = pending.conversation_id
    root = store.active_path(cid)[0]
    branch = core.send(cid, "instead", after=root.id)
    assert [m.content for m in branch.request.messages] == ["one", "instead"]


class LoopingEngine(FakeEngine):
    """Stops its reply the way the loop guard does."""

    def generate(self, request: ChatRequest) -> Iterator[str]:
        yield from super().generate(request)
        self.last_stats.finish_reason = "repetition"


def test_finish_reasons_are_saved_with_the_partial_reply(store: HistoryStore) -> None:
    looping = core_with(store, LoopingEngine(["la la la"])).start("sing")
    result = looping.run()
    assert (result.finish_reason, result.message.content) == ("repetition", "la la la")
    failing = core_with(store, FakeEngine(["will crash"], fail_on="crash")).start("x")
    with pytest.raises(EngineCrashed):
        failing.run()
    reply = store.active_path(failing.conversation_id)[-1]
    assert reply.finish_reason == "error" and "scripted failure" in reply.stats["error"]


class RefusingEngine(FakeEngine):
    """Refuses the request before streaming anything (as ``context_overflow = "error"`` does)."""

    def generate(self, request: ChatRequest) -> Iterator[str]:
        raise EngineError("the prompt needs 900 tokens but only 512 fit")


def test_a_refused_request_is_saved_as_an_error(store: HistoryStore) -> None:
    pending = core_with(store, RefusingEngine()).start("too long")
    with pytest.raises(EngineError, match="only 512 fit"):
        pending.run()
    reply = store.active_path(pending.conversation_id)[-1]
    assert (reply.role, reply.finish_reason) == ("assistant", "error")
    assert "only 512 fit" in reply.stats["error"]


def test_cancel_from_another_thread_keeps_the_partial_reply(store: HistoryStore) -> None:
    engine = FakeEngine([" ".join(f"w{i}" for i in range(200))], delay_s=0.01)
    core = core_with(store, engine)
    pending = core.start("long one")
    shown: list[str] = []

    def show(piece: str) -> None:
        shown.append(piece)
        if len(shown) == 3:
            threading.Thread(target=core.cancel).start()

    result = pending.run(on_piece=show)
    assert result.finish_reason == "cancelled"
    assert result.message.content == "".join(shown) and 3 <= len(shown) < 200


def test_begin_shows_the_reply_row_before_streaming(store: HistoryStore) -> None:
    core = core_with(store, FakeEngine(["hello"]))
    pending = core.start("hi")
    row = pending.begin()
    assert (row.role, row.content, row.finish_reason) == ("assistant", "", "incomplete")
    assert pending.begin().id == row.id and pending.run().message.id == row.id


def test_one_markdown_export_written_atomically(store: HistoryStore, tmp_path: Path) -> None:
    core = core_with(store, FakeEngine(["An *answer*"]), system_prompt="sys")
    pending = core.start("Export me")
    pending.run()
    path = core.export_to_folder(pending.conversation_id, tmp_path / "out")
    assert path.name == f"export-me-{pending.conversation_id}.md"
    text = path.read_text()
    assert text.startswith("# Export me\n") and "## System\n\nsys" in text
    assert "## You\n\nExport me\n\n## Assistant\n\nAn *answer*\n" in text
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    assert core.markdown(pending.conversation_id) == text
    with pytest.raises(UserError, match="is a folder"):
        core.export_markdown(pending.conversation_id, tmp_path / "out")
