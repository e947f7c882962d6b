"""The engine's child process: owns llama.cpp and answers the parent's requests.

Protocol (a ``multiprocessing`` pipe; every request gets exactly one final reply):

- ``("load", EngineOptions, vocab_only)`` → ``("ok", ModelInfo)``
- ``("generate", ChatRequest, id)`` → any number of ``("piece", str)`` and
  ``("progress", GenerationStats)``, then ``("ok", GenerationStats)``; after that reply the
  KV state is saved and the next user turn's header evaluated, until the next request
  arrives. The reply stops early once the shared cancel value (the newest reply id the
  parent cancelled) reaches ``id``. The first piece goes out at once; later
  tokens are coalesced into at most one piece per ``PIECE_INTERVAL_S`` (30 per second, smooth
  to the eye): every wake-up of the caller takes a core from llama.cpp's threads, which on a
  machine with as many threads as cores measurably slowed decoding when done per token.
  ``progress`` carries the reply's figures so far (the prompt read, the tokens generated), at
  most every ``LIVE_INTERVAL_S``, so a long prompt shows progress before the first piece.
- ``("preview", ChatRequest)`` → ``("ok", PromptPreview)``
- ``("counters",)`` → ``("ok", dict)`` (llama.cpp's perf counters of the latest reply)
- ``("close",)`` → pending state saves finish, the process exits

A failure the worker can report is ``("error", one_line)``. Log records (e.g. a discarded state
file) travel as ``("log", level, text)`` at any time; the parent re-logs them. A crash inside
llama.cpp kills this process; the parent sees the pipe close and the exit signal. This
process's stderr goes to a log file (:mod:`.crash_log`), whose last error line the parent quotes.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from starling_tui.engine.crash_log import bound_log, redirect_stderr
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.errors import EngineError, one_line

# Builds the worker's session: ``(options, *, vocab_only, faults)`` → an object with the
# methods of :class:`.session.Session` that the request loop calls. Must pickle (spawn).
SessionFactory = Callable[..., Any]

PIECE_INTERVAL_S = 1 / 30
LIVE_INTERVAL_S = 0.25  # the reply's figures so far: four times a second


class Channel:
    """The worker's end of the pipe; sends are locked (the state writer thread logs too)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        """Send one message to the parent (thread-safe)."""
        with self._lock:
            self.conn.send(message)


