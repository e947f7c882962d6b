"""The conversation history: a SQLite file shared by the TUI and the CLI.

Messages form a tree through ``parent_id`` (editing a user message adds a sibling branch); each
conversation remembers the leaf of the branch being shown, and the *active path* is the chain
from that leaf up to the root. Paging walks that chain from the bottom, so opening a long
conversation reads only the messages shown. Assistant replies are written progressively through
:class:`~starling_tui.history.reply.ReplyWriter` so a crash keeps what was streamed.

All methods are thread-safe (one lock around the connection) and raise
:class:`~starling_tui.errors.HistoryError` for unknown ids or database problems.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starling_tui.errors import HistoryError
from starling_tui.history import db
from starling_tui.history.branches import BranchesMixin
from starling_tui.history.records import Conversation, Message, SearchHit
from starling_tui.history.reply import ReplyWriter

CURRENT_LEAF: Any = object()  # default parent: the conversation's current leaf
_ID_PATTERN = re.compile(r"^[0-9a-z]+$")


class HistoryStore(BranchesMixin):
    """Conversations and their messages in ``path`` (default: ``app_paths().history_db``)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        busy_timeout_s: float = db.DEFAULT_BUSY_TIMEOUT_S,
        save_interval_s: float = 1.0,
    ) -> None:
        if path is None:
            from starling_tui.paths import app_paths

            path = app_paths().history_db
        self.path = Path(path)
        self.save_interval_s = save_interval_s
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = db.connect(self.path, busy_timeout_s)

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            raise HistoryError("the history store is closed")
        return self._conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, db.translate_errors(self.path):
            yield self.conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, db.translate_errors(self.path), db.transaction(self.conn) as conn:
            yield conn

    # -- conversations ------------------------------------------------------------------------

    def create_conversation(
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
                with self._write() as conn:
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
            return self.get_conversation(conv_id)
        raise HistoryError("could not allocate a conversation id")

    def resolve_id(self, id_or_prefix: str) -> str:
        """The full id of the one conversation whose id starts with ``id_or_prefix``."""
        wanted = id_or_prefix.strip().lower()
        if not _ID_PATTERN.match(wanted):
            raise HistoryError(f"no conversation {id_or_prefix!r}")
        with self._read() as conn:
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

    def get_conversation(self, id_or_prefix: str) -> Conversation:
        """A conversation by id (or unique id prefix)."""
        conv_id = self.resolve_id(id_or_prefix)
        with self._read() as conn:
            row = conn.execute(
                "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
                " AS message_count FROM conversations c WHERE c.id = ?",
                (conv_id,),
            ).fetchone()
        if row is None:
            raise HistoryError(f"no conversation {id_or_prefix!r}")
        return Conversation.from_row(row)

    def latest_conversation(self) -> Conversation | None:
        """The most recently updated conversation, if any (``ask --continue``)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        return None if row is None else self.get_conversation(row["id"])

    def list_conversations(self, limit: int | None = None, offset: int = 0) -> list[Conversation]:
        """Conversations, most recently updated first, with their message counts."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
                " AS message_count FROM conversations c ORDER BY c.updated_at DESC, c.rowid DESC"
                " LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            ).fetchall()
        return [Conversation.from_row(r) for r in rows]

    def update_conversation(self, id_or_prefix: str, **changes: Any) -> Conversation:
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
            with self._write() as conn:
                conn.execute(
                    f"UPDATE conversations SET {assignments}, updated_at = ? WHERE id = ?",
                    (*columns.values(), time.time(), conv_id),
                )
        return self.get_conversation(conv_id)

    def rename(self, id_or_prefix: str, title: str) -> Conversation:
        """Set a conversation's title."""
        return self.update_conversation(id_or_prefix, title=title)

    def delete_conversation(self, id_or_prefix: str) -> None:
        """Delete a conversation with all its messages and branches."""
        conv_id = self.resolve_id(id_or_prefix)
        with self._write() as conn:
            conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conv_id,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))

    # -- messages -----------------------------------------------------------------------------

    def get_message(self, message_id: int) -> Message:
        """One message by id."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise HistoryError(f"no message {message_id}")
        return Message.from_row(row)

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        parent_id: int | None = CURRENT_LEAF,
        finish_reason: str | None = None,
    ) -> Message:
        """Append a message under ``parent_id``; it becomes the current leaf.

        Pass ``parent_id`` whenever the caller knows what it answers or follows: the default
        (the current leaf, read in this transaction) may be a message another process added.
        """
        conv_id = self.resolve_id(conversation_id)
        now = time.time()
        with self._write() as conn:
            if parent_id is CURRENT_LEAF:
                parent_id = conn.execute(
                    "SELECT current_leaf_id FROM conversations WHERE id = ?", (conv_id,)
                ).fetchone()[0]
            depth = 0
            if parent_id is not None:
                parent = conn.execute(
                    "SELECT depth, conversation_id FROM messages WHERE id = ?", (parent_id,)
                ).fetchone()
                if parent is None or parent["conversation_id"] != conv_id:
                    raise HistoryError(f"no message {parent_id} in conversation {conv_id}")
                depth = parent["depth"] + 1
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, parent_id, depth, role, content,"
                " created_at, updated_at, finish_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conv_id, parent_id, depth, role, content, now, now, finish_reason),
            )
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                (cursor.lastrowid, now, conv_id),
            )
            if role == "user":
                conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                    (title_from(content), conv_id),
                )
        assert cursor.lastrowid is not None
        return self.get_message(cursor.lastrowid)

    def start_reply(self, conversation_id: str, *, parent_id: int) -> ReplyWriter:
        """Insert an empty assistant reply marked ``incomplete`` under ``parent_id``.

        The parent (the user message answered) is required: "the current leaf" may already be
        another process's message by the time the reply starts.
        """
        message = self.add_message(
            conversation_id, "assistant", "", parent_id=parent_id, finish_reason="incomplete"
        )
        return ReplyWriter(self, message, interval_s=self.save_interval_s)

    def save_reply(
        self,
        message_id: int,
        content: str,
        *,
        finish_reason: str = "incomplete",
        stats: dict[str, Any] | None = None,
    ) -> None:
        """Overwrite a reply's text (and, when finished, its reason and figures)."""
        now = time.time()
        figures = stats or {}
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET content = ?, finish_reason = ?, updated_at = ?,"
                " prompt_tokens = coalesce(?, prompt_tokens),"
                " completion_tokens = coalesce(?, completion_tokens),"
                " evaluated_tokens = coalesce(?, evaluated_tokens),"
                " ttft_s = coalesce(?, ttft_s), tokens_per_s = coalesce(?, tokens_per_s),"
                " stats_json = ? WHERE id = ?",
                (
                    content,
                    finish_reason,
                    now,
                    figures.get("prompt_tokens"),
                    figures.get("completion_tokens"),
                    figures.get("evaluated_tokens"),
                    figures.get("ttft_s"),
                    figures.get("tokens_per_s"),
                    json.dumps(figures, sort_keys=True),
                    message_id,
                ),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)",
                (now, message_id),
            )

    # -- search -------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages containing every word of ``query``, best first.

        Words are matched whole except the last, which also matches as a prefix. Quotes and
        operators are taken literally (no FTS5 syntax), so any user input is a valid query.
        """
        terms = query.split()
        if not terms:
            return []
        quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
        quoted[-1] += "*"  # the last word may be unfinished (search as you type)
        fts_query = " ".join(quoted)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT m.conversation_id, c.title, m.id, m.role, m.updated_at,"
                " snippet(messages_fts, 0, '[', ']', '…', 12) AS excerpt"
                " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE messages_fts MATCH ? ORDER BY bm25(messages_fts), m.id DESC LIMIT ?",
                (fts_query, limit),
            ).fetchall()
        return [
            SearchHit(
                r["conversation_id"], r["title"], r["id"], r["role"], r["excerpt"], r["updated_at"]
            )
            for r in rows
        ]


def title_from(content: str, width: int = 60) -> str:
    """A conversation title from its first user message: the first line, shortened."""
    line = next((ln.strip() for ln in content.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"
