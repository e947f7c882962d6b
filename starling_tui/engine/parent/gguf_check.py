"""Cheap checks of a model file in the parent process, before any worker is spawned.

llama.cpp validates GGUF files too, but a malformed file can crash it, and its messages are
written for developers. :func:`starling_tui.models.inspect_model` (core's header reader, a few
milliseconds) catches a missing file, a git-lfs pointer, a file that is not GGUF, a header cut
off or corrupt, tensor data past the end of the file and unknown tensor types; this module only
turns its one-line :class:`~starling_tui.errors.ModelFileError` into an ``EngineError``.
:func:`check_context_fits` refuses, from the same header, a context the model or the free
memory cannot take (:mod:`starling_tui.models.capacity`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starling_tui.errors import EngineError

if TYPE_CHECKING:
    from starling_tui.engine.base import EngineOptions


def check_model_file(path: str | Path, *, vocab_only: bool = False) -> Path:
    """Return ``path`` resolved, or raise :class:`EngineError` saying what is wrong with it.

    ``vocab_only`` (a tokenizer-only load) accepts a sound GGUF without tensors, the one
    complaint of ``inspect_model`` that such a load does not care about.
    """
    from starling_tui.errors import ModelFileError, ModelHasNoTensors
    from starling_tui.models import inspect_model

    p = Path(path).expanduser()
    try:
        inspect_model(p)
    except ModelHasNoTensors as exc:
        if vocab_only:
            return p.resolve()
        raise EngineError(str(exc)) from exc
    except ModelFileError as exc:
        raise EngineError(str(exc)) from exc
    return p.resolve()


def check_context_fits(
    path: Path, options: EngineOptions, free_memory: Callable[[], int | None] | None = None
) -> None:
    """Raise :class:`EngineError` (one line) when ``options``' context does not suit the model
    at ``path`` or the memory ``free_memory()`` reports (default: the system's figure now)."""
    from starling_tui.config.machine import available_memory
    from starling_tui.errors import ConfigError, ModelFileError
    from starling_tui.models import inspect_model
    from starling_tui.models.capacity import check_context

    try:
        check_context(inspect_model(path), options.n_ctx, cache_type=options.kv_cache_type,
                      self_extend=options.self_extend,
                      available=(free_memory or available_memory)())
    except (ConfigError, ModelFileError) as exc:
        raise EngineError(str(exc)) from exc
