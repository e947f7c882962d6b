"""The history database file: migrations with backups, refusal of bad files, locks, concurrency."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from starling_tui.errors import HistoryError
from starling_tui.history import HistoryStore
from starling_tui.history.database import migrate
from starling_tui.history.schema import SCHEMA_VERSION


def make_v1_database(path: Path) -> None:
    """A database as the first schema version left it, with one conversation in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=1)
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at)"
        " VALUES ('abc12345', 'old chat', 1, 1)"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, updated_at)"
        " VALUES ('abc12345', 'user', 'an ancient zebra question', 1, 1)"
    )
    conn.execute("UPDATE conversations SET current_leaf_id = 1")
    conn.close()


def test_migration_from_v1_backs_up_first(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    make_v1_database(path)
    with HistoryStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        hits = store.search("zebra")  # the FTS table added by v2 was filled from old rows
        assert [(h.conversation_id, h.conversation_title) for h in hits] == [
            ("abc12345", "old chat")
        ]
        assert [m.content for m in store.active_path("abc12345")] == ["an ancient zebra question"]
    backups = list(tmp_path.glob("history.db.v1-*.bak"))
    assert len(backups) == 1
    backup = sqlite3.connect(backups[0])
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT content FROM messages").fetchall() == [
        ("an ancient zebra question",)
    ]
    assert backup.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    backup.close()
    with HistoryStore(path):  # already current: no further backup
        pass
    assert len(list(tmp_path.glob("history.db.*.bak"))) == 1


def test_new_database_needs_no_backup(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "history.db"):
        pass
    assert list(tmp_path.glob("*.bak")) == []


def test_half_created_database_needs_no_backup(tmp_path: Path) -> None:
    # Another process creating the same file may have applied only migration 1 so far.
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=1)
    conn.close()
    with HistoryStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert list(tmp_path.glob("*.bak")) == []


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        store.create_conversation(title="keep me")
        store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    before = snapshot(path)
    with pytest.raises(HistoryError, match="newer than this starling-tui supports"):
        HistoryStore(path)
    assert snapshot(path) == before


def test_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(os.urandom(8192))
    before = snapshot(path)
    with pytest.raises(HistoryError, match="not a SQLite database"):
        HistoryStore(path)
    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.db"]


def test_damaged_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        store.create_conversation(title="x")
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)  # page 1 past the file header: the schema b-tree
    path.write_bytes(bytes(data))
    before = snapshot(path)
    with pytest.raises(HistoryError, match=r"corrupt|malformed|not a database"):
        HistoryStore(path)
    assert snapshot(path) == before


def test_locked_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with HistoryStore(path, busy_timeout_s=0.2) as store:
        conv = store.create_conversation()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(HistoryError, match="locked by another process"):
                store.add_message(conv.id, "user", "blocked")
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.add_message(conv.id, "user", "fine now")
        assert [m.content for m in store.active_path(conv.id)] == ["fine now"]


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from starling_tui.history import HistoryStore
    path, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    store = HistoryStore(path, save_interval_s=0)
    while not go.exists():
        time.sleep(0.005)
    own = store.create_conversation(title=name)
    for i in range(150):
        user = store.add_message(own.id, "user", f"{name} question {i}")
        writer = store.start_reply(own.id, parent_id=user.id)
        for word in ("alpha", "beta", "gamma"):
            writer.append(" " + word)
        writer.finish("stop")
    store.close()
""")


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with HistoryStore(path):
        pass  # create and migrate once, so both writers start from the same schema
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(go)])
        for name in ("first", "second")
    ]
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")  # raises
    rows = conn.execute(
        "SELECT c.title, count(*), sum(m.role = 'assistant'),"
        " sum(m.content = ' alpha beta gamma') FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id GROUP BY c.title"
        " ORDER BY c.title"
    ).fetchall()
    assert rows == [("first", 300, 150, 150), ("second", 300, 150, 150)]
    conn.close()
    with HistoryStore(path) as store:
        assert len(store.search("second question")) == 50  # default limit; all indexed


CREATOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from starling_tui.history import HistoryStore
    path, go = Path(sys.argv[1]), Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.002)
    with HistoryStore(path) as store:
        store.add_message(store.create_conversation().id, "user", "first words")
""")


def test_processes_creating_the_database_at_once(tmp_path: Path) -> None:
    path, go = tmp_path / "history.db", tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", CREATOR, str(path), str(go)]) for _ in range(3)
    ]
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with HistoryStore(path) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert len(store.search("first words")) == 3
    assert list(tmp_path.glob("*.bak")) == []
