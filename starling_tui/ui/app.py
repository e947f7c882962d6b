"""The Textual app: wires the injected services to the chat screen, palette and theme.

Everything the app runs on (engine, history store, settings) arrives in a
:class:`~starling_tui.ui.services.Services` built by the CLI (through the factory) or a test.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.screen import Screen

from starling_tui.ui import gc_pauses
from starling_tui.ui.actions import CHAT_ACTIONS
from starling_tui.ui.screens.chat import ChatScreen
from starling_tui.ui.services import Services


class StarlingApp(App[None]):
    """``starling-tui``'s chat app."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "starling-tui"

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def on_mount(self) -> None:
        self.apply_theme(self.services.settings.theme)
        self.push_screen(ChatScreen(self.services))
        # after the first frame: what start-up built is frozen (see gc_pauses for why)
        self.call_after_refresh(gc_pauses.start)

    def apply_theme(self, theme: str) -> None:
        """Use the settings' theme; an unknown one is said in one line, not silently ignored."""
        if theme in self.available_themes:
            self.theme = theme
        elif theme:
            self.notify(f"unknown theme {theme!r} in the settings: using {self.theme} "
                        "(F9 or the palette's Theme command picks one)",
                        severity="warning", timeout=10)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands plus every chat action (see ``actions.py``)."""
        yield from super().get_system_commands(screen)
        chat = screen if isinstance(screen, ChatScreen) else None
        if chat is None:
            return
        for action in CHAT_ACTIONS:
            key = action.key.replace("+", " ")
            yield SystemCommand(
                f"{action.title} ({key})", action.help,
                lambda a=action.action: chat.run_action(a),
            )

    def on_unmount(self) -> None:
        # stop a streaming reply so its worker thread (and the app) can finish
        self.services.engine.cancel()
        gc_pauses.stop()
