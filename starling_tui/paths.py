"""Where starling-tui keeps its files.

Paths come from platformdirs. The environment variable ``STARLING_TUI_HOME`` relocates all of
them under one folder, which is how tests (and users who want a portable setup) isolate state.
Nothing is created at import time; callers create folders when they write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "starling-tui"
HOME_ENV = "STARLING_TUI_HOME"


@dataclass(frozen=True)
class AppPaths:
    """The folders and files the app uses."""

    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def config_file(self) -> Path:
        """The TOML settings file."""
        return self.config_dir / "config.toml"

    @property
    def models_dir(self) -> Path:
        """Where converted and downloaded GGUF files live."""
        return self.data_dir / "models"

    @property
    def history_db(self) -> Path:
        """The SQLite conversation history."""
        return self.data_dir / "history.db"

    @property
    def state_cache_dir(self) -> Path:
        """Saved KV states of conversations."""
        return self.cache_dir / "kv-states"


def app_paths() -> AppPaths:
    """Return the app's paths, honouring ``STARLING_TUI_HOME`` when it is set."""
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return AppPaths(root / "config", root / "data", root / "cache")
    import platformdirs

    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )
