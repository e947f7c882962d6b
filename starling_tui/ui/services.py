"""What the app is given from outside: the engine, the history store and the settings.

The factory (CLI) or a test builds a :class:`Services` and hands it to
:class:`~starling_tui.ui.app.StarlingApp`; nothing in the UI constructs an engine or opens the
database itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starling_tui.engine.base import Engine, EngineOptions, SamplingOptions
from starling_tui.history.store import HistoryStore


def glob_models(folder: Path) -> list[Path]:
    """GGUF files directly in ``folder``, by name."""
    return sorted(folder.glob("*.gguf")) if folder.is_dir() else []


@dataclass
class Services:
    """The app's collaborators and starting settings."""

    engine: Engine
    store: HistoryStore
    engine_options: EngineOptions  # model_path "" when no model was chosen
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    models_dir: Path = field(default_factory=lambda: Path("."))
    export_dir: Path = field(default_factory=Path.cwd)
    theme: str | None = None
    conversation_id: str | None = None  # open this conversation at start
    new_chat: bool = False  # start on an empty chat even if conversations exist
    list_models: Callable[[], list[Path]] | None = None  # default: *.gguf in models_dir
    save_settings: Callable[[dict[str, Any]], None] | None = None  # persist the settings screen

    def available_models(self) -> list[Path]:
        """The GGUFs the model picker offers."""
        return self.list_models() if self.list_models else glob_models(self.models_dir)

    def options_for(self, model_path: str) -> EngineOptions:
        """The current engine options pointed at ``model_path``."""
        return replace(self.engine_options, model_path=model_path)
