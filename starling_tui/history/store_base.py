"""The history store's foundation: the connection, its lock, and read/write transactions.

:class:`StoreBase` owns one SQLite connection shared by threads under a lock; ``_read`` and
``_write`` translate SQLite (and encoding) errors into one-line
:class:`~starling_tui.errors.HistoryError` s, and ``_write`` wraps a ``BEGIN IMMEDIATE``
transaction that rolls back on any error. The tables are used by the layers built on it:
conversations, messages, branches (see :mod:`starling_tui.history.store`).
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


class StoreBase:
    """One open history database (default: ``app_paths().history_db``)."""

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
        self.save_interval_s = save_interval_s
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
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, db.translate_errors(self.path):
            yield self.conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, db.translate_errors(self.path), db.transaction(self.conn) as conn:
            yield conn
