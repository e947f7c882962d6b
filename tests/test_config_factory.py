"""Settings reach the engine: ``factory.engine_options`` and ``factory.sampling_options``."""

from __future__ import annotations

import dataclasses

from starling_tui import factory
from starling_tui.config import Settings
from starling_tui.engine.base import EngineOptions


def test_every_engine_setting_reaches_the_engine_options() -> None:
    settings = Settings(
        n_gpu_layers=7,
        ctx=2048,
        threads=3,
        batch=64,
        flash_attn=False,
        mmap=False,
        mlock=True,
        extra_bufts=False,
        kv_cache_type="q8_0",
        state_cache=False,
        state_cache_budget_mb=123,
    )
    options = factory.engine_options(settings, "/m.gguf")
    assert options == EngineOptions(
        model_path="/m.gguf",
        n_gpu_layers=7,
        n_ctx=2048,
        n_threads=3,
        n_batch=64,
        flash_attn=False,
        use_mmap=False,
        use_mlock=True,
        extra_bufts=False,
        kv_cache_type="q8_0",
        state_cache=False,
        state_cache_budget_mb=123,
    )


def test_no_engine_option_is_left_at_its_default_by_accident() -> None:
    # Every EngineOptions field but the folder (always app_paths()) must follow a setting.
    defaults = factory.engine_options(Settings(), "/m.gguf")
    changed = factory.engine_options(
        Settings(
            n_gpu_layers=1, ctx=1, threads=1, batch=1, flash_attn=True, mmap=False, mlock=True,
            extra_bufts=True, kv_cache_type="q4_0", state_cache=False, state_cache_budget_mb=1,
            context_overflow="drop", context_shift_share=0.5, self_extend=2, self_extend_window=64,
            chat_format="gemma", speculative="off",
        ),
        "/m.gguf",
    )
    same = {
        f.name
        for f in dataclasses.fields(EngineOptions)
        if getattr(defaults, f.name) == getattr(changed, f.name)
    }
    assert same == {"model_path", "state_cache_dir"}


def test_batch_never_exceeds_an_explicit_context() -> None:
    # llama.cpp caps its batch at n_ctx and aborts on a bigger chunk (GGML_ASSERT), while the
    # engine chunks prompts by n_batch: so the options must never ask for more than the context.
    assert factory.engine_options(Settings(ctx=40, batch=512)).n_batch == 40
    assert factory.engine_options(Settings(ctx=4096, batch=512)).n_batch == 512
    assert factory.engine_options(Settings(batch=256)).n_batch == 256
