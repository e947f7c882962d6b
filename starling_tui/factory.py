"""Builds what the CLI and the TUI run on, from :class:`~starling_tui.config.Settings`.

One place turns settings into :class:`EngineOptions` / :class:`SamplingOptions`, picks and checks
the model file, creates the engine (the llama.cpp child process, or one the caller injects) and
opens the history store. The TUI and its tests call the same functions with a ``FakeEngine``.

Test hook: when ``STARLING_TUI_FAKE_ENGINE`` holds JSON (``{"replies": [...], "delay_s": 0.1,
"fail_on": "word"}``)
*and* the process runs under pytest (``PYTEST_CURRENT_TEST`` is set, which child processes of a
test inherit), :func:`create_engine` returns a scripted :class:`FakeEngine` instead of the real
one. It lets end-to-end CLI tests (kill -9 mid-reply) control timing; outside pytest it is
ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from starling_tui.config import Settings
from starling_tui.engine.base import (
    ChatRequest,
    Engine,
    EngineOptions,
    GpuLayers,
    ModelInfo,
    OverflowPolicy,
    PromptPreview,
    SamplingOptions,
)
from starling_tui.errors import ConfigError, UserError
from starling_tui.history.store import HistoryStore
from starling_tui.models import ModelFile, inspect_model, resolve_model

FAKE_ENGINE_ENV = "STARLING_TUI_FAKE_ENGINE"


def engine_options(settings: Settings, model_path: str | os.PathLike[str] = "") -> EngineOptions:
    """How to load ``model_path`` with these settings."""
    return EngineOptions(
        model_path=os.fspath(model_path),
        n_gpu_layers=gpu_layers(settings.n_gpu_layers),
        n_ctx=settings.ctx,
        n_threads=settings.threads,
        # llama.cpp caps the batch at the context and aborts on larger chunks.
        n_batch=min(settings.batch, settings.ctx) if settings.ctx else settings.batch,
        flash_attn=settings.flash_attn,
        use_mmap=settings.mmap,
        use_mlock=settings.mlock,
        extra_bufts=settings.extra_bufts,
        kv_cache_type=settings.kv_cache_type,
        state_cache=settings.state_cache,
        state_cache_budget_mb=settings.state_cache_budget_mb,
        context_overflow=overflow_policy(settings.context_overflow),
        context_shift_share=settings.context_shift_share,
        self_extend=settings.self_extend,
        self_extend_window=settings.self_extend_window,
    )


def overflow_policy(value: str) -> OverflowPolicy:
    """The engine's form of the ``context_overflow`` setting (validated by the config)."""
    return "drop" if value == "drop" else "error" if value == "error" else "shift"


def gpu_layers(value: int | str) -> GpuLayers:
    """The engine's form of the ``n_gpu_layers`` setting."""
    if value == "auto":
        return "auto"
    if value == "all":
        return "all"
    return int(value)


def sampling_options(settings: Settings) -> SamplingOptions:
    """How to pick tokens with these settings."""
    return SamplingOptions(
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
        min_p=settings.min_p,
        repeat_penalty=settings.repeat_penalty,
        seed=settings.seed,
        max_tokens=settings.max_tokens,
        loop_guard=settings.loop_guard,
    )


def choose_model(settings: Settings, spec: str | None = None) -> ModelFile:
    """The model ``spec`` (or the configured default, or the only one) names, checked."""
    return inspect_model(resolve_model(spec or settings.model, None))


def create_engine(engine: Engine | None = None) -> Engine:
    """The engine to use: ``engine`` if given, else the llama.cpp child-process engine."""
    if engine is not None:
        return engine
    fake = _fake_engine_from_env()
    if fake is not None:
        return fake
    try:
        from starling_tui.engine.parent.process import ProcessEngine
    except ImportError as error:
        raise UserError(f"the llama.cpp engine is unavailable: {error}") from None
    return ProcessEngine()


def load_engine(
    settings: Settings, model: ModelFile | Path | str, engine: Engine | None = None
) -> tuple[Engine, ModelInfo]:
    """Create (or take) an engine and load ``model`` into it; the caller closes it."""
    path = model.path if isinstance(model, ModelFile) else Path(model)
    engine = create_engine(engine)
    try:
        info = engine.load(engine_options(settings, path))
    except BaseException:
        engine.close()
        raise
    return engine, info


def preview_prompt(
    settings: Settings, model: ModelFile, request: ChatRequest, engine: Engine | None = None
) -> PromptPreview:
    """The exact prompt of ``request``; the real engine loads only the vocabulary for it."""
    engine = engine or _fake_engine_from_env()
    if engine is None:
        from starling_tui.engine.parent.process import ProcessEngine

        return ProcessEngine.preview_only(engine_options(settings, model.path), request)
    engine, _info = load_engine(settings, model, engine)
    try:
        return engine.preview(request)
    finally:
        engine.close()


def open_history(path: Path | None = None) -> HistoryStore:
    """The history store (default location: ``app_paths().history_db``)."""
    return HistoryStore(path)


def save_setting_changes(changes: dict[str, Any]) -> None:
    """Persist settings changed in the UI to the config file (other keys are kept)."""
    from starling_tui.config import update_config_file

    update_config_file(**changes)


def _fake_engine_from_env() -> Engine | None:
    raw = os.environ.get(FAKE_ENGINE_ENV)
    if not raw or not os.environ.get("PYTEST_CURRENT_TEST"):
        return None
    from starling_tui.engine.fake import FakeEngine

    try:
        spec = json.loads(raw)
        return FakeEngine(
            spec.get("replies", ()),
            delay_s=float(spec.get("delay_s", 0.0)),
            fail_on=spec.get("fail_on"),
        )
    except (ValueError, AttributeError, TypeError) as error:
        raise ConfigError(f"{FAKE_ENGINE_ENV}: {error}") from None
