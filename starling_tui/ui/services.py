"""What the app is given from outside: the engine, the history store and the settings.

The factory (CLI) or a test builds a :class:`Services` and hands it to
:class:`~starling_tui.ui.app.StarlingApp`; nothing in the UI constructs an engine or opens the
database itself. ``settings`` is the one source of every engine and sampling value: the chat
core reads sampling from it, :meth:`Services.engine_options` derives how a model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starling_tui.config import Settings
from starling_tui.engine.base import Engine, EngineOptions
from starling_tui.history.store import HistoryStore


def glob_models(folder: Path) -> list[Path]:
    """GGUF files directly in ``folder``, by name."""
    return sorted(folder.glob("*.gguf")) if folder.is_dir() else []


@dataclass
class Services:
    """The app's collaborators and starting settings."""

    engine: Engine
    store: HistoryStore
    settings: Settings = field(default_factory=Settings)
    model_path: str = ""  # "" when no model was chosen: the welcome screen explains
    models_dir: Path = field(default_factory=lambda: Path("."))
    export_dir: Path = field(default_factory=Path.cwd)
    conversation_id: str | None = None  # open this conversation at start
    new_chat: bool = False  # start on an empty chat even if conversations exist
    list_models: Callable[[], list[Path]] | None = None  # default: *.gguf in models_dir
    save_settings: Callable[[dict[str, Any]], None] | None = None  # persist the settings screen

    def available_models(self) -> list[Path]:
        """The GGUFs the model picker offers."""
        return self.list_models() if self.list_models else glob_models(self.models_dir)

    def engine_options(self, model_path: str) -> EngineOptions:
        """How to load ``model_path`` with the current settings (the factory's derivation)."""
        from starling_tui.factory import engine_options

        return engine_options(self.settings, model_path)
