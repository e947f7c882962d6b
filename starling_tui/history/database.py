"""The history database file: opened safely, migrated, and used through one locked connection.

The rules: a file that is not SQLite, is corrupt, is locked, or has a schema newer than this
version knows is refused with a :class:`HistoryError` and never written to. Before the
migrations of an existing database a copy is made with ``VACUUM INTO`` next to it. Writes use
``BEGIN IMMEDIATE`` so two processes queue on the lock (up to the busy timeout) instead of
failing half-way; WAL with ``synchronous=FULL`` makes every commit durable.

:class:`Database` owns one connection shared by threads under a lock; :meth:`Database.read`
and :meth:`Database.write` translate SQLite (and encoding) errors into one-line
:class:`~starling_tui.errors.HistoryError` s, and :meth:`Database.write` wraps a transaction
that rolls back on any error. The queries themselves are the store's
(:mod:`starling_tui.history.store`); the statements of each schema version are in
:mod:`starling_tui.history.schema`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from starling_tui.atomic import PRIVATE_FILE_MODE, make_private_dirs
from starling_tui.errors import HistoryError
from starling_tui.history.schema import MIGRATIONS, SCHEMA_VERSION, SECURE_DELETE_SINCE
from starling_tui.text import describe_unicode_error

SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_BUSY_TIMEOUT_S = 10.0


class Database:
    """The history file at ``path`` (default: ``app_paths().history_db``), opened and migrated."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        save_interval_s: float = 1.0,
    ) -> None:
        if path is None:
            from starling_tui.paths import app_paths

            path = app_paths().history_db
        self.path = Path(path)
        self.save_interval_s = save_interval_s  # how often a streaming reply is saved
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self.path, busy_timeout_s)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
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
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, with errors made one-line."""
        with self._lock, translate_errors(self.path):
            yield self.conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction under the lock (``BEGIN IMMEDIATE``, rolled back on error)."""
        with self._lock, translate_errors(self.path), transaction(self.conn) as conn:
            yield conn


def describe(error: sqlite3.Error, path: Path) -> HistoryError:
    """Turn a SQLite error into a one-line :class:`HistoryError` naming the file."""
    text = str(error)
    if "locked" in text or "busy" in text:
        return HistoryError(f"history database {path} is locked by another process; try again")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return HistoryError(f"history database {path} is corrupt ({text}); it was left untouched")
    return HistoryError(f"history database {path}: {text}")


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Re-raise SQLite and encoding errors as :class:`HistoryError` (integrity errors stay bugs)."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as error:
        raise describe(error, path) from error
    except UnicodeEncodeError as error:
        # SQLite refuses lone surrogates (undecodable argv/stdin bytes) while binding: nothing
        # was written, and the transaction around this rolls back.
        raise HistoryError(
            f"text that is not valid UTF-8 cannot be saved ({describe_unicode_error(error)})"
        ) from None


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front and rolls back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def check_file(path: Path) -> None:
    """Refuse a file that exists and is not SQLite, before SQLite gets a chance to touch it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_MAGIC))
    if header != SQLITE_MAGIC:
        raise HistoryError(f"{path} is not a SQLite database (corrupt?); it was left untouched")


def connect(path: Path, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open, check, configure and migrate the database at ``path``."""
    check_file(path)
    make_private(path)
    with translate_errors(path):
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (BEGIN IMMEDIATE for writes).
        conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            version = _read_version(conn, path)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA journal_mode = WAL")
            # Freed space is overwritten with zeros, so deleted text does not linger in the
            # file (see :mod:`.erasure` for the search index and the log).
            conn.execute("PRAGMA secure_delete = ON")
            if version < SCHEMA_VERSION:
                migrate(conn, path)
            if 0 < version < SECURE_DELETE_SINCE:
                # Written when a delete left its text in the free space: rewrite the file once.
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except BaseException:
            conn.close()
            raise
    return conn


def make_private(path: Path) -> None:
    """Create the database's folder (``0700``) and file (``0600``) for the user alone.

    SQLite gives the ``-wal`` and ``-shm`` files it creates the database file's permissions,
    so making the file first is enough for them. A database (or log) left readable by others
    by an older version is made private.
    """
    try:
        make_private_dirs(path.parent)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except OSError as error:
        raise HistoryError(f"history database {path}: {error.strerror or error}") from None
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        companion = path.with_name(name)
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to change
            if companion.stat().st_mode & 0o077:
                os.chmod(companion, PRIVATE_FILE_MODE)


def _read_version(conn: sqlite3.Connection, path: Path) -> int:
    # Reading the schema forces SQLite to parse page 1: a damaged file fails here, read-only.
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"history database {path} has schema version {version}, newer than this "
            f"starling-tui supports ({SCHEMA_VERSION}); upgrade starling-tui (file left untouched)"
        )
    return version


def backup_path(path: Path, version: int) -> Path:
    """Where the copy taken before migrating from ``version`` goes."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return path.with_name(f"{path.name}.v{version}-{stamp}.bak")


def migrate(conn: sqlite3.Connection, path: Path, target: int = SCHEMA_VERSION) -> None:
    """Apply missing migrations one by one, after one ``VACUUM INTO`` backup of the original.

    A database without conversations has nothing worth keeping, so it gets no backups. (Judging
    by ``user_version > 0`` alone was wrong: another process creating the same new file may
    have applied only the first migrations when this one opens it.)
    """
    backed_up = not _has_conversations(conn)
    while True:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version >= target:
            return
        if not backed_up:
            # One copy of the database as it was, before the first step.
            backup = backup_path(path, version)
            if not backup.exists():
                conn.execute("VACUUM INTO ?", (str(backup),))
            backed_up = True
        # A table rebuild (v3) must not trip the foreign keys half-way: they are switched off
        # (only possible outside a transaction) and checked before the commit instead.
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with transaction(conn):
                # Another process may have migrated while we waited for the write lock.
                current = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if current != version:
                    continue
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    raise HistoryError(f"history database {path}: migration broke a link")
                conn.execute(f"PRAGMA user_version = {version + 1}")
        finally:
            conn.execute("PRAGMA foreign_keys = ON")


def _has_conversations(conn: sqlite3.Connection) -> bool:
    table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'conversations'"
    ).fetchone()
    if table is None:
        return False
    return conn.execute("SELECT 1 FROM conversations LIMIT 1").fetchone() is not None
