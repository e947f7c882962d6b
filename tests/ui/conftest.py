"""Fixtures for the UI tests: a real history store in the test's home and a scripted engine."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from tmux_helpers import Tmux

from starling_tui.config import Settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.history.store import HistoryStore
from starling_tui.ui.services import Services


@pytest.fixture
def store(isolated_home: Path) -> Iterator[HistoryStore]:
    """The history store of this test's home."""
    with HistoryStore(isolated_home / "data" / "history.db", save_interval_s=0.0) as history:
        yield history

@pytest.fixture
def make_services(store: HistoryStore, isolated_home: Path) -> Callable[..., Services]:
    """Build the app's services around a :class:`FakeEngine`."""

    def build(
        replies: Sequence[str] = (), *, model: str = "/models/fake-starling.gguf",
        engine: FakeEngine | None = None, **changes: object,
    ) -> Services:
        services = Services(
            engine=engine or FakeEngine(replies), store=store, settings=Settings(),
            model_path=model, models_dir=isolated_home / "data" / "models",
            export_dir=isolated_home / "exports",
        )
        for key, value in changes.items():
            setattr(services, key, value)
        return services

    return build


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A private tmux server for one end-to-end test, killed after it."""
    session = Tmux(f"starling-test-{os.getpid()}")
    yield session
    subprocess.run(["tmux", "-L", session.socket, "kill-server"], capture_output=True)
