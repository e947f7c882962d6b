"""Shown when no model is available: how to get one, and a way to open a GGUF file."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown

WELCOME_TEXT = """\
# Welcome to starling-tui

No model is loaded yet. Get Starling-LM-7B-beta LaserRMT in one of these ways:

- `starling-tui pull` — download the checkpoint and convert it to Q4_K_M into the models folder
  (`starling-tui pull --gguf REPO FILE` fetches a ready-made GGUF instead).
- `starling-convert ./Starling-LM-7B-beta-LaserRMT-v1` — convert a checkpoint folder you already
  have.
- Or open any GGUF file below.

Your history stays browsable without a model: close this screen to read past conversations.
"""


class WelcomeScreen(ModalScreen[str]):
    """Dismisses with ``"open"`` (pick a model) or ``"browse"`` (just read history)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss('browse')", "Browse history"),
        Binding("o", "dismiss('open')", "Open a GGUF"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog", id="welcome"):
            yield Markdown(WELCOME_TEXT)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Open a GGUF…", variant="primary", id="open")
                yield Button("Browse history", id="browse")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "browse")
