"""Navigating a conversation's tree of messages: the active path, paging, siblings, branches.

Messages link to their parent, so edits and regenerations are siblings; the conversation's
``current_leaf_id`` picks the branch shown. The *active path* runs from that leaf up to the root,
and paging walks it from the bottom with a recursive query bounded by the page size, so the
newest page of a 5,000-message conversation costs the same as that of a short one.
"""

from __future__ import annotations

from starling_tui.history.conversations import ConversationRepository
from starling_tui.history.database import Database
from starling_tui.history.messages import MessageRepository
from starling_tui.history.records import Message

_PATH_UP = """
    WITH RECURSIVE path(id, n) AS (
        SELECT ?, 1
        UNION ALL
        SELECT m.parent_id, p.n + 1 FROM messages m JOIN path p ON m.id = p.id
        WHERE m.parent_id IS NOT NULL AND p.n < ?
    )
    SELECT m.* FROM path p JOIN messages m ON m.id = p.id ORDER BY m.depth
"""


class BranchRepository:
    """Tree queries over the messages of a conversation (paths, siblings, the shown branch)."""

    def __init__(
        self, db: Database, conversations: ConversationRepository, messages: MessageRepository
    ) -> None:
        self.db = db
        self.conversations = conversations
        self.messages = messages

    def active_path(self, conversation_id: str) -> list[Message]:
        """Every message from the root to the current leaf, oldest first."""
        return self.load_page(conversation_id, limit=None)

    def load_page(
        self, conversation_id: str, *, limit: int | None = 50, before_id: int | None = None
    ) -> list[Message]:
        """Up to ``limit`` messages of the active path ending just above ``before_id``.

        Without ``before_id``: the newest ``limit`` messages. Pass the oldest id you have to get
        the page before it. Oldest first; an empty list means the top was reached.
        """
        conv = self.conversations.get(conversation_id)
        start = (
            conv.current_leaf_id if before_id is None else self.messages.get(before_id).parent_id
        )
        if start is None or limit == 0:
            return []
        with self.db.read() as conn:
            rows = conn.execute(_PATH_UP, (start, 1 << 62 if limit is None else limit)).fetchall()
        return [Message.from_row(r) for r in rows]

    def path_to(self, message_id: int) -> list[Message]:
        """Every message from the root down to ``message_id``, oldest first."""
        self.messages.get(message_id)  # unknown ids fail clearly
        with self.db.read() as conn:
            rows = conn.execute(_PATH_UP, (message_id, 1 << 62)).fetchall()
        return [Message.from_row(r) for r in rows]

    def children(self, message_id: int) -> list[Message]:
        """Direct replies to a message, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM messages WHERE parent_id = ? ORDER BY id", (message_id,)
            ).fetchall()
        return [Message.from_row(r) for r in rows]

    def siblings(self, message_id: int) -> list[Message]:
        """The message and its alternatives (same parent), oldest first."""
        message = self.messages.get(message_id)
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id",
                (message.conversation_id, message.parent_id),
            ).fetchall()
        return [Message.from_row(r) for r in rows]

    def switch_branch(self, message_id: int) -> Message:
        """Show the branch through ``message_id``: its newest descendant leaf becomes current."""
        leaf = self.messages.get(message_id)
        while True:
            with self.db.read() as conn:
                row = conn.execute(
                    "SELECT * FROM messages WHERE parent_id = ? ORDER BY id DESC LIMIT 1",
                    (leaf.id,),
                ).fetchone()
            if row is None:
                break
            leaf = Message.from_row(row)
        with self.db.write() as conn:
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ?",
                (leaf.id, leaf.conversation_id),
            )
        return leaf

    def edit(self, message_id: int, content: str) -> Message:
        """Add an edited copy of a message as its sibling; the copy becomes the current leaf."""
        original = self.messages.get(message_id)
        return self.messages.add(
            original.conversation_id, original.role, content, parent_id=original.parent_id
        )
