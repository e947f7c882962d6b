"""The engine is injected: ``main(argv, engine_factory=...)`` and ``factory.create_engine``."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui import factory
from starling_tui.cli.main import main
from starling_tui.config import Settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.remote.engine import RemoteEngine


def test_main_hands_the_factory_the_settings_of_the_run(
    smollm2_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Settings] = []

    def make(settings: Settings) -> FakeEngine:
        seen.append(settings)
        return FakeEngine(["injected"])

    status = main(["ask", "--model", str(smollm2_gguf), "--ctx", "256", "hi"], engine_factory=make)
    assert status == 0
    assert capsys.readouterr().out == "injected\n"
    assert [s.ctx for s in seen] == [256]
    assert main(["tokens", "--model", str(smollm2_gguf), "hi"], engine_factory=make) == 0
    assert len(seen) == 2  # tokens previews through the injected engine too


def test_create_engine_picks_the_backend_from_the_settings() -> None:
    fake = FakeEngine()
    assert factory.create_engine(Settings(), lambda _settings: fake) is fake
    assert isinstance(factory.create_engine(Settings()), ProcessEngine)
    remote = factory.create_engine(Settings(engine_url="http://127.0.0.1:9/v1"))
    assert isinstance(remote, RemoteEngine) and remote.info is None  # nothing contacted yet
