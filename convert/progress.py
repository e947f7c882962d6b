"""Progress reporting: a bar with ETA on a terminal, plain lines otherwise, nothing when quiet."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from starling_tui.disk import human

if TYPE_CHECKING:
    from .hooks import ProgressObserver

_BAR_WIDTH = 30


class Progress:
    """Reports the bytes written for one phase (``start`` → ``advance``* → ``finish``)."""

    def __init__(self, mode: str = "plain", stream: TextIO | None = None,
                 observer: ProgressObserver | None = None) -> None:
        self.mode = mode  # "bar", "plain" or "quiet"
        self.stream = stream or sys.stderr
        self.observer = observer  # told of every advance (see convert.hooks)
        self.total = self.done = 0
        self.label = ""
        self._started = self._last = 0.0
        self._next_percent = 0

    @classmethod
    def choose(cls, progress: bool | None, quiet: bool, stream: TextIO | None = None,
               observer: ProgressObserver | None = None) -> Progress:
        """``quiet`` wins; otherwise a bar when ``progress`` is True or the stream is a TTY."""
        stream = stream or sys.stderr
        if quiet:
            return cls("quiet", stream, observer)
        tty = progress if progress is not None else stream.isatty()
        return cls("bar" if tty else "plain", stream, observer)

    def message(self, text: str) -> None:
        """A one-line status message (not shown when quiet)."""
        if self.mode != "quiet":
            self.stream.write(text + "\n")
            self.stream.flush()

    def start(self, label: str, total: int) -> None:
        """Begin a phase of ``total`` bytes."""
        self.label, self.total, self.done = label, max(total, 1), 0
        self._started = self._last = time.monotonic()
        self._next_percent = 10

    def advance(self, n: int) -> None:
        """Record ``n`` more bytes done (the observer may raise to stop the conversion)."""
        self.done += n
        if self.observer is not None:
            self.observer(self.label, self.done, self.total)
        now = time.monotonic()
        if self.mode == "bar" and (now - self._last >= 0.1 or self.done >= self.total):
            self._last = now
            self.stream.write("\r" + self._bar_line(now))
            self.stream.flush()
        elif self.mode == "plain" and self.done * 100 >= self._next_percent * self.total:
            percent = self.done * 100 // self.total
            self._next_percent = (percent // 10 + 1) * 10
            self.message(f"{self.label}: {percent}% ({human(self.done)} of {human(self.total)})"
                         f"{self._eta(now)}")

    def advance_to(self, done: int) -> None:
        """Record that ``done`` bytes are done in total (never more than the total)."""
        done = min(done, self.total)
        if done > self.done:
            self.advance(done - self.done)

    def finish(self) -> None:
        """End the phase at 100% (estimated totals may be off) and end the bar's line."""
        if self.done < self.total:
            self.advance(self.total - self.done)
        if self.mode == "bar":
            self.stream.write("\r" + self._bar_line(time.monotonic()) + "\n")
            self.stream.flush()

    def _eta(self, now: float) -> str:
        elapsed = now - self._started
        if self.done <= 0 or elapsed <= 0 or self.done >= self.total:
            return f", {elapsed:.0f}s" if self.done >= self.total else ""
        return f", ETA {(self.total - self.done) * elapsed / self.done:.0f}s"

    def _bar_line(self, now: float) -> str:
        fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        return (f"{self.label} [{bar}] {fraction * 100:5.1f}% "
                f"{human(self.done)}/{human(self.total)}{self._eta(now)}   ")
