"""Files attached to messages: each content stored once, linked to messages in order.

A file's text is kept once per content in ``files`` (its SHA-256, size in bytes and text), so
attaching the same file to ten messages, or editing a message that has it, stores it once.
``message_files`` links a message to its files by position, under the name the user gave (two
names may share one content). The store calls these inside its own transactions; a file no
message links any more is deleted with the conversation or branch that last linked it (see
:mod:`.erasure`).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence

from starling_tui.history.records import Message
from starling_tui.types import Attachment


def link_files(
    conn: sqlite3.Connection, message_id: int, attachments: Sequence[Attachment]
) -> None:
    """Store each file's content (once) and link it to ``message_id`` in the order given."""
    for position, attachment in enumerate(attachments):
        if not isinstance(attachment, Attachment):
            raise TypeError(f"attachments must be Attachment values, not {type(attachment)}")
        digest = attachment.sha256
        conn.execute(
            "INSERT INTO files (sha256, size, text) VALUES (?, ?, ?)"
            " ON CONFLICT (sha256) DO NOTHING",
            (digest, attachment.size, attachment.text),
        )
        (file_id,) = conn.execute("SELECT id FROM files WHERE sha256 = ?", (digest,)).fetchone()
        conn.execute(
            "INSERT INTO message_files (message_id, position, file_id, name) VALUES (?, ?, ?, ?)",
            (message_id, position, file_id, attachment.name),
        )


def with_files(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[Message]:
    """The messages of ``rows``, each with its files (one query for all of them)."""
    messages = [Message.from_row(row) for row in rows]
    if not messages:
        return messages
    linked = conn.execute(
        "SELECT mf.message_id, mf.name, f.text FROM message_files mf"
        " JOIN files f ON f.id = mf.file_id"
        " WHERE mf.message_id IN (SELECT value FROM json_each(?))"
        " ORDER BY mf.message_id, mf.position",
        (json.dumps([m.id for m in messages]),),
    ).fetchall()
    if not linked:
        return messages
    files: dict[int, list[Attachment]] = defaultdict(list)
    for message_id, name, text in linked:
        files[message_id].append(Attachment(name, text))
    return [
        dataclasses.replace(m, attachments=tuple(files[m.id])) if m.id in files else m
        for m in messages
    ]


def delete_unlinked_files(conn: sqlite3.Connection) -> None:
    """Delete the files no message links any more."""
    conn.execute(
        "DELETE FROM files WHERE NOT EXISTS"
        " (SELECT 1 FROM message_files mf WHERE mf.file_id = files.id)"
    )
