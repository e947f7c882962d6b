"""Files attached to messages: stored once per content, read back in order with every message,
kept by edits, found by search, exported, deleted with the last message that links them, and
a database of the previous schema migrated with its rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling_tui.chat.export import to_json, to_markdown, to_text
from starling_tui.errors import HistoryError
from starling_tui.history import HistoryStore
from starling_tui.history.database import migrate
from starling_tui.history.schema import SCHEMA_VERSION
from starling_tui.types import Attachment

QUICKSORT = Attachment("src/sort.py", "def quicksort(items):\n    return sorted(items)\n")
NOTES = Attachment("notes.md", "Pivot choice: median of three.\n```\nnot a fence end\n```\n")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(tmp_path / "history.db") as opened:
        yield opened


def count(store: HistoryStore, table: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_files_come_back_in_order_with_every_read(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "Add type hints", attachments=[QUICKSORT, NOTES])
    reply = store.add_message(conv.id, "assistant", "Done.")
    assert user.attachments == (QUICKSORT, NOTES)
    assert store.get_message(user.id).attachments == (QUICKSORT, NOTES)
    assert [m.attachments for m in store.active_path(conv.id)] == [(QUICKSORT, NOTES), ()]
    assert store.path_to(reply.id)[0].attachments == (QUICKSORT, NOTES)
    assert store.load_page(conv.id, limit=1, before_id=reply.id)[0].attachments[1] == NOTES
    assert store.siblings(user.id)[0].attachments == (QUICKSORT, NOTES)
    assert store.children(user.id)[0].attachments == ()
    assert (QUICKSORT.size, len(QUICKSORT.sha256)) == (len(QUICKSORT.text), 64)


def test_a_content_is_stored_once_under_every_name(store: HistoryStore) -> None:
    conv = store.create_conversation()
    renamed = Attachment("copy.py", QUICKSORT.text)
    first = store.add_message(conv.id, "user", "one", attachments=[QUICKSORT, renamed])
    store.add_message(conv.id, "user", "two", attachments=[QUICKSORT])
    assert store.get_message(first.id).attachments == (QUICKSORT, renamed)
    assert (count(store, "files"), count(store, "message_files")) == (1, 3)
    row = store.conn.execute("SELECT sha256, size, text FROM files").fetchone()
    assert tuple(row) == (QUICKSORT.sha256, QUICKSORT.size, QUICKSORT.text)


def test_an_edit_keeps_the_files_unless_told_otherwise(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "Explain", attachments=[QUICKSORT])
    assert store.edit_message(user.id, "Explain briefly").attachments == (QUICKSORT,)
    assert store.edit_message(user.id, "Explain this", [NOTES]).attachments == (NOTES,)
    assert store.edit_message(user.id, "Explain nothing", []).attachments == ()
    assert [m.attachments for m in store.siblings(user.id)] == [
        (QUICKSORT,), (QUICKSORT,), (NOTES,), ()
    ]
    assert count(store, "files") == 2


def test_a_message_of_files_alone_is_titled_by_its_first_file(store: HistoryStore) -> None:
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "", attachments=[NOTES, QUICKSORT])
    assert store.get_conversation(conv.id).title == "notes.md"


def test_search_finds_words_inside_attached_files(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "Review this", attachments=[QUICKSORT, NOTES])
    store.add_message(conv.id, "user", "What is a median?")
    (hit,) = store.search("quicksort")
    assert (hit.message_id, hit.file_name, hit.role) == (user.id, "src/sort.py", "user")
    assert "[quicksort]" in hit.snippet
    # A word in both the message and a file: one hit for the message.
    assert sorted(h.message_id for h in store.search("median")) == [user.id, user.id + 1]
    assert [h.file_name for h in store.search("review")] == [""]


def test_exports_include_the_files(store: HistoryStore) -> None:
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "Add type hints", attachments=[QUICKSORT, NOTES])
    conv = store.get_conversation(conv.id)
    path = store.active_path(conv.id)
    markdown = to_markdown(conv, path)
    assert (
        f"## You\n\nAdd type hints\n\n**File:** src/sort.py ({QUICKSORT.size} bytes)\n\n```python\n"
        "def quicksort(items):\n    return sorted(items)\n```\n" in markdown
    )
    assert f"**File:** notes.md ({NOTES.size} bytes)\n\n````markdown\nPivot" in markdown
    document = json.loads(to_json(conv, path))
    assert document["messages"][0]["attachments"] == [
        {"name": a.name, "size": a.size, "sha256": a.sha256, "text": a.text}
        for a in (QUICKSORT, NOTES)
    ]
    text = to_text(conv, path)
    assert f"--- file: src/sort.py ({QUICKSORT.size} bytes) ---\ndef quicksort(items):" in text


def test_deleting_removes_files_no_other_message_links(
    store: HistoryStore, tmp_path: Path
) -> None:
    secret = Attachment("keys.txt", "Zebraquantum marmalade passphrase\n")
    gone = store.create_conversation()
    store.add_message(gone.id, "user", "Look", attachments=[secret, QUICKSORT])
    kept = store.create_conversation()
    store.add_message(kept.id, "user", "Sort", attachments=[QUICKSORT])
    store.delete_conversation(gone.id)
    assert [tuple(r) for r in store.conn.execute("SELECT sha256 FROM files")] == [
        (QUICKSORT.sha256,)
    ]
    assert store.search("zebraquantum") == [] and len(store.search("quicksort")) == 1
    leaked = [p.name for p in tmp_path.iterdir() if b"ebraquantum" in p.read_bytes()]
    assert leaked == []
    store.conn.execute("INSERT INTO files_fts(files_fts) VALUES ('integrity-check')")
    branch = store.add_message(kept.id, "user", "And this", attachments=[secret])
    store.delete_branch(branch.id)
    assert count(store, "files") == 1 and count(store, "message_files") == 1
    assert [p.name for p in tmp_path.iterdir() if b"ebraquantum" in p.read_bytes()] == []


def test_file_text_that_is_not_utf8_saves_nothing(store: HistoryStore) -> None:
    conv = store.create_conversation()
    with pytest.raises(HistoryError, match="not valid UTF-8"):
        store.add_message(conv.id, "user", "look", attachments=[Attachment("a.txt", "x\udcff")])
    assert store.active_path(conv.id) == [] and count(store, "files") == 0


def make_v4_database(path: Path) -> None:
    """A database of the schema before files, with a branched conversation in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=4)
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at, sampling_json)"
        " VALUES ('old00001', 'old chat', 1, 1, '{\"temperature\": 0.5}')"
    )
    insert = (
        "INSERT INTO messages (id, conversation_id, parent_id, depth, role, content, created_at,"
        " updated_at, finish_reason) VALUES (?, 'old00001', ?, ?, ?, ?, 1, 1, ?)"
    )
    conn.execute(insert, (1, None, 0, "user", "a quicksort question", None))
    conn.execute(insert, (2, 1, 1, "assistant", "first answer", "repetition"))
    conn.execute(insert, (3, 1, 1, "assistant", "second answer", "stop"))
    conn.execute("UPDATE conversations SET current_leaf_id = 3 WHERE id = 'old00001'")
    conn.close()


def test_a_database_of_the_previous_schema_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    make_v4_database(path)
    with HistoryStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [(m.content, m.attachments) for m in store.active_path("old00001")] == [
            ("a quicksort question", ()), ("second answer", ()),
        ]
        assert [m.finish_reason for m in store.siblings(3)] == ["repetition", "stop"]
        assert store.get_conversation("old00001").sampling == {"temperature": 0.5}
        follow_up = store.add_message("old00001", "user", "and this?", parent_id=3,
                                      attachments=[QUICKSORT])
        assert {h.message_id for h in store.search("quicksort")} == {1, follow_up.id}
        edited = store.edit_message(1, "a better quicksort question")
        assert edited.attachments == () and edited.parent_id is None
    (backup,) = tmp_path.glob("history.db.v4-*.bak")
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
    conn.close()
