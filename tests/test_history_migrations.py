"""Schema v3 (finish reason ``repetition``) and v4 (sampling overrides only) keep old data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from starling_tui.history import HistoryStore
from starling_tui.history.database import migrate
from starling_tui.history.schema import SCHEMA_VERSION

# What ``ask`` stored before v4: every sampling value of its settings.
ASK_WRITTEN = {
    "temperature": 0.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0,
    "seed": 0, "max_tokens": None, "loop_guard": True,
}


def make_v2_database(path: Path) -> None:
    """A v2 database: a branched conversation written by ``ask``, one by the app's form."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=2)
    rows = [
        ("ask00001", json.dumps({**ASK_WRITTEN, "temperature": 0.7, "max_tokens": 64})),
        ("ask00002", json.dumps(ASK_WRITTEN)),
        ("app00001", json.dumps({"temperature": 0.0, "top_k": 0})),  # the form: user's choice
    ]
    for conv_id, sampling in rows:
        conn.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at, sampling_json)"
            " VALUES (?, 'old chat', 1, 1, ?)",
            (conv_id, sampling),
        )
    insert = (
        "INSERT INTO messages (id, conversation_id, parent_id, depth, role, content, created_at,"
        " updated_at, finish_reason) VALUES (?, 'ask00001', ?, ?, ?, ?, 1, 1, ?)"
    )
    conn.execute(insert, (1, None, 0, "user", "a zebra question", None))
    conn.execute(insert, (2, 1, 1, "assistant", "first answer", "cancelled"))
    conn.execute(insert, (3, 1, 1, "assistant", "second answer", "stop"))
    conn.execute("UPDATE conversations SET current_leaf_id = 3 WHERE id = 'ask00001'")
    conn.close()


def test_v2_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    make_v2_database(path)
    with HistoryStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [m.content for m in store.active_path("ask00001")] == [
            "a zebra question", "second answer"
        ]
        assert [m.finish_reason for m in store.siblings(3)] == ["cancelled", "stop"]
        assert [h.message_id for h in store.search("zebra")] == [1]  # the FTS index survived
        user = store.add_message("ask00001", "user", "more zebras", parent_id=3)
        assert {h.message_id for h in store.search("zebra")} == {1, user.id}
    assert len(list(tmp_path.glob("history.db.v2-*.bak"))) == 1


def test_repetition_is_a_finish_reason_after_migration(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    make_v2_database(path)
    with HistoryStore(path, save_interval_s=0.0) as store:
        writer = store.start_reply("ask00001", parent_id=1)
        writer.append("again again again")
        assert writer.finish("repetition").finish_reason == "repetition"
        with pytest.raises(sqlite3.IntegrityError):  # the CHECK constraint is still there
            store.conn.execute("UPDATE messages SET finish_reason = 'bogus' WHERE id = 1")


def test_values_ask_stored_by_default_are_no_longer_overrides(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    make_v2_database(path)
    with HistoryStore(path) as store:
        sampling = {c.id: c.sampling for c in store.list_conversations()}
    assert sampling == {
        "ask00001": {"temperature": 0.7, "max_tokens": 64},  # perhaps flags: kept
        "ask00002": {},  # nothing the user set
        "app00001": {"temperature": 0.0, "top_k": 0},  # set in the form: kept
    }
