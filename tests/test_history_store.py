"""HistoryStore: conversations, messages, branches, paging, progressive replies, search."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling_tui.chat.export import to_json, to_markdown, to_text
from starling_tui.engine.base import GenerationStats
from starling_tui.errors import HistoryError
from starling_tui.history import HistoryStore
from starling_tui.history.reply import ReplyWriter
from starling_tui.paths import app_paths


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(tmp_path / "history.db") as opened:
        yield opened


def test_default_location_is_the_app_data_dir() -> None:
    with HistoryStore() as store:
        store.create_conversation(title="x")
        assert store.path == app_paths().history_db
    assert app_paths().history_db.is_file()


def test_pragmas_are_set(store: HistoryStore) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_conversation_crud_and_prefix_ids(store: HistoryStore) -> None:
    conv = store.create_conversation(
        model="m", mode="code", system_prompt="be brief", sampling={"temperature": 0.5}
    )
    assert len(conv.id) == 8
    again = store.get_conversation(conv.id[:5])
    assert again.id == conv.id and again.mode == "code" and again.sampling == {"temperature": 0.5}
    store.add_message(conv.id, "user", "First line of the question\nsecond line")
    assert store.get_conversation(conv.id).title == "First line of the question"
    assert store.rename(conv.id, "Renamed").title == "Renamed"
    assert [c.id for c in store.list_conversations()] == [conv.id]
    store.delete_conversation(conv.id)
    assert store.list_conversations() == []
    with pytest.raises(HistoryError, match="no conversation"):
        store.get_conversation(conv.id)


def test_unknown_and_ambiguous_ids(store: HistoryStore) -> None:
    with pytest.raises(HistoryError, match="no conversation"):
        store.get_conversation("deadbeef")
    with pytest.raises(HistoryError, match="no conversation"):
        store.get_conversation("'; drop table")
    ids = {store.create_conversation().id for _ in range(40)}
    first_chars = {i[0] for i in ids}
    shared = next(c for c in first_chars if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(HistoryError, match="ambiguous"):
        store.get_conversation(shared)


def test_latest_conversation_follows_updates(store: HistoryStore) -> None:
    assert store.latest_conversation() is None
    a = store.create_conversation()
    b = store.create_conversation()
    assert store.latest_conversation().id == b.id  # type: ignore[union-attr]
    time.sleep(0.01)
    store.add_message(a.id, "user", "bump")
    assert store.latest_conversation().id == a.id  # type: ignore[union-attr]


def test_branching_edit_siblings_and_switch(store: HistoryStore) -> None:
    conv = store.create_conversation()
    q1 = store.add_message(conv.id, "user", "question one")
    a1 = store.add_message(conv.id, "assistant", "answer one")
    q2 = store.add_message(conv.id, "user", "question two")
    store.add_message(conv.id, "assistant", "answer two")
    edited = store.edit_message(q2.id, "question two, edited")
    assert edited.parent_id == a1.id and edited.depth == q2.depth
    assert [m.content for m in store.active_path(conv.id)] == [
        "question one",
        "answer one",
        "question two, edited",
    ]
    assert [m.id for m in store.siblings(q2.id)] == [q2.id, edited.id]
    leaf = store.switch_branch(q2.id)
    assert leaf.content == "answer two"
    assert [m.content for m in store.active_path(conv.id)][-2:] == ["question two", "answer two"]
    assert [m.id for m in store.siblings(q1.id)] == [q1.id]
    assert [m.id for m in store.children(a1.id)] == [q2.id, edited.id]


def test_parent_must_belong_to_the_conversation(store: HistoryStore) -> None:
    a = store.create_conversation()
    b = store.create_conversation()
    foreign = store.add_message(a.id, "user", "hi")
    with pytest.raises(HistoryError):
        store.add_message(b.id, "user", "hi", parent_id=foreign.id)


def test_paging_walks_the_active_path(store: HistoryStore) -> None:
    conv = store.create_conversation()
    for i in range(5000):
        store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    last = store.load_page(conv.id, limit=40)
    assert [m.content for m in last] == [f"message {i}" for i in range(4960, 5000)]
    assert [m.depth for m in last] == list(range(4960, 5000))
    older = store.load_page(conv.id, limit=40, before_id=last[0].id)
    assert [m.content for m in older] == [f"message {i}" for i in range(4920, 4960)]
    top = store.load_page(conv.id, limit=40, before_id=store.active_path(conv.id)[2].id)
    assert [m.content for m in top] == ["message 0", "message 1"]
    assert store.load_page(conv.id, before_id=top[0].id) == []
    assert len(store.active_path(conv.id)) == 5000
    assert store.get_conversation(conv.id).message_count == 5000
    store.delete_conversation(conv.id)  # a deep chain deletes in one go
    assert store.conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_reply_writer_saves_at_most_once_per_interval(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "hi")
    now = [100.0]
    row = store.get_message(store.start_reply(conv.id, parent_id=user.id).message_id)
    writer = ReplyWriter(store, row, interval_s=1.0, clock=lambda: now[0])
    assert writer.append("Hel") is False  # too soon after the insert
    assert store.get_message(writer.message_id).content == ""
    now[0] += 1.0
    assert writer.append("lo") is True
    saved = store.get_message(writer.message_id)
    assert (saved.content, saved.finish_reason) == ("Hello", "incomplete")
    now[0] += 0.5
    assert writer.append(" world") is False
    assert writer.saves == 1
    stats = GenerationStats(
        prompt_tokens=7,
        evaluated_tokens=5,
        completion_tokens=3,
        ttft_s=0.25,
        tokens_per_s=12.5,
        finish_reason="stop",
    )
    final = writer.finish("stop", stats)
    assert (final.content, final.finish_reason) == ("Hello world", "stop")
    assert (final.prompt_tokens, final.evaluated_tokens, final.completion_tokens) == (7, 5, 3)
    assert final.ttft_s == 0.25 and final.tokens_per_s == 12.5
    assert final.stats["prompt_tokens"] == 7
    with pytest.raises(ValueError):
        writer.finish("exploded")


def test_start_reply_is_incomplete_until_finished(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "hi")
    writer = store.start_reply(conv.id, parent_id=user.id)
    reply = store.get_message(writer.message_id)
    assert (reply.role, reply.parent_id, reply.finish_reason) == (
        "assistant",
        user.id,
        "incomplete",
    )
    writer.update("partial")
    writer.flush()
    assert store.get_message(writer.message_id).content == "partial"


def test_search_uses_fts_and_tracks_updates(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "How do I sort a list in Python?")
    writer = store.start_reply(conv.id, parent_id=user.id)
    writer.update("Use sorted()")
    writer.flush()
    writer.update("Use the built-in sorted function")
    writer.finish("stop")
    hits = store.search("builtin sorted")
    assert hits == []
    hits = store.search("built-in sorted")
    assert [h.message_id for h in hits] == [writer.message_id]
    assert "[sorted]" in hits[0].snippet and hits[0].conversation_title.startswith("How do I")
    assert [h.role for h in store.search("sorted()")] == ["assistant"]  # punctuation is plain
    assert [h.role for h in store.search("python")] == ["user"]
    assert [h.role for h in store.search("How do I so")] == ["user"]  # last word as a prefix
    assert store.search("So do I how") == []  # earlier words must be whole
    assert store.search('"unbalanced AND (') == []  # FTS syntax is neutralised, no error
    store.delete_conversation(conv.id)
    assert store.search("python") == []


def test_exports(store: HistoryStore) -> None:
    conv = store.create_conversation(system_prompt="Be terse.", model="smol")
    user = store.add_message(conv.id, "user", "Hi")
    writer = store.start_reply(conv.id, parent_id=user.id)
    writer.update("Hel")
    writer.finish("cancelled")
    conv = store.get_conversation(conv.id)
    path = store.active_path(conv.id)
    markdown = to_markdown(conv, path)
    assert markdown.startswith("# Hi\n") and "## System\n\nBe terse." in markdown
    assert "## Assistant _(cancelled)_\n\nHel" in markdown
    document = json.loads(to_json(conv, path))
    assert document["conversation"]["id"] == conv.id
    assert [m["content"] for m in document["messages"]] == ["Hi", "Hel"]
    assert "[assistant] (cancelled)\nHel" in to_text(conv, path)


def test_text_that_is_not_utf8_is_refused_with_history_error(store: HistoryStore) -> None:
    conv = store.create_conversation(title="kept")
    with pytest.raises(HistoryError, match="not valid UTF-8"):
        store.add_message(conv.id, "user", "bad\udcff")
    with pytest.raises(HistoryError, match="not valid UTF-8"):
        store.rename(conv.id, "\udcff")
    with pytest.raises(HistoryError, match="not valid UTF-8"):
        store.search("\udcff")
    assert store.get_conversation(conv.id).title == "kept"
    assert store.active_path(conv.id) == []
