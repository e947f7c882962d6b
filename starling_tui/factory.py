"""Builds what the CLI and the TUI run on, from :class:`~starling_tui.config.Settings`.

One place turns settings into :class:`EngineOptions` / :class:`SamplingOptions`, picks and checks
the model file, creates the engine and opens the history store. The engine comes from an
*engine factory* (``Callable[[Settings], Engine]``): the CLI's entry point takes one
(``main(argv, engine_factory=...)``) so tests and demos inject a scripted engine; without one,
:func:`create_engine` builds the llama.cpp child-process engine (or the remote engine when
``engine_url`` is set).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starling_tui.config import Settings
from starling_tui.engine.base import Engine, EngineOptions, ModelInfo, PromptPreview
from starling_tui.errors import UserError
from starling_tui.history.store import HistoryStore
from starling_tui.models import ModelFile, inspect_model, resolve_model
from starling_tui.types import ChatRequest, SamplingOptions

EngineFactory = Callable[[Settings], Engine]


def engine_options(settings: Settings, model_path: str | os.PathLike[str] = "") -> EngineOptions:
    """How to load ``model_path`` with these settings."""
    return EngineOptions(
        model_path=os.fspath(model_path),
        n_gpu_layers=settings.n_gpu_layers,
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
        context_overflow=settings.context_overflow,
        context_shift_share=settings.context_shift_share,
        self_extend=settings.self_extend,
        self_extend_window=settings.self_extend_window,
        speculative=settings.speculative,
        chat_format=settings.chat_format,
    )


def sampling_options(settings: Settings) -> SamplingOptions:
    """How to pick tokens with these settings (no conversation overrides)."""
    from starling_tui.chat.sampling import sampling_from_settings

    return sampling_from_settings(settings)


def uses_remote_engine(settings: Settings) -> bool:
    """Whether these settings chat with a remote server (``engine_url``) instead of llama.cpp."""
    return bool(settings.engine_url)


def choose_model(settings: Settings, spec: str | None = None) -> ModelFile | None:
    """The model ``spec`` (or the configured default, or the only one) names, checked.

    None for a remote engine when no model is named: the server's tokenizer builds the
    prompts, so nothing local is needed.
    """
    if uses_remote_engine(settings) and not (spec or settings.model):
        return None
    return inspect_model(resolve_model(spec or settings.model, None))


def create_engine(
    settings: Settings | None = None, engine_factory: EngineFactory | None = None
) -> Engine:
    """The engine to use: ``engine_factory(settings)`` if given, the remote engine when
    ``engine_url`` is set (nothing is contacted before ``load``), else the llama.cpp engine."""
    settings = settings or Settings()
    if engine_factory is not None:
        return engine_factory(settings)
    if uses_remote_engine(settings):
        from starling_tui.engine.remote.credentials import KeySource
        from starling_tui.engine.remote.engine import RemoteEngine

        keys = KeySource(settings.api_key_env, settings.api_key_file, settings.send_key_over_http)
        return RemoteEngine(settings.engine_url or "", keys=keys)
    try:
        from starling_tui.engine.parent.process import ProcessEngine
    except ImportError as error:
        raise UserError(f"the llama.cpp engine is unavailable: {error}") from None
    return ProcessEngine()


def load_engine(
    settings: Settings,
    model: ModelFile | Path | str | None,
    engine_factory: EngineFactory | None = None,
) -> tuple[Engine, ModelInfo]:
    """Create an engine and load ``model`` into it (None: a remote engine's server model);
    the caller closes it."""
    path = model.path if isinstance(model, ModelFile) else (model or "")
    engine = create_engine(settings, engine_factory)
    try:
        info = engine.load(engine_options(settings, path))
    except BaseException:
        engine.close()
        raise
    return engine, info


@contextmanager
def preview_engine(
    settings: Settings, model: ModelFile | None, engine_factory: EngineFactory | None = None
) -> Iterator[Engine]:
    """An engine that previews prompts for ``model`` (the local one loads only the
    vocabulary; None: a remote engine's server model), closed on leaving the block."""
    if engine_factory is None and not uses_remote_engine(settings) and model is not None:
        from starling_tui.engine.parent.process import ProcessEngine

        vocab = ProcessEngine()
        try:
            vocab.load_vocab(engine_options(settings, model.path))
            yield vocab
        finally:
            vocab.close()
        return
    engine, _info = load_engine(settings, model, engine_factory)
    try:
        yield engine
    finally:
        engine.close()


def preview_prompt(
    settings: Settings,
    model: ModelFile | None,
    request: ChatRequest,
    engine_factory: EngineFactory | None = None,
) -> PromptPreview:
    """The exact prompt of ``request``; the local engine loads only the vocabulary for it."""
    with preview_engine(settings, model, engine_factory) as engine:
        return engine.preview(request)


def open_history(path: Path | None = None) -> HistoryStore:
    """The history store (default location: ``app_paths().history_db``); deleting a
    conversation (or a branch of it) there also removes its saved KV states."""
    return HistoryStore(path, on_delete=clear_saved_states)


def clear_saved_states(conversation_id: str) -> int:
    """Remove a conversation's saved KV states; returns how many there were."""
    from starling_tui.llama.kv_state import clear_states
    from starling_tui.paths import app_paths

    return clear_states(app_paths().state_cache_dir, conversation_id)


def save_setting_changes(changes: dict[str, Any]) -> None:
    """Persist settings changed in the UI to the config file (other keys are kept)."""
    from starling_tui.config import update_config_file

    update_config_file(**changes)
