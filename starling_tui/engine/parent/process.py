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

One request on the pipe at a time: a request made while an earlier reply is still unread (a
new ``generate``, ``preview``, ``load``…, from any thread) first cancels and drains that reply,
whose iterator then just ends. The lock is held only while talking to the worker, never while
a reply's iterator is paused in the caller, so such a request never waits for the caller.

Every ``generate()`` call gets an id when it is made; ``cancel()`` stops every reply requested
so far (the worker compares ids in shared memory), so a cancel that comes before the reply's
first piece is read is not lost, and one that comes before ``generate()`` does not stop it.

Test seams are handed in: ``ProcessEngine(faults=FaultPlan(...))`` stages a crash or a slow
token in the worker (:mod:`..worker.hooks`), ``session_factory`` replaces the worker's session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo, PromptPreview
from starling_tui.engine.parent.gguf_check import check_context_fits, check_model_file
from starling_tui.engine.parent.pipe import WorkerPipe
from starling_tui.engine.replies import ReplyNumbers
from starling_tui.errors import EngineCrashed, EngineError
from starling_tui.types import ChatRequest

if TYPE_CHECKING:
    from starling_tui.engine.worker.hooks import FaultPlan
    from starling_tui.engine.worker.main import SessionFactory


class ProcessEngine:
    """Implements :class:`~starling_tui.engine.base.Engine` with a llama.cpp worker process."""

    def __init__(self, *, faults: FaultPlan | None = None,
                 session_factory: SessionFactory | None = None) -> None:
        # Handed to every worker this engine starts (a test may swap ``faults`` between loads).
        self.faults = faults
        self.session_factory = session_factory
        self._pipe = WorkerPipe()
        self._lock = threading.RLock()  # one request on the pipe at a time
        self._replies = ReplyNumbers(on_cancel=self._flag_cancel)
        self._open_stream: int | None = None  # a reply whose end the pipe has not delivered
        self._stats = GenerationStats()
        self._info: ModelInfo | None = None

    # -- talking to the worker (callers hold the lock) -----------------------------------

    def _send(self, message: tuple[Any, ...], what: str) -> None:
        try:
            self._pipe.send(message, what)
        except EngineCrashed:
            self._forget_worker()
            raise

    def _receive(self, what: str) -> tuple[str, Any]:
        try:
            return self._pipe.receive(what)
        except EngineCrashed:
            self._forget_worker()
            raise

    def _forget_worker(self) -> None:
        self._info = None
        self._open_stream = None

    def _call(self, message: tuple[Any, ...], what: str) -> Any:
        """Send a request and return its final reply value."""
        self._end_open_reply()
        self._send(message, what)
        kind, value = self._receive(what)
        if kind == "error":
            raise EngineError(value)
        return value

    def _end_open_reply(self) -> None:
        """A reply is still unread: cancel it and drain its rest to keep the pipe in sync."""
        if self._open_stream is None:
            return
        self._replies.cancel_through(self._open_stream)
        self._open_stream = None
        try:
            while True:
                kind, value = self._receive("cancelling a reply")
                if kind not in ("piece", "progress"):
                    if kind == "ok":
                        self._stats = value
                    return
        except EngineError:
            return

    def _flag_cancel(self, through: int) -> None:
        """Tell the worker (it checks between tokens) that replies up to ``through`` are over."""
        flag = self._pipe.cancel_upto
        flag.value = max(flag.value, through)

    # -- Engine protocol -----------------------------------------------------------------

    def load(self, options: EngineOptions, *, vocab_only: bool = False) -> ModelInfo:
        """Load a model in the worker (starting one if needed); EngineError on a bad file."""
        path = check_model_file(options.model_path, vocab_only=vocab_only)
        if not vocab_only:
            check_context_fits(path, options)
        with self._lock:
            self._end_open_reply()
            self._info = None
            self._pipe.start(self.faults, self.session_factory)
            what = f"loading {path.name} (the file may be damaged or unsupported)"
            info: ModelInfo = self._call(("load", options, vocab_only), what)
            self._info = info
            return info

    def load_vocab(self, options: EngineOptions) -> ModelInfo:
        """Load only the tokenizer (fast): enough for :meth:`preview`, not for generating."""
        return self.load(options, vocab_only=True)

    def generate(self, request: ChatRequest) -> Iterator[str]:
        """Stream the reply; ``last_stats`` is final once the iterator is exhausted.

        The reply is numbered here, before its first piece is asked for, so a ``cancel()``
        made in between stops it.
        """
        return self._stream(request, self._replies.next())

    def _stream(self, request: ChatRequest, generation: int) -> Iterator[str]:
        what = "generating a reply"
        with self._lock:
            if self._info is None or not self._pipe.alive:
                raise EngineError("no model is loaded")
            self._end_open_reply()
            self._stats = GenerationStats()
            start = time.perf_counter()
            self._send(("generate", request, generation), what)
            self._open_stream = generation
        first: float | None = None
        try:
            while True:
                with self._lock:
                    if self._open_stream != generation:
                        return  # another request ended this reply and took the pipe
                    kind, value = self._receive(what)
                    if kind == "progress":  # the figures so far: ``last_stats`` shows them
                        self._stats = value
                        continue
                    if kind != "piece":
                        self._open_stream = None
                        self._finish(kind, value, first)
                        return
                    if first is None:
                        first = time.perf_counter() - start
                yield value  # without the lock: the caller may pause here for as long as it likes
        except EngineCrashed as exc:
            self._stats.finish_reason = "error"
            self._stats.error = str(exc)
            raise
        finally:
            if self._open_stream == generation:  # the caller stopped reading mid-reply
                with self._lock:
                    if self._open_stream == generation:
                        self._end_open_reply()

    def _finish(self, kind: str, value: Any, first: float | None) -> None:
        if kind == "error":
            self._stats = GenerationStats(finish_reason="error", error=value)
            raise EngineError(value)
        self._stats = value
        if first is not None:
            self._stats.ttft_s = first  # as the caller saw it, pipe included

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
        """Stop the current reply (or one requested but not started yet); safe from any thread."""
        self._replies.cancel()

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
        return self._pipe.pid

    def close(self) -> None:
        """Stop the worker, freeing the model."""
        self._replies.cancel()  # a reply in progress stops at its next token
        with self._lock:
            self._open_stream = None
            self._pipe.close()
            self._info = None
