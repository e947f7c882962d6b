"""The API key for a remote server, and keeping it out of everything that is written down.

Looked up in order: ``STARLING_TUI_API_KEY``, ``OPENAI_API_KEY``, then the file named by the
``api_key_file`` setting (its first line). The key only ever goes into the ``Authorization``
header; :func:`redact` scrubs it from any text that leaves the engine (error messages, notes),
in case a server echoes it back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from starling_tui.errors import EngineError

KEY_VARIABLES = ("STARLING_TUI_API_KEY", "OPENAI_API_KEY")


def find_api_key(key_file: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The key from the environment, else from ``key_file``; None when neither has one."""
    env = os.environ if environ is None else environ
    for name in KEY_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value
    if not key_file:
        return None
    path = Path(key_file).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise EngineError(f"cannot read the API key file {path}: {reason}") from None
    key = lines[0].strip() if lines else ""
    if not key:
        raise EngineError(f"the API key file {path} is empty")
    return key


def redact(text: str, key: str | None) -> str:
    """``text`` with every occurrence of ``key`` replaced by ``***``."""
    if not key:
        return text
    return text.replace(key, "***")
