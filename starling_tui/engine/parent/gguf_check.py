"""Cheap checks of a model file in the parent process, before any worker is spawned.

llama.cpp validates GGUF files too, but a malformed file can crash it, and its messages are
written for developers. :func:`starling_tui.models.inspect_model` (core's header reader, a few
milliseconds) catches a missing file, a git-lfs pointer, a file that is not GGUF, a header cut
off or corrupt, tensor data past the end of the file and unknown tensor types; this module only
turns its one-line :class:`~starling_tui.errors.ModelFileError` into an ``EngineError``.
"""

from __future__ import annotations

from pathlib import Path

from starling_tui.errors import EngineError

_NO_TENSORS = "has no tensors"  # inspect_model's words, raised after the whole header parsed


def check_model_file(path: str | Path, *, vocab_only: bool = False) -> Path:
    """Return ``path`` resolved, or raise :class:`EngineError` saying what is wrong with it.

    ``vocab_only`` (a tokenizer-only load) accepts a sound GGUF without tensors, the one
    complaint of ``inspect_model`` that such a load does not care about.
    """
    from starling_tui.errors import ModelFileError
    from starling_tui.models import inspect_model

    p = Path(path).expanduser()
    try:
        inspect_model(p)
    except ModelFileError as exc:
        if vocab_only and _NO_TENSORS in str(exc):
            return p.resolve()
        raise EngineError(str(exc)) from exc
    return p.resolve()
