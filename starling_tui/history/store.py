"""The conversation history: a SQLite file shared by the TUI and the CLI.

:class:`HistoryStore` is the one way to read and change it: conversations (created, found by
id or unique id prefix, listed, changed, deleted), their messages and the files attached to
them, the tree those messages form, and full-text search (message text and file text). The
file itself (opening, migrations, transactions, one-line errors) is
:class:`~starling_tui.history.database.Database`'s job; how files are stored once per content
is :mod:`.files`'; how a delete leaves no text behind is :mod:`.erasure`'.

Messages form a tree through ``parent_id`` (editing a user message adds a sibling branch); each
conversation remembers the leaf of the branch being shown, and the *active path* is the chain
from that leaf up to the root. Paging walks the active path from the bottom with a recursive
query bounded by the page size, so the newest page of a 5,000-message conversation costs the
same as that of a short one. Assistant replies are written progressively through
:class:`~starling_tui.history.reply.ReplyWriter` so a crash keeps what was streamed.

All methods are thread-safe and raise :class:`~starling_tui.errors.HistoryError` for unknown
ids or database problems.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

from starling_tui.errors import HistoryError
from starling_tui.history import erasure, files
from starling_tui.history.database import DEFAULT_BUSY_TIMEOUT_S, Database, translate_errors
from starling_tui.history.records import Conversation, Message, SearchHit
from starling_tui.history.reply import ReplyWriter
from starling_tui.types import Attachment

CURRENT_LEAF: Any = object()  # default parent: the conversation's current leaf
_ID_PATTERN = re.compile(r"^[0-9a-z]+$")
_CONVERSATION_FIELDS = frozenset({"title", "model", "mode", "system_prompt", "sampling"})
_WITH_COUNT = (
    "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
    " AS message_count FROM conversations c"
)
_PATH_UP = """
    WITH RECURSIVE path(id, n) AS (
        SELECT ?, 1
        UNION ALL
        SELECT m.parent_id, p.n + 1 FROM messages m JOIN path p ON m.id = p.id
        WHERE m.parent_id IS NOT NULL AND p.n < ?
    )
    SELECT m.* FROM path p JOIN messages m ON m.id = p.id ORDER BY m.depth
"""
_WHOLE_PATH = 1 << 62
_HIT = "m.conversation_id, c.title, m.id, m.role, m.updated_at"
_SEARCH_MESSAGES = f"""
    SELECT {_HIT}, '' AS file_name, snippet(messages_fts, 0, '[', ']', '…', 12) AS excerpt,
        bm25(messages_fts) AS rank
    FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
    JOIN conversations c ON c.id = m.conversation_id
    WHERE messages_fts MATCH ? ORDER BY rank, m.id DESC LIMIT ?
"""
_SEARCH_FILES = f"""
    SELECT {_HIT}, mf.name AS file_name, snippet(files_fts, 0, '[', ']', '…', 12) AS excerpt,
        bm25(files_fts) AS rank
    FROM files_fts JOIN message_files mf ON mf.file_id = files_fts.rowid
    JOIN messages m ON m.id = mf.message_id JOIN conversations c ON c.id = m.conversation_id
    WHERE files_fts MATCH ? ORDER BY rank, m.id DESC LIMIT ?
"""
_SUBTREE = """
    WITH RECURSIVE below(id) AS (
        SELECT ?
        UNION ALL
        SELECT m.id FROM messages m JOIN below b ON m.parent_id = b.id
    )
    SELECT id FROM below
