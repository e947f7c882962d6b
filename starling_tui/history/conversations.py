"""The ``conversations`` table: creating, finding (id or unique prefix), listing, changing."""

from __future__ import annotations

import builtins
import json
import re
import secrets
import sqlite3
import time
from typing import Any

from starling_tui.errors import HistoryError
from starling_tui.history.database import Database
from starling_tui.history.records import Conversation

_ID_PATTERN = re.compile(r"^[0-9a-z]+$")


class ConversationRepository:
    """The ``conversations`` table of one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        *,
        title: str = "",
        model: str = "",
        mode: str = "auto",
        system_prompt: str = "",
        sampling: dict[str, Any] | None = None,
    ) -> Conversation:
        """Start an empty conversation with a new short id."""
        now = time.time()
        for _ in range(10):
            conv_id = secrets.token_hex(4)
            try:
                with self.db.write() as conn:
                    conn.execute(
                        "INSERT INTO conversations (id, title, created_at, updated_at, model, mode,"
                        " system_prompt, sampling_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            conv_id,
                            title,
                            now,
                            now,
                            model,
                            mode,
                            system_prompt,
                            json.dumps(sampling or {}, sort_keys=True),
                        ),
                    )
            except sqlite3.IntegrityError:
                continue  # id collision: draw another
            return self.get(conv_id)
        raise HistoryError("could not allocate a conversation id")

    def resolve_id(self, id_or_prefix: str) -> str:
        """The full id of the one conversation whose id starts with ``id_or_prefix``."""
        wanted = id_or_prefix.strip().lower()
        if not _ID_PATTERN.match(wanted):
            raise HistoryError(f"no conversation {id_or_prefix!r}")
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM conversations WHERE id LIKE ? LIMIT 2", (wanted + "%",)
            ).fetchall()
        exact = [r["id"] for r in rows if r["id"] == wanted]
        if exact:
            return str(exact[0])
        if not rows:
            raise HistoryError(
                f"no conversation {id_or_prefix!r} (see 'starling-tui history list')"
            )
        if len(rows) > 1:
            raise HistoryError(f"conversation id {id_or_prefix!r} is ambiguous; give more of it")
        return str(rows[0]["id"])

    def get(self, id_or_prefix: str) -> Conversation:
        """A conversation by id (or unique id prefix)."""
        conv_id = self.resolve_id(id_or_prefix)
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
                " AS message_count FROM conversations c WHERE c.id = ?",
                (conv_id,),
            ).fetchone()
        if row is None:
            raise HistoryError(f"no conversation {id_or_prefix!r}")
        return Conversation.from_row(row)

    def latest(self) -> Conversation | None:
        """The most recently updated conversation, if any (``ask --continue``)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        return None if row is None else self.get(row["id"])

    def list(self, limit: int | None = None, offset: int = 0) -> builtins.list[Conversation]:
        """Conversations, most recently updated first, with their message counts."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
                " AS message_count FROM conversations c ORDER BY c.updated_at DESC, c.rowid DESC"
                " LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            ).fetchall()
        return [Conversation.from_row(r) for r in rows]

    def update(self, id_or_prefix: str, **changes: Any) -> Conversation:
        """Change ``title``, ``model``, ``mode``, ``system_prompt`` or ``sampling``."""
        allowed = {"title", "model", "mode", "system_prompt", "sampling"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"unknown conversation fields: {sorted(unknown)}")
        conv_id = self.resolve_id(id_or_prefix)
        columns = {
            ("sampling_json" if k == "sampling" else k): (
                json.dumps(v, sort_keys=True) if k == "sampling" else v
            )
            for k, v in changes.items()
        }
        if columns:
            assignments = ", ".join(f"{name} = ?" for name in columns)
            with self.db.write() as conn:
                conn.execute(
                    f"UPDATE conversations SET {assignments}, updated_at = ? WHERE id = ?",
                    (*columns.values(), time.time(), conv_id),
                )
        return self.get(conv_id)

    def rename(self, id_or_prefix: str, title: str) -> Conversation:
        """Set a conversation's title."""
        return self.update(id_or_prefix, title=title)

    def delete(self, id_or_prefix: str) -> None:
        """Delete a conversation with all its messages and branches."""
        conv_id = self.resolve_id(id_or_prefix)
        with self.db.write() as conn:
            conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conv_id,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
