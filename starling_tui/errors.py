"""Errors the user sees as one line: ``starling-tui: error: <message>`` and exit status 1.

Anything raised as (a subclass of) :class:`UserError` is an expected failure caused by input or
environment (a bad model file, an unknown conversation id, a broken config file). The CLI prints
its message without a traceback; the TUI shows it in a notification. Engine failures
are :class:`EngineError` (a crashed worker: :class:`EngineCrashed`), which the CLI treats
the same way.
"""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """An error's message on one line: its first line, or its type's name when it has none.

    An ``OSError`` shows its reason and file name rather than ``[Errno N]``.
    """
    text = str(error).strip()
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return text.splitlines()[0] if text else type(error).__name__


class UserError(Exception):
    """A failure caused by the user's input or files, explained in one line."""


class ConfigError(UserError):
    """The settings file, an environment variable or a flag holds an invalid value."""


class ModelFileError(UserError):
    """A model file is missing, not a GGUF, truncated, or cannot be resolved from a name."""


class ModelHasNoTensors(ModelFileError):
    """A sound GGUF header with no tensors: a vocabulary-only file, fine for tokenizing only."""


class HistoryError(UserError):
    """The history database is corrupt, locked, too new, or a conversation/message is unknown."""


class EngineError(Exception):
    """A failure the user should see as one clear line (bad model, crashed worker, OOM…)."""


class EngineCrashed(EngineError):
    """The engine's worker process died (segfault, abort, killed). The engine can be reloaded."""
