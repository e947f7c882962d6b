"""The real engine: llama-cpp-python in a child process (``multiprocessing`` spawn).

A segfault, abort or OOM kill inside llama.cpp kills only the worker: the parent sees the
pipe close, raises :class:`EngineCrashed` naming the signal, and a later ``load`` starts a
fresh worker. Text pieces stream over the pipe as the worker produces them; ``cancel()`` sets a
shared flag that the worker checks before each token and, through llama.cpp's abort callback,
during prompt evaluation.

For the ``tokens`` command, :meth:`ProcessEngine.preview_only` loads just the vocabulary (no
weights, no context) in a worker and returns the exact prompt ids — fast even for a 7B model::

    preview = ProcessEngine.preview_only(EngineOptions(model_path=path), request)

:meth:`ProcessEngine.counters` exposes llama.cpp's own perf counters of the latest reply
(``n_p_eval``: prompt tokens llama.cpp evaluated), which tests use to prove KV reuse.

One reply at a time: a request made while an earlier reply is still unread (a new
``generate``, ``preview``…) first cancels and drains that reply, whose iterator then just ends.
Calls from other threads wait for the current reply (``cancel()`` never waits).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from starling_tui.engine.base import (
    ChatRequest,
    EngineCrashed,
    EngineError,
    EngineOptions,
    GenerationStats,
    ModelInfo,
    PromptPreview,
)
from starling_tui.engine.crash_log import last_error_line, prepare_log
from starling_tui.engine.gguf_check import check_model_file

_worker_log = logging.getLogger("starling_tui.engine.worker")


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


@contextlib.contextmanager
def _unimportable_main_hidden() -> Iterator[None]:
    """Keep spawn from re-running a ``__main__`` that is no file (``python - < script``).

    A spawned child re-imports the parent's main module from its path; when that "path" is
    ``<stdin>`` the child dies before it starts. Programs with a real main file are untouched.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    hide = (
        main is not None
        and getattr(main, "__spec__", None) is None
        and isinstance(path, str)
        and not os.path.isfile(path)
    )
    if hide:
        del main.__file__  # type: ignore[union-attr]
    try:
        yield
    finally:
        if hide:
            main.__file__ = path  # type: ignore[union-attr]


