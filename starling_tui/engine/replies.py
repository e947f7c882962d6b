"""Reply numbering and cancel: the one rule every engine follows.

Each ``generate()`` call is numbered when it is made, not when its first piece is read, and
``cancel()`` stops every reply numbered so far. So a cancel that comes between ``generate()``
and the first read still stops that reply, while a reply requested after the cancel is not
stopped by it. Engines answer one reply at a time: once a newer reply is numbered, an older
one that is still being read is *superseded* and ends as cancelled before its next piece.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class ReplyNumbers:
    """The numbers of one engine's replies and how far they are cancelled; thread-safe.

    ``on_cancel(n)`` is told each time replies up to ``n`` are cancelled (the process engine
    writes it where its worker reads it between tokens).
    """

    def __init__(self, on_cancel: Callable[[int], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._newest = 0
        self._cancelled_through = 0
        self._on_cancel = on_cancel

    def next(self) -> int:
        """Number a new reply."""
        with self._lock:
            self._newest += 1
            return self._newest

    @property
    def newest(self) -> int:
        """The number of the latest reply (0 before the first)."""
        return self._newest

    def cancel(self) -> None:
        """Cancel every reply numbered so far."""
        self.cancel_through(self._newest)

    def cancel_through(self, number: int) -> None:
        """Cancel the replies numbered up to ``number``."""
        with self._lock:  # held while telling, so what is told never goes backwards
            self._cancelled_through = max(self._cancelled_through, number)
            if self._on_cancel is not None:
                self._on_cancel(self._cancelled_through)

    def cancelled(self, number: int) -> bool:
        """Whether reply ``number`` was cancelled."""
        return self._cancelled_through >= number

    def superseded(self, number: int) -> bool:
        """Whether reply ``number`` was cancelled or a newer reply was numbered since."""
        return self.cancelled(number) or self._newest != number
