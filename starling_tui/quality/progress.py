"""A one-line progress bar with an ETA for chunked work, drawn only on a terminal."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24


def eta_text(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``42s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ChunkProgress:
    """Redraws ``label [####....] 3/40 chunks, ETA 1m05s`` on ``stream`` after every chunk."""

    def __init__(self, stream: TextIO, label: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.label, self.clock = stream, label, clock
        self.started = clock()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Draw the bar for ``done`` of ``total`` chunks."""
        elapsed = self.clock() - self.started
        filled = BAR_WIDTH * done // max(total, 1)
        eta = eta_text(elapsed / done * (total - done)) if done else "?"
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} chunks, ETA {eta} ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def progress_for(stream: TextIO, label: str) -> ChunkProgress | None:
    """A bar on ``stream`` when it is a terminal, else None (quiet when piped)."""
    return ChunkProgress(stream, label) if stream.isatty() else None