def _real_fd(stream: Any) -> bool:
    try:
        return stream is not None and int(stream.fileno()) >= 0
    except (AttributeError, OSError, ValueError):
        return False


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (idempotent; cheap once it runs).

    spawn starts it lazily and hands it ``sys.stderr.fileno()``; inside a Textual app that is
    -1 ("bad value(s) in fds_to_keep"), so it is started here with a real descriptor: the
    process's original stderr, or none at all.
    """
    from multiprocessing import resource_tracker

    current = sys.stderr
    if _real_fd(current):
        resource_tracker.ensure_running()
        return
    try:
        sys.stderr = sys.__stderr__ if _real_fd(sys.__stderr__) else None
        resource_tracker.ensure_running()
    finally:
        sys.stderr = current


class ProcessEngine:
    """Implements :class:`~starling_tui.engine.base.Engine` with a llama.cpp worker process."""

    def __init__(self) -> None:
        import multiprocessing

        self._mp = multiprocessing.get_context("spawn")
        _start_resource_tracker()
        self._cancel = self._mp.RawValue("b", 0)  # shared memory, read by the worker
        self._proc: Any = None
        self._conn: Connection | None = None
        self._lock = threading.RLock()
        self._stats = GenerationStats()
        self._info: ModelInfo | None = None
        self._stream_seq = 0
        self._open_stream: int | None = None  # a reply whose end the pipe has not delivered
        self._log: Path | None = None  # the worker's stderr

    # -- worker lifecycle ----------------------------------------------------------------

    def _ensure_worker(self) -> Connection:
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            return self._conn
        self._discard_worker()
        from starling_tui.engine.worker import serve

        parent, child = self._mp.Pipe(duplex=True)
        self._log = prepare_log()
        log = str(self._log) if self._log is not None else None
        self._proc = self._mp.Process(
            target=serve, args=(child, self._cancel, log), name="starling-engine", daemon=True
        )
        with _unimportable_main_hidden():
            self._proc.start()
        child.close()
        self._conn = parent
        return parent

    def _discard_worker(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=5)
        self._proc = None
        self._conn = None

    def _crashed(self, what: str) -> EngineCrashed:
        proc = self._proc
        if proc is not None:
            proc.join(timeout=5)
        how = _signal_name(proc.exitcode if proc is not None else None)
        self._discard_worker()
        self._info = None
        self._open_stream = None
        detail = last_error_line(self._log)
        where = f": {detail} — see {self._log}" if detail else ""
        return EngineCrashed(
            f"the engine process crashed ({how}) while {what}{where}; "
            "load the model again to continue"
        )

    def _receive(self, what: str) -> tuple[str, Any]:
        """The worker's next message, or EngineCrashed if it died."""
        conn = self._conn
        if conn is None or self._proc is None:
            raise EngineError("no model is loaded")
        while True:
            wait([conn, self._proc.sentinel])
            try:
                if not conn.poll():
                    break
                reply: tuple[Any, ...] = conn.recv()
            except (EOFError, OSError):
                break
            if reply[0] == "log":  # the worker's log records, re-logged here
                _worker_log.log(reply[1], "%s", reply[2])
                continue
            return reply[0], reply[1]
        raise self._crashed(what)

    def _call(self, message: tuple[Any, ...], what: str) -> Any:
        """Send a request and return its final reply value."""
        if self._open_stream is not None:
            self._abandon()
        conn = self._conn
        if conn is None:
            raise EngineError("no model is loaded")
        try:
            conn.send(message)
        except (BrokenPipeError, OSError) as exc:
            raise self._crashed(what) from exc
        kind, value = self._receive(what)
        if kind == "error":
            raise EngineError(value)
        return value

    # -- Engine protocol -----------------------------------------------------------------

    def load(self, options: EngineOptions, *, vocab_only: bool = False) -> ModelInfo:
        """Load a model in the worker (starting one if needed); EngineError on a bad file."""
        path = check_model_file(options.model_path, vocab_only=vocab_only)
        with self._lock:
            self._info = None
            self._ensure_worker()
            what = f"loading {path.name} (the file may be damaged or unsupported)"
            info: ModelInfo = self._call(("load", options, vocab_only), what)
            self._info = info
            return info

    def load_vocab(self, options: EngineOptions) -> ModelInfo:
        """Load only the tokenizer (fast): enough for :meth:`preview`, not for generating."""
        return self.load(options, vocab_only=True)

    def generate(self, request: ChatRequest) -> Iterator[str]:
        """Stream the reply; ``last_stats`` is final once the iterator is exhausted."""
        with self._lock:
            if self._info is None or self._conn is None:
                raise EngineError("no model is loaded")
            if self._open_stream is not None:  # an earlier reply left unread: end it first
                self._abandon()
            self._stream_seq += 1
            stream = self._open_stream = self._stream_seq
            self._cancel.value = 0
            self._stats = GenerationStats()
            start = time.perf_counter()
            first: float | None = None
            done = False
            try:
                self._call_start(("generate", request))
                while True:
                    kind, value = self._receive("generating a reply")
                    if kind == "piece":
                        if first is None:
                            first = time.perf_counter() - start
                        yield value
                        if self._open_stream != stream:
                            done = True  # a newer request ended this reply and took the pipe
                            return
                        continue
                    done = True
                    self._open_stream = None
                    if kind == "error":
                        self._stats = GenerationStats(finish_reason="error", error=value)
                        raise EngineError(value)
                    self._stats = value
                    if first is not None:
                        self._stats.ttft_s = first  # as the caller saw it, pipe included
                    return
            except EngineCrashed as exc:
                done = True
                self._open_stream = None
                self._stats.finish_reason = "error"
                self._stats.error = str(exc)
                raise
            finally:
                if not done and self._open_stream == stream:
                    self._abandon()

    def _call_start(self, message: tuple[Any, ...]) -> None:
        assert self._conn is not None
        try:
            self._conn.send(message)
        except (BrokenPipeError, OSError) as exc:
            raise self._crashed("generating a reply") from exc

    def _abandon(self) -> None:
        """The caller stopped reading mid-reply: cancel and drain to keep the pipe in sync."""
        self._cancel.value = 1
        self._open_stream = None
        try:
            while True:
                kind, value = self._receive("cancelling a reply")
                if kind != "piece":
                    if kind == "ok":
                        self._stats = value
                    return
        except EngineError:
            return

    def preview(self, request: ChatRequest) -> PromptPreview:
        """The exact ids ``generate`` would evaluate, and the prompt with specials visible."""
        with self._lock:
            if self._info is None:
                raise EngineError("no model is loaded")
            result: PromptPreview = self._call(("preview", request), "building a prompt")
            return result

    @classmethod
    def preview_only(cls, options: EngineOptions, request: ChatRequest) -> PromptPreview:
        """Preview a request with a vocabulary-only load in a short-lived worker."""
        engine = cls()
        try:
            engine.load_vocab(options)
            return engine.preview(request)
        finally:
            engine.close()

    def counters(self) -> dict[str, float]:
        """llama.cpp's perf counters for the latest reply (``n_p_eval``, ``n_eval``…)."""
        with self._lock:
            result: dict[str, float] = self._call(("counters",), "reading counters")
            return result

    def cancel(self) -> None:
        """Stop the current reply or prompt evaluation; safe from any thread."""
        self._cancel.value = 1

    @property
    def last_stats(self) -> GenerationStats:
        """Figures of the latest reply."""
        return self._stats

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, if any."""
        return self._info

    @property
    def worker_pid(self) -> int | None:
        """The worker's process id (tests kill it to simulate an OOM kill)."""
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        """Stop the worker, freeing the model."""
        with self._lock:
            if self._conn is not None and self._proc is not None and self._proc.is_alive():
                try:
                    self._conn.send(("close",))
                    # The worker finishes writing a just-saved KV state before it exits.
                    self._proc.join(timeout=60)
                except (BrokenPipeError, OSError):
                    pass
            self._discard_worker()
            self._info = None