"""


class HistoryStore:
    """Conversations and their messages in ``path`` (default: ``app_paths().history_db``)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        save_interval_s: float = 1.0,
        on_delete: Callable[[str], object] | None = None,
    ) -> None:
        """``on_delete(conversation_id)`` runs after a conversation or part of it is deleted,
        so that what was derived from its text elsewhere (saved KV states) goes too."""
        self.db = Database(path, busy_timeout_s=busy_timeout_s, save_interval_s=save_interval_s)
        self._on_delete = on_delete

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
        now = time.time()
        row = (title, now, now, model, mode, system_prompt, json.dumps(sampling or {},
                                                                       sort_keys=True))
        for _ in range(10):
            conv_id = secrets.token_hex(4)
            try:
                with self.db.write() as conn:
                    conn.execute(
                        "INSERT INTO conversations (id, title, created_at, updated_at, model, mode,"
                        " system_prompt, sampling_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (conv_id, *row),
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

    def get_conversation(self, id_or_prefix: str) -> Conversation:
        """A conversation by id (or unique id prefix), with its message count."""
        conv_id = self.resolve_id(id_or_prefix)
        with self.db.read() as conn:
            row = conn.execute(f"{_WITH_COUNT} WHERE c.id = ?", (conv_id,)).fetchone()
        if row is None:
            raise HistoryError(f"no conversation {id_or_prefix!r}")
        return Conversation.from_row(row)

    def latest_conversation(self) -> Conversation | None:
        """The most recently updated conversation, if any (``ask --continue``)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        return None if row is None else self.get_conversation(row["id"])

    def list_conversations(
        self, limit: int | None = None, offset: int = 0
    ) -> builtins.list[Conversation]:
        """Conversations, most recently updated first, with their message counts."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"{_WITH_COUNT} ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            ).fetchall()
        return [Conversation.from_row(r) for r in rows]

    def update_conversation(self, id_or_prefix: str, **changes: Any) -> Conversation:
        """Change ``title``, ``model``, ``mode``, ``system_prompt`` or ``sampling``."""
        unknown = set(changes) - _CONVERSATION_FIELDS
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
        return self.get_conversation(conv_id)

    def rename(self, id_or_prefix: str, title: str) -> Conversation:
        """Set a conversation's title."""
        return self.update_conversation(id_or_prefix, title=title)

    def delete_conversation(self, id_or_prefix: str) -> None:
        """Delete a conversation with all its messages and branches, leaving no text behind.

        The text goes from the file, its log, the search index and the migration backups
        (see :mod:`.erasure`), then ``on_delete`` removes what was derived from it.
        """
        conv_id = self.resolve_id(id_or_prefix)
        with self.db.write() as conn:
            erasure.delete_conversation_rows(conn, conv_id)
            erasure.merge_search_indexes(conn)
        self._after_delete(conv_id)
        with translate_errors(self.path):
            erasure.erase_from_backups(self.path, conv_id)

    def delete_branch(self, message_id: int) -> Message | None:
        """Delete a message and every message below it, leaving no text behind.

        When the shown branch went with it, the newest remaining branch under the same parent
        is shown (else the parent). A title made from a deleted first message is made again
        from the first message left. Returns the new current leaf (None: nothing is left).
        """
        message = self.get_message(message_id)
        conv_id = message.conversation_id
        with self.db.write() as conn:
            doomed = [row[0] for row in conn.execute(_SUBTREE, (message_id,))]
            conv = conn.execute(
                "SELECT title, current_leaf_id FROM conversations WHERE id = ?", (conv_id,)
            ).fetchone()
            erasure.delete_message_rows(conn, doomed)
            leaf = conv["current_leaf_id"]
            if leaf in doomed:
                leaf = _newest_leaf(conn, conv_id, message.parent_id)
                conn.execute(
                    "UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (leaf, conv_id)
                )
            made_title = title_from(message.content, message.attachments)
            if message.parent_id is None and conv["title"] == made_title:
                conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ?",
                    (_first_user_title(conn, conv_id), conv_id),
                )
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (time.time(), conv_id)
            )
            erasure.merge_search_indexes(conn)
        self._after_delete(conv_id)
        return None if leaf is None else self.get_message(leaf)

    def _after_delete(self, conversation_id: str) -> None:
        with self.db.read() as conn:
            erasure.truncate_log(conn)
        if self._on_delete is not None:
            self._on_delete(conversation_id)

    # -- messages --------------------------------------------------------------------------

    def get_message(self, message_id: int) -> Message:
        """One message by id."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise HistoryError(f"no message {message_id}")
            return files.with_files(conn, [row])[0]

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        parent_id: int | None = CURRENT_LEAF,
        finish_reason: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Message:
        """Append a message under ``parent_id``; it becomes the current leaf.

        Pass ``parent_id`` whenever the caller knows what it answers or follows: the default
        (the current leaf, read in this transaction) may be a message another process added.
        ``attachments`` are its files, kept in this order (each content stored once).
        """
        conv_id = self.resolve_id(conversation_id)
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
            message_id = cursor.lastrowid
            assert message_id is not None
            files.link_files(conn, message_id, attachments)
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                (message_id, now, conv_id),
            )
            if role == "user":
                conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                    (title_from(content, attachments), conv_id),
                )
        return self.get_message(message_id)

    def start_reply(self, conversation_id: str, *, parent_id: int) -> ReplyWriter:
        """Insert an empty assistant reply marked ``incomplete`` under ``parent_id``.

        The parent (the user message answered) is required: "the current leaf" may already be
        another process's message by the time the reply starts.
        """
        message = self.add_message(
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

    # -- the tree of messages --------------------------------------------------------------

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
        conv = self.get_conversation(conversation_id)
        start = conv.current_leaf_id if before_id is None else self.get_message(before_id).parent_id
        if start is None or limit == 0:
            return []
        return self._path_up(start, _WHOLE_PATH if limit is None else limit)

    def path_to(self, message_id: int) -> list[Message]:
        """Every message from the root down to ``message_id``, oldest first."""
        self.get_message(message_id)  # unknown ids fail clearly
        return self._path_up(message_id, _WHOLE_PATH)

    def children(self, message_id: int) -> list[Message]:
        """Direct replies to a message, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM messages WHERE parent_id = ? ORDER BY id", (message_id,)
            ).fetchall()
            return files.with_files(conn, rows)

    def siblings(self, message_id: int) -> list[Message]:
        """The message and its alternatives (same parent), oldest first."""
        message = self.get_message(message_id)
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id",
                (message.conversation_id, message.parent_id),
            ).fetchall()
            return files.with_files(conn, rows)

    def switch_branch(self, message_id: int) -> Message:
        """Show the branch through ``message_id``: its newest descendant leaf becomes current."""
        message = self.get_message(message_id)
        with self.db.write() as conn:
            leaf = _newest_leaf_below(conn, message_id)
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ?",
                (leaf, message.conversation_id),
            )
        return self.get_message(leaf)

    def edit_message(
        self, message_id: int, content: str, attachments: Sequence[Attachment] | None = None
    ) -> Message:
        """Add an edited copy of a message as its sibling; the copy becomes the current leaf.

        The copy keeps the original's files unless ``attachments`` gives others (``()``: none).
        """
        original = self.get_message(message_id)
        return self.add_message(
            original.conversation_id, original.role, content, parent_id=original.parent_id,
            attachments=original.attachments if attachments is None else attachments,
        )

    def _path_up(self, start: int, limit: int) -> list[Message]:
        with self.db.read() as conn:
            rows = conn.execute(_PATH_UP, (start, limit)).fetchall()
            return files.with_files(conn, rows)

    # -- search ----------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages containing every word of ``query`` in their text or in one attached file,
        best first (one hit per message).

        Words are matched whole except the last, which also matches as a prefix. Quotes and
        operators are taken literally (no FTS5 syntax), so any user input is a valid query.
        """
        match = fts_query(query)
        if match is None:
            return []
        with self.db.read() as conn:
            rows = [
                *conn.execute(_SEARCH_MESSAGES, (match, limit)).fetchall(),
                *conn.execute(_SEARCH_FILES, (match, limit)).fetchall(),
            ]
        rows.sort(key=lambda r: (r["rank"], -r["id"]))
        hits: dict[int, SearchHit] = {}
        for r in rows:
            if r["id"] not in hits:
                hits[r["id"]] = SearchHit(
                    r["conversation_id"], r["title"], r["id"], r["role"], r["excerpt"],
                    r["updated_at"], r["file_name"],
                )
        return list(hits.values())[:limit]


def _newest_leaf_below(conn: sqlite3.Connection, message_id: int) -> int:
    """The end of the newest branch under ``message_id`` (itself when it has no replies)."""
    leaf = message_id
    while True:
        row = conn.execute(
            "SELECT id FROM messages WHERE parent_id = ? ORDER BY id DESC LIMIT 1", (leaf,)
        ).fetchone()
        if row is None:
            return leaf
        leaf = row[0]


def _newest_leaf(conn: sqlite3.Connection, conversation_id: str, parent_id: int | None
                 ) -> int | None:
    """The end of the newest branch under ``parent_id`` (None: the roots), else the parent."""
    row = conn.execute(
        "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ?"
        " ORDER BY id DESC LIMIT 1",
        (conversation_id, parent_id),
    ).fetchone()
    return parent_id if row is None else _newest_leaf_below(conn, row[0])


def _first_user_title(conn: sqlite3.Connection, conversation_id: str) -> str:
    """The title made from the oldest remaining first-level user message ('' when none)."""
    rows = conn.execute(
        "SELECT * FROM messages WHERE conversation_id = ? AND parent_id IS NULL"
        " AND role = 'user' ORDER BY id LIMIT 1",
        (conversation_id,),
    ).fetchall()
    return "".join(title_from(m.content, m.attachments) for m in files.with_files(conn, rows))


def fts_query(query: str) -> str | None:
    """``query`` as an FTS5 match of its words, the last one also as a prefix (None: no words).

    Each word is quoted, so quotes and operators in it are plain text, never FTS5 syntax.
    """
    terms = query.split()
    if not terms:
        return None
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    quoted[-1] += "*"  # the last word may be unfinished (search as you type)
    return " ".join(quoted)


def title_from(content: str, attachments: Sequence[Attachment] = (), width: int = 60) -> str:
    """A conversation title from its first user message: the first line, shortened (for a
    message of files alone, the first file's name)."""
    line = next((ln.strip() for ln in content.splitlines() if ln.strip()), "")
    if not line and attachments:
        line = " ".join(attachments[0].name.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"
