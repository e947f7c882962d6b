"""Flash attention's default: off for a model wholly on the CPU (where llama.cpp's kernel is
slower, benchmarks/flash_attn_bench.py), llama.cpp's own choice once layers are on a GPU or
the KV cache is quantized (which needs it)."""

from __future__ import annotations

from pathlib import Path

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.worker.context import effective_flash_attn
from starling_tui.engine.worker.state_cache import fingerprint


def test_auto_is_off_on_the_cpu_and_llama_cpps_choice_elsewhere() -> None:
    auto = EngineOptions(model_path="m.gguf")
    assert effective_flash_attn(auto, 0) is False
    assert effective_flash_attn(auto, 33) is None  # llama.cpp's auto
    quantized_kv = EngineOptions(model_path="m.gguf", kv_cache_type="q8_0")
    assert effective_flash_attn(quantized_kv, 0) is None
    assert effective_flash_attn(EngineOptions(model_path="m", flash_attn=True), 0) is True
    assert effective_flash_attn(EngineOptions(model_path="m", flash_attn=False), 33) is False


def test_saved_states_are_keyed_on_the_setting_in_effect(tmp_path: Path) -> None:
    """A state evaluated without flash attention must not be loaded into a context with it
    (llama.cpp lays the V cache out differently), whether it was chosen or defaulted."""
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    auto = EngineOptions(model_path=str(model))
    off = EngineOptions(model_path=str(model), flash_attn=False)
    on = EngineOptions(model_path=str(model), flash_attn=True)
    assert fingerprint(auto, 4096, 0) == fingerprint(off, 4096, 0)
    assert fingerprint(auto, 4096, 0) != fingerprint(on, 4096, 0)
    assert fingerprint(auto, 4096, 33)["flash_attn"] is None
