"""The ``messages`` table: adding messages to a conversation's tree, saving streamed replies."""

from __future__ import annotations

import json
import time
from typing import Any

from starling_tui.errors import HistoryError
from starling_tui.history.conversations import ConversationRepository
from starling_tui.history.database import Database
from starling_tui.history.records import Message
from starling_tui.history.reply import ReplyWriter

CURRENT_LEAF: Any = object()  # default parent: the conversation's current leaf


class MessageRepository:
    """The ``messages`` table: one message at a time, and progressive replies."""

    def __init__(self, db: Database, conversations: ConversationRepository) -> None:
        self.db = db
        self.conversations = conversations

    def get(self, message_id: int) -> Message:
        """One message by id."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise HistoryError(f"no message {message_id}")
        return Message.from_row(row)

    def add(
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
        conv_id = self.conversations.resolve_id(conversation_id)
        now = time.time()
        with self.db.write() as conn:
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
        return self.get(cursor.lastrowid)

    def start_reply(self, conversation_id: str, *, parent_id: int) -> ReplyWriter:
        """Insert an empty assistant reply marked ``incomplete`` under ``parent_id``.

        The parent (the user message answered) is required: "the current leaf" may already be
        another process's message by the time the reply starts.
        """
        message = self.add(
            conversation_id, "assistant", "", parent_id=parent_id, finish_reason="incomplete"
        )
        return ReplyWriter(self, message, interval_s=self.db.save_interval_s)

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
        with self.db.write() as conn:
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


def title_from(content: str, width: int = 60) -> str:
    """A conversation title from its first user message: the first line, shortened."""
    line = next((ln.strip() for ln in content.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"
