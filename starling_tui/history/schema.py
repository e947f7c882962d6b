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

_FINISH_REASONS_V3 = "'stop', 'length', 'cancelled', 'error', 'incomplete', 'repetition'"

# v3: the loop guard's finish reason ``repetition``. SQLite cannot change a CHECK constraint in
# place, so the messages table is rebuilt (its rows, ids and FTS index are kept; the migration
# runs with foreign keys off and checks them before committing, see ``db.migrate``).
_V3_REPETITION = (
    _V1_TABLES[1]
    .replace("CREATE TABLE messages (", "CREATE TABLE messages_v3 (")
    .replace("'stop', 'length', 'cancelled', 'error', 'incomplete'", _FINISH_REASONS_V3),
    "INSERT INTO messages_v3 SELECT * FROM messages",
    "DROP TABLE messages",
    "ALTER TABLE messages_v3 RENAME TO messages",
    *_V1_TABLES[2:4],
    *_V2_SEARCH[1:4],
)

# v4: a conversation stores only the sampling values set for it. ``ask`` used to store every
# value of its settings (the full set of keys), which then overrode the app's settings for
# ever; in such rows, the values equal to the built-in defaults were never a user's choice and
# are removed (other values are kept: they may have been flags).
_ASK_WRITTEN = " AND ".join(
    f"json_type(sampling_json, '$.{key}') IS NOT NULL"
    for key in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "max_tokens")
)
_DEFAULTS = (
    ("temperature", "= 0"), ("top_p", "= 1"), ("top_k", "= 0"), ("min_p", "= 0"),
    ("repeat_penalty", "= 1"), ("seed", "= 0"), ("loop_guard", "= 1"),
)
_V4_SAMPLING = (
    f"CREATE TEMP TABLE ask_written AS SELECT id FROM conversations WHERE json_valid(sampling_json)"
    f" AND {_ASK_WRITTEN}",
    *(
        f"UPDATE conversations SET sampling_json = json_remove(sampling_json, '$.{key}')"
        f" WHERE id IN (SELECT id FROM ask_written) AND json_extract(sampling_json, '$.{key}')"
        f" {test}"
        for key, test in _DEFAULTS
    ),
    "UPDATE conversations SET sampling_json = json_remove(sampling_json, '$.max_tokens')"
    " WHERE id IN (SELECT id FROM ask_written)"
    " AND json_type(sampling_json, '$.max_tokens') = 'null'",
    "DROP TABLE temp.ask_written",
)

# v5: no new tables; from here on every delete zeroes the space it frees (``secure_delete``).
# A database of an older version may hold text deleted before in its free space, so it is
# rewritten once after this step (``VACUUM``, see ``database.connect``).
_V5_SECURE_DELETE: tuple[str, ...] = ()

# v6: files attached to messages. A file's text is stored once per content (keyed by its
# SHA-256) however many messages attach it; each message links its files in order, under the
# name the user gave. The text is searchable through a second external-content FTS5 index
# (files never change, so it needs no update trigger).
_V6_FILES = (
    """
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        text TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE message_files (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        file_id INTEGER NOT NULL REFERENCES files(id),
        name TEXT NOT NULL,
        PRIMARY KEY (message_id, position)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX message_files_by_file ON message_files(file_id)",
    """
    CREATE VIRTUAL TABLE files_fts USING fts5(
        text, content='files', content_rowid='id', tokenize='unicode61'
    )
    """,
    """
    CREATE TRIGGER files_fts_insert AFTER INSERT ON files BEGIN
        INSERT INTO files_fts(rowid, text) VALUES (new.id, new.text);
    END
    """,
    """
    CREATE TRIGGER files_fts_delete AFTER DELETE ON files BEGIN
        INSERT INTO files_fts(files_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END
    """,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    _V1_TABLES, _V2_SEARCH, _V3_REPETITION, _V4_SAMPLING, _V5_SECURE_DELETE, _V6_FILES
)
SCHEMA_VERSION = len(MIGRATIONS)
SECURE_DELETE_SINCE = 5  # the first version written with ``secure_delete`` on
