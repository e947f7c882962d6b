"""The engine's child process: owns llama.cpp and answers the parent's requests.

Protocol (a ``multiprocessing`` pipe; every request gets exactly one final reply):

- ``("load", EngineOptions, vocab_only)`` → ``("ok", ModelInfo)``
- ``("generate", ChatRequest)`` → any number of ``("piece", str)``, then ``("ok", GenerationStats)``
- ``("preview", ChatRequest)`` → ``("ok", PromptPreview)``
- ``("counters",)`` → ``("ok", dict)`` (llama.cpp's perf counters of the latest reply)
- ``("close",)`` → the process exits

A failure the worker can report is ``("error", one_line)``. A crash inside llama.cpp kills this
process; the parent sees the pipe close and the exit signal.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

from starling_tui.engine.base import EngineError


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def serve(conn: Connection, cancel_flag: Any) -> None:
    """Handle requests until ``close`` or the parent goes away (the process entry point)."""
    from starling_tui.engine.session import Session

    session: Session | None = None

    def cancelled() -> bool:
        return bool(cancel_flag.value)

    def emit(text: str) -> None:
        conn.send(("piece", text))

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "close":
            return
        try:
            if kind == "load":
                if session is not None:
                    session.close()
                    session = None
                session = Session(message[1], vocab_only=message[2])
                conn.send(("ok", session.info()))
                continue
            if session is None:
                raise EngineError("no model is loaded")
            if kind == "generate":
                conn.send(("ok", session.generate(message[1], emit, cancelled)))
            elif kind == "preview":
                conn.send(("ok", session.preview(message[1])))
            elif kind == "counters":
                conn.send(("ok", session.counters()))
            else:
                raise EngineError(f"unknown engine request {kind!r}")
        except EngineError as exc:
            conn.send(("error", _one_line(exc)))
        except Exception as exc:  # anything else must still answer, not hang the parent
            conn.send(("error", f"{type(exc).__name__}: {_one_line(exc)}"))
