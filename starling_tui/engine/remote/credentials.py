"""The API key for a remote server: where it is read, where it may go, and keeping it unwritten.

Read from exactly the places the user named, in order: ``STARLING_TUI_API_KEY``, the
environment variable the ``api_key_env`` setting names (none unless set: a key meant for
another service, such as ``OPENAI_API_KEY``, is never picked up on its own), then the first
line of the ``api_key_file``. The key only ever goes into the ``Authorization`` header, and not
over plain ``http://`` to another machine unless ``send_key_over_http`` allows it
(:func:`key_to_send`). :func:`redact` scrubs it from any text that leaves the engine (error
messages, notes), in case a server echoes it back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starling_tui.engine.remote.endpoint import Endpoint
from starling_tui.errors import EngineError

KEY_VARIABLE = "STARLING_TUI_API_KEY"


@dataclass(frozen=True)
class KeySource:
    """Where the user said the key is: the settings ``api_key_env`` and ``api_key_file``."""

    env_name: str | None = None
    file: str | None = None
    send_over_http: bool = False  # the ``send_key_over_http`` opt-in


def find_api_key(source: KeySource, environ: Mapping[str, str] | None = None) -> str | None:
    """The key from ``STARLING_TUI_API_KEY``, the named variable, or the key file; None when
    none is configured. EngineError when a named variable or file holds no key."""
    env = os.environ if environ is None else environ
    value = env.get(KEY_VARIABLE, "").strip()
    if value:
        return value
    if source.env_name:
        value = env.get(source.env_name, "").strip()
        if value:
            return value
        if not source.file:
            raise EngineError(f"api_key_env names {source.env_name}, which is not set")
    if not source.file:
        return None
    return _read_key_file(Path(source.file).expanduser())


def _read_key_file(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise EngineError(f"cannot read the API key file {path}: {reason}") from None
    key = lines[0].strip() if lines else ""
    if not key:
        raise EngineError(f"the API key file {path} is empty")
    return key


def key_to_send(endpoint: Endpoint, key: str | None, source: KeySource) -> tuple[str | None, str]:
    """The key to put in requests to ``endpoint``, and a note when one is held back.

    Over plain http to another machine the key would travel readable by anyone on the way: it
    is sent there only with the ``send_key_over_http`` opt-in.
    """
    if key is None or not endpoint.insecure or source.send_over_http:
        return key, ""
    return None, (f"note: the API key is not sent to {endpoint.url} over plain http (use "
                  "https://, or set send_key_over_http = true to send it anyway)")


def redact(text: str, key: str | None) -> str:
    """``text`` with every occurrence of ``key`` replaced by ``***``."""
    if not key:
        return text
    return text.replace(key, "***")
