"""The conversation history: a SQLite file shared by the TUI and the CLI.

Messages form a tree through ``parent_id`` (editing a user message adds a sibling branch); each
conversation remembers the leaf of the branch being shown, and the *active path* is the chain
from that leaf up to the root. Assistant replies are written progressively through
:class:`~starling_tui.history.reply.ReplyWriter` so a crash keeps what was streamed.

Built by composition: one :class:`~.database.Database` (connection, lock, transactions,
migrations) and one repository per concern over it — :attr:`HistoryStore.conversations`,
:attr:`~HistoryStore.messages`, :attr:`~HistoryStore.branches`, :attr:`~HistoryStore.finder`
(full-text search). :class:`HistoryStore` only wires them together and forwards the calls its
users make (each forwarding method is one line). All methods are thread-safe and raise
:class:`~starling_tui.errors.HistoryError` for unknown ids or database problems.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Self

from starling_tui.history import db
from starling_tui.history.branches import BranchRepository
from starling_tui.history.conversations import ConversationRepository
from starling_tui.history.database import Database
from starling_tui.history.messages import CURRENT_LEAF, MessageRepository
from starling_tui.history.records import Conversation, Message, SearchHit
from starling_tui.history.reply import ReplyWriter
from starling_tui.history.search import SearchRepository


class HistoryStore:
    """Conversations and their messages in ``path`` (default: ``app_paths().history_db``)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        busy_timeout_s: float = db.DEFAULT_BUSY_TIMEOUT_S,
        save_interval_s: float = 1.0,
    ) -> None:
        self.db = Database(path, busy_timeout_s=busy_timeout_s, save_interval_s=save_interval_s)
        self.conversations = ConversationRepository(self.db)
        self.messages = MessageRepository(self.db, self.conversations)
        self.branches = BranchRepository(self.db, self.conversations, self.messages)
        self.finder = SearchRepository(self.db)

    # -- the database ----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The database file."""
        return self.db.path

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (for checks such as ``PRAGMA integrity_check``)."""
        return self.db.conn

    def close(self) -> None:
        """Close the database (idempotent)."""
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- conversations ---------------------------------------------------------------------

    def create_conversation(
        self, *, title: str = "", model: str = "", mode: str = "auto", system_prompt: str = "",
        sampling: dict[str, Any] | None = None,
    ) -> Conversation:
        """Start an empty conversation with a new short id."""
        return self.conversations.create(
            title=title, model=model, mode=mode, system_prompt=system_prompt, sampling=sampling
        )

    def resolve_id(self, id_or_prefix: str) -> str:
        """The full id of the one conversation whose id starts with ``id_or_prefix``."""
        return self.conversations.resolve_id(id_or_prefix)

    def get_conversation(self, id_or_prefix: str) -> Conversation:
        """A conversation by id (or unique id prefix)."""
        return self.conversations.get(id_or_prefix)

    def latest_conversation(self) -> Conversation | None:
        """The most recently updated conversation, if any."""
        return self.conversations.latest()

    def list_conversations(self, limit: int | None = None, offset: int = 0) -> list[Conversation]:
        """Conversations, most recently updated first, with their message counts."""
        return self.conversations.list(limit, offset)

    def update_conversation(self, id_or_prefix: str, **changes: Any) -> Conversation:
        """Change ``title``, ``model``, ``mode``, ``system_prompt`` or ``sampling``."""
        return self.conversations.update(id_or_prefix, **changes)

    def rename(self, id_or_prefix: str, title: str) -> Conversation:
        """Set a conversation's title."""
        return self.conversations.rename(id_or_prefix, title)

    def delete_conversation(self, id_or_prefix: str) -> None:
        """Delete a conversation with all its messages and branches."""
        self.conversations.delete(id_or_prefix)

    # -- messages --------------------------------------------------------------------------

    def get_message(self, message_id: int) -> Message:
        """One message by id."""
        return self.messages.get(message_id)

    def add_message(
        self, conversation_id: str, role: str, content: str, *,
        parent_id: int | None = CURRENT_LEAF, finish_reason: str | None = None,
    ) -> Message:
        """Append a message under ``parent_id`` (see :meth:`MessageRepository.add`)."""
        return self.messages.add(
            conversation_id, role, content, parent_id=parent_id, finish_reason=finish_reason
        )

    def start_reply(self, conversation_id: str, *, parent_id: int) -> ReplyWriter:
        """Insert an empty assistant reply marked ``incomplete``; returns its writer."""
        return self.messages.start_reply(conversation_id, parent_id=parent_id)

    def save_reply(self, message_id: int, content: str, **final: Any) -> None:
        """Overwrite a reply's text (and, when finished, its reason and figures)."""
        self.messages.save_reply(message_id, content, **final)

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages containing every word of ``query``, best first."""
        return self.finder.search(query, limit)

    # -- branches --------------------------------------------------------------------------

    def active_path(self, conversation_id: str) -> list[Message]:
        """Every message from the root to the current leaf, oldest first."""
        return self.branches.active_path(conversation_id)

    def load_page(
        self, conversation_id: str, *, limit: int | None = 50, before_id: int | None = None
    ) -> list[Message]:
        """Up to ``limit`` messages of the active path ending just above ``before_id``."""
        return self.branches.load_page(conversation_id, limit=limit, before_id=before_id)

    def path_to(self, message_id: int) -> list[Message]:
        """Every message from the root down to ``message_id``, oldest first."""
        return self.branches.path_to(message_id)

    def children(self, message_id: int) -> list[Message]:
        """Direct replies to a message, oldest first."""
        return self.branches.children(message_id)

    def siblings(self, message_id: int) -> list[Message]:
        """The message and its alternatives (same parent), oldest first."""
        return self.branches.siblings(message_id)

    def switch_branch(self, message_id: int) -> Message:
        """Show the branch through ``message_id``; returns its newest leaf."""
        return self.branches.switch_branch(message_id)

    def edit_message(self, message_id: int, content: str) -> Message:
        """Add an edited copy of a message as its sibling; it becomes the current leaf."""
        return self.branches.edit(message_id, content)
