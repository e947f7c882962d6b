"""Learning a server's context size when it does not publish it (llama-cpp-python's server).

Such a server is first assumed to have the configured ``--ctx`` (else 2048, that server's
default). A prompt longer than its real window is refused with the size in the message:
as a 400 reply (``maximum context length is N``, ``context window of N``) to a plain request,
or, when streaming, as a stream that ends before any text. In the second case the same prompt is
sent once more without streaming and with ``max_tokens`` 1, only to read that refusal.
"""

from __future__ import annotations

import re
from typing import Any

from starling_tui.engine.remote.transport import RemoteError, Transport

_REFUSALS = (re.compile(r"maximum context length is (\d+)"),
             re.compile(r"context window of (\d+)"))


def refused_context(error: RemoteError) -> int | None:
    """The context size a 400 refusal names, if it names one."""
    if error.status != 400:
        return None
    for pattern in _REFUSALS:
        match = pattern.search(error.detail)
        if match:
            return int(match.group(1))
    return None


def ask_context(transport: Transport, body: dict[str, Any]) -> int | None:
    """Resend ``body`` unstreamed for one token; the context size if the server refuses it."""
    check = {**body, "stream": False, "max_tokens": 1}
    check.pop("stream_options", None)
    try:
        transport.call("POST", transport.endpoint.path("/completions"), check)
    except RemoteError as error:
        return refused_context(error)
    return None
