"""One open history database: the connection, its lock, and read/write transactions.

:class:`Database` owns one SQLite connection shared by threads under a lock; :meth:`read` and
:meth:`write` translate SQLite (and encoding) errors into one-line
:class:`~starling_tui.errors.HistoryError` s, and :meth:`write` wraps a ``BEGIN IMMEDIATE``
transaction that rolls back on any error. The repositories (conversations, messages,
branches, search) each take a :class:`Database`; see :mod:`starling_tui.history.store`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from starling_tui.errors import HistoryError
from starling_tui.history import db


class Database:
    """The history file at ``path`` (default: ``app_paths().history_db``), opened and migrated."""

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
        self.save_interval_s = save_interval_s  # how often a streaming reply is saved
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = db.connect(self.path, busy_timeout_s)

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
        with self._lock, db.translate_errors(self.path):
            yield self.conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction under the lock (``BEGIN IMMEDIATE``, rolled back on error)."""
        with self._lock, db.translate_errors(self.path), db.transaction(self.conn) as conn:
            yield conn
