"""The history schema as an ordered list of migrations keyed on ``PRAGMA user_version``.

Migration ``n`` (1-based) brings a database from version ``n - 1`` to ``n``. Never edit a
released migration: append a new one. Each migration is a tuple of single statements because
they run inside one explicit transaction (``executescript`` would commit half-way).
"""

from __future__ import annotations

_V1_TABLES = (
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL DEFAULT 'auto',
        system_prompt TEXT NOT NULL DEFAULT '',
        sampling_json TEXT NOT NULL DEFAULT '{}',
        current_leaf_id INTEGER
    )
    """,
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id INTEGER REFERENCES messages(id) DEFERRABLE INITIALLY DEFERRED,
        depth INTEGER NOT NULL DEFAULT 0,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finish_reason TEXT CHECK (finish_reason IS NULL OR finish_reason IN
            ('stop', 'length', 'cancelled', 'error', 'incomplete')),
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        evaluated_tokens INTEGER,
        ttft_s REAL,
        tokens_per_s REAL,
        stats_json TEXT NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
    "CREATE INDEX messages_by_parent ON messages(parent_id)",
    "CREATE INDEX conversations_by_update ON conversations(updated_at)",
)

# Full-text search over message text, an external-content FTS5 table kept in sync by triggers.
_V2_SEARCH = (
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id', tokenize='unicode61'
    )
    """,
    """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
    END
    """,
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END
    """,
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1_TABLES, _V2_SEARCH)
SCHEMA_VERSION = len(MIGRATIONS)
