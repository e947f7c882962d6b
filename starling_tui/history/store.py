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

from starling_tui.history.branches import BranchStore
from starling_tui.history.records import SearchHit


class HistoryStore(BranchStore):
    """Conversations and their messages in ``path`` (default: ``app_paths().history_db``).

    Built in layers, one module each: the connection (:mod:`.store_base`), conversations
    (:mod:`.conversations`), messages and replies (:mod:`.messages`), the tree of branches
    (:mod:`.branches`), and full-text search (here).
    """

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