class LiveFigures:
    """Sends a copy of the reply's figures as they grow, at most every ``LIVE_INTERVAL_S``.

    The session hands over its figures (:meth:`watch`); they are sent from the cancel check,
    which the session polls between prompt batches and before every token.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.stats: Any = None
        self.last_sent = 0.0

    def watch(self, stats: Any) -> None:
        """The figures of the reply now being generated."""
        self.stats, self.last_sent = stats, time.monotonic()

    def polling(self, cancelled: Callable[[], bool]) -> Callable[[], bool]:
        """``cancelled``, sending the figures when they are due."""
        def check() -> bool:
            now = time.monotonic()
            if self.stats is not None and now - self.last_sent >= LIVE_INTERVAL_S:
                self.last_sent = now
                self.channel.send(("progress", copy.copy(self.stats)))
            return cancelled()

        return check


class PieceStream:
    """Sends generated text to the parent: the first piece at once, then at most 30 a second."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.pending: list[str] = []
        self.last_sent = 0.0

    def emit(self, text: str) -> None:
        """Queue a piece of reply text; send what is queued once the interval has passed."""
        self.pending.append(text)
        now = time.monotonic()
        if now - self.last_sent >= PIECE_INTERVAL_S:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Send what is queued now (at a reply's end, or when the interval has passed)."""
        if self.pending:
            self.channel.send(("piece", "".join(self.pending)))
            self.pending.clear()
        self.last_sent = time.monotonic() if now is None else now

    def reset(self) -> None:
        """Forget what is queued, for a new reply (its first piece then goes out at once)."""
        self.pending.clear()
        self.last_sent = 0.0


class _PipeLogHandler(logging.Handler):
    def __init__(self, channel: Channel) -> None:
        super().__init__(logging.INFO)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.channel.send(("log", record.levelno, record.getMessage()))


def _log_traceback(what: str) -> None:
    """Write the exception being handled, with its traceback, to the engine log (this
    process's stderr, a file: :mod:`starling_tui.engine.crash_log`): the parent and the user
    get one line, the log keeps the whole story for whoever looks into it."""
    print(f"engine worker: unexpected error in {what}:", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()


def _cancel_check(cancel_flag: Any, generation: int) -> Callable[[], bool]:
    """Whether the parent has cancelled reply ``generation`` (or a later one)."""

    def cancelled() -> bool:
        return bool(cancel_flag.value >= generation)

    return cancelled


def _save_state(session: Any, request: Any, stats: Any, logger: logging.Logger) -> None:
    """Save the reply's KV state; a failure only logs (the request was answered already)."""
    try:
        session.after_reply(request, stats)
    except Exception as exc:  # a second reply would answer the parent's *next* request
        _log_traceback("the state save")
        logger.warning("could not save the conversation state: %s", one_line(exc))


def _prefill_next_turn(session: Any, conn: Connection, logger: logging.Logger) -> None:
    """Use the idle time after a reply; any request from the parent interrupts it."""
    try:
        session.prefill_next_turn(conn.poll)
    except Exception as exc:  # as for the state save: the reply was answered already
        _log_traceback("the next turn's prefill")
        logger.warning("could not prepare the next turn: %s", one_line(exc))


def serve(conn: Connection, cancel_flag: Any, log_path: str | None = None,
          faults: FaultPlan | None = None, session_factory: SessionFactory | None = None) -> None:
    """Handle requests until ``close`` or the parent goes away (the process entry point).

    ``log_path`` receives this process's stderr (see :mod:`.crash_log`); ``faults`` is a
    test's fault plan and ``session_factory`` builds the session (default: the real one).
    """
    import signal

    redirect_stderr(log_path)  # before llama.cpp is loaded

    # Ctrl-C in a terminal reaches the whole process group; the parent owns cancellation
    # (it sets the shared cancel flag), so the worker must not die with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from starling_tui.engine.worker.session import Session

    plan = faults or NO_FAULTS
    make_session: SessionFactory = session_factory or Session
    channel = Channel(conn)
    logger = logging.getLogger("starling_tui.engine")
    logger.addHandler(_PipeLogHandler(channel))
    logger.setLevel(logging.INFO)
    session: Any = None

    stream = PieceStream(channel)

    try:
        while True:
            bound_log(log_path)
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
                    session = make_session(message[1], vocab_only=message[2], faults=plan)
                    channel.send(("ok", session.info()))
                    continue
                if session is None:
                    raise EngineError("no model is loaded")
                if kind == "generate":
                    stream.reset()
                    live = LiveFigures(channel)
                    try:
                        cancelled = live.polling(_cancel_check(cancel_flag, message[2]))
                        stats = session.generate(message[1], stream.emit, cancelled,
                                                 live=live.watch)
                    finally:
                        stream.flush()
                    channel.send(("ok", stats))
                    _save_state(session, message[1], stats, logger)
                    _prefill_next_turn(session, conn, logger)
                elif kind == "preview":
                    channel.send(("ok", session.preview(message[1])))
                elif kind == "counters":
                    channel.send(("ok", session.counters()))
                else:
                    raise EngineError(f"unknown engine request {kind!r}")
            except EngineError as exc:
                channel.send(("error", one_line(exc)))
            except Exception as exc:  # anything else must still answer, not hang the parent
                _log_traceback(f"a {kind!r} request")
                channel.send(("error", f"{type(exc).__name__}: {one_line(exc)}"))
    finally:
        if session is not None:
            session.close()
