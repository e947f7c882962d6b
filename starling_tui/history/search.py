"""Full-text search of every message (the ``messages_fts`` FTS5 table kept by triggers)."""

from __future__ import annotations

from starling_tui.history.database import Database
from starling_tui.history.records import SearchHit


class SearchRepository:
    """Searches the messages of one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        with self.db.read() as conn:
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
