"""Model-load progress: the model's name, elapsed time and an indeterminate bar.

What the user types meanwhile is not lost: printable keys are handed to ``typed`` (the chat
screen puts them in the prompt box under the dialog).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar


class LoadingScreen(ModalScreen[None]):
    """Covers the app while a model loads; the app dismisses it when loading ends."""

    def __init__(self, model_path: str,
                 typed: Callable[[str], object] = lambda _text: None) -> None:
        super().__init__()
        self.model_path = model_path
        self.typed = typed
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Loading {self.model_path.rsplit('/', 1)[-1]}…", classes="dialog-title")
            yield ProgressBar(total=None, show_eta=False, show_percentage=False)
            yield Label("", id="loading-elapsed", classes="dialog-text")

    def on_mount(self) -> None:
        self.set_interval(0.5, self._tick)

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._started
        self.query_one("#loading-elapsed", Label).update(f"{elapsed:.0f} s")

    def on_key(self, event: events.Key) -> None:
        """Printable keys go to ``typed``: a user who starts typing at launch loses nothing."""
        if event.is_printable and event.character:
            event.stop()
            self.typed(event.character)
