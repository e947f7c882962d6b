"""Deleting for good: a deleted conversation (or branch) leaves none of its text behind.

A plain ``DELETE`` leaves text in three places: the free space of the file's pages, the
full-text index (its ``'delete'`` command adds a tombstone; the words stay in the older index
segments until they are merged) and the write-ahead log (old page images until a checkpoint).
So every connection runs with ``PRAGMA secure_delete = ON`` (freed space is zeroed, see
:func:`starling_tui.history.database.connect`); in the deleting transaction
:func:`merge_search_indexes` rewrites each search index without the deleted words, and then
:func:`truncate_log` copies the log into the file and empties it.

The copies taken before migrations (``history.db.v<N>-<time>.bak``) hold the history as it
was then; :func:`erase_from_backups` deletes the conversation from each of them the same way.
A backup may predate a table (the files, the search index), so each step checks the tables it
needs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from starling_tui.history.database import transaction, translate_errors
from starling_tui.history.files import delete_unlinked_files

SEARCH_INDEXES = ("messages_fts", "files_fts")


def delete_conversation_rows(conn: sqlite3.Connection, conversation_id: str) -> None:
    """Delete a conversation, its messages and the files only they attach (in the caller's
    transaction)."""
    ids = [row[0] for row in conn.execute(
        "SELECT id FROM messages WHERE conversation_id = ?", (conversation_id,)
    )]
    delete_message_rows(conn, ids)
    conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))


def delete_message_rows(conn: sqlite3.Connection, message_ids: Sequence[int]) -> None:
    """Delete these messages and the files only they attach (in the caller's transaction).

    The links are deleted explicitly rather than by the cascade, which a backup opened
    without ``foreign_keys`` would not run.
    """
    doomed = _json_list(message_ids)
    if _present(conn, ("message_files",)):
        conn.execute(
            "DELETE FROM message_files WHERE message_id IN (SELECT value FROM json_each(?))",
            (doomed,),
        )
        delete_unlinked_files(conn)
    conn.execute("DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))", (doomed,))


def merge_search_indexes(conn: sqlite3.Connection) -> None:
    """Rewrite each search index as one segment, dropping deleted words (in a transaction).

    This rewrites the whole index: the price of a delete that leaves nothing behind.
    """
    for index in _present(conn, SEARCH_INDEXES):
        conn.execute(f"INSERT INTO {index}({index}) VALUES ('optimize')")


def truncate_log(conn: sqlite3.Connection) -> bool:
    """Copy the write-ahead log into the file and empty it (outside a transaction).

    Waits up to the busy timeout for readers of older snapshots; returns False if one still
    held the log (it is then emptied by a later checkpoint, at the latest when the last
    connection closes).
    """
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return not busy


def backups_of(path: Path) -> list[Path]:
    """The migration backups next to the database at ``path``."""
    return sorted(path.parent.glob(f"{path.name}.v*.bak"))


def erase_from_backups(path: Path, conversation_id: str) -> None:
    """Delete the conversation from every migration backup of ``path``, for good."""
    for backup in backups_of(path):
        with translate_errors(backup):
            conn = sqlite3.connect(backup, isolation_level=None)
            try:
                conn.execute("PRAGMA secure_delete = ON")
                if _present(conn, ("conversations",)):
                    with transaction(conn):
                        delete_conversation_rows(conn, conversation_id)
                        merge_search_indexes(conn)
                    truncate_log(conn)
            finally:
                conn.close()


def _present(conn: sqlite3.Connection, tables: Sequence[str]) -> list[str]:
    """Those of ``tables`` that exist in this database (a backup may be older)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE name IN (SELECT value FROM json_each(?))",
        (_json_list(tables),),
    ).fetchall()
    found = {row[0] for row in rows}
    return [t for t in tables if t in found]


def _json_list(values: Sequence[object]) -> str:
    return json.dumps(list(values))
