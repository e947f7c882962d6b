"""``ChatCore`` driven directly with a ``FakeEngine`` and a store (no argparse, no model)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from starling_tui import factory
from starling_tui.chat import ChatCore
from starling_tui.config import Settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.errors import HistoryError, UserError
from starling_tui.history import HistoryStore


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore(tmp_path / "history.db", save_interval_s=0.0)


def make_core(
    store: HistoryStore, engine: FakeEngine | None = None, settings: Settings | None = None
) -> ChatCore:
    engine = engine or FakeEngine()
    engine.load(factory.engine_options(Settings(), "/m.gguf"))
    return ChatCore(store, engine, settings or Settings())


class Interloper(HistoryStore):
    """A store whose every user message is followed at once by another process's message."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, save_interval_s=0.0)
        self.other = HistoryStore(path)

    def add_message(self, conversation_id: str, role: str, content: str, **kw: Any) -> Any:
        message = super().add_message(conversation_id, role, content, **kw)
        if role == "user":
            self.other.add_message(conversation_id, "user", "from another process")
        return message


def test_reply_is_parented_on_its_own_user_message_despite_another_writer(
    tmp_path: Path,
) -> None:
    store = Interloper(tmp_path / "history.db")
    make_core(store).start("mine").run()
    rows = store.conn.execute(
        "SELECT id, parent_id, role, content FROM messages ORDER BY id"
    ).fetchall()
    by_content = {r["content"]: r for r in rows}
    reply = by_content["You said: mine"]
    assert reply["parent_id"] == by_content["mine"]["id"]
    assert store.get_message(reply["id"]).role == "assistant"


def test_user_message_is_parented_on_the_history_the_engine_saw(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.db", save_interval_s=0.0)
    engine = FakeEngine()
    make_core(store, engine).start("first").run()
    conv = store.latest_conversation()
    assert conv is not None
    first_reply = store.active_path(conv.id)[-1]
    interloper = Interloper(tmp_path / "history.db")
    make_core(interloper, engine).send(conv.id, "second").run()
    path = [m.content for m in store.active_path(conv.id)]
    assert path == ["first", "You said: first", "second", "You said: second"]
    second = store.active_path(conv.id)[2]
    assert second.parent_id == first_reply.id
    assert [m.content for m in engine.requests[-1].messages] == [
        "first",
        "You said: first",
        "second",
    ]


def test_start_reply_requires_an_explicit_parent(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "hi")
    with pytest.raises(TypeError):
        store.start_reply(conv.id)  # type: ignore[call-arg]
    writer = store.start_reply(conv.id, parent_id=user.id)
    assert store.get_message(writer.message_id).parent_id == user.id


def test_bad_text_creates_no_conversation(store: HistoryStore) -> None:
    with pytest.raises(UserError, match="the prompt is not valid UTF-8"):
        make_core(store).start("bad\udcff")
    with pytest.raises(UserError, match="the system prompt is not valid UTF-8"):
        make_core(store).start("fine", system_prompt="\udcff")
    assert store.list_conversations() == []


class FailingStore(HistoryStore):
    """A store that cannot save user messages (as when another process holds the lock)."""

    def add_message(self, conversation_id: str, role: str, content: str, **kw: Any) -> Any:
        raise HistoryError("history database is locked by another process; try again")


def test_a_new_conversation_is_removed_when_its_first_message_fails(tmp_path: Path) -> None:
    store = FailingStore(tmp_path / "history.db")
    with pytest.raises(HistoryError, match="locked"):
        make_core(store).start("hello")
    assert store.list_conversations() == []
    kept = store.create_conversation(title="old")
    with pytest.raises(HistoryError, match="locked"):
        make_core(store).send(kept.id, "hello")
    assert [c.id for c in store.list_conversations()] == [kept.id]  # continued ones stay


class ClosedPipe(io.StringIO):
    """A stdout whose reader goes away after the first piece."""

    def write(self, text: str) -> int:
        if self.getvalue():
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_reader_going_away_saves_the_reply_cancelled(store: HistoryStore) -> None:
    pending = make_core(store, FakeEngine(["one two three"])).start("count")
    with pytest.raises(BrokenPipeError):
        pending.run(on_piece=ClosedPipe().write)
    reply = store.active_path(pending.conversation_id)[-1]
    assert (reply.content, reply.finish_reason) == ("one", "cancelled")
