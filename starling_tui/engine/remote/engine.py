"""The remote engine: the same chat on an OpenAI-compatible server (``--engine URL``).

``load`` probes the server once (:mod:`.probe`), loads the local model's vocabulary to build
exact prompts (:mod:`.prompts`) and describes the server's model. ``generate`` streams
``/v1/completions`` (:mod:`.stream`); ``cancel`` closes the stream from any thread, keeping what
arrived. Nothing contacts a server before ``load``. Notes (neutralised control-token strings,
plain HTTP to another machine, a reply cut off) go to the injected ``notify`` (stderr by
default), never with the API key in them.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from starling_tui.engine.base import (
    ChatRequest,
    EngineError,
    EngineOptions,
    GenerationStats,
    ModelInfo,
    PromptPreview,
)
from starling_tui.engine.remote.credentials import find_api_key
from starling_tui.engine.remote.endpoint import parse_endpoint
from starling_tui.engine.remote.probe import ServerProfile, probe_server
from starling_tui.engine.remote.prompts import Prepared, RemotePrompts, VocabEngine
from starling_tui.engine.remote.request_body import completion_body
from starling_tui.engine.remote.stream import ReplyReader
from starling_tui.engine.remote.transport import EventStream, RemoteError, Transport

_CONTEXT_REFUSAL = re.compile(r"context window of (\d+)")
_warned_insecure: set[str] = set()  # plain-HTTP warnings already shown in this process


def _stderr_note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _process_vocab() -> VocabEngine:
    from starling_tui.engine.parent.process import ProcessEngine

    return ProcessEngine()


class RemoteEngine:
    """Implements :class:`~starling_tui.engine.base.Engine` against a server at ``url``."""

    def __init__(self, url: str, *, api_key_file: str | None = None,
                 notify: Callable[[str], None] = _stderr_note,
                 vocab_factory: Callable[[], VocabEngine] = _process_vocab,
                 connect_timeout_s: float = 10.0, stall_timeout_s: float = 120.0,
                 environ: dict[str, str] | None = None) -> None:
        self.url = url
        self._key_file = api_key_file
        self._notify = notify
        self._vocab_factory = vocab_factory
        self._timeouts = (connect_timeout_s, stall_timeout_s)
        self._environ = environ
        self._transport: Transport | None = None
        self._prompts: RemotePrompts | None = None
        self.profile: ServerProfile | None = None
        self.server_figures: dict[str, Any] = {}  # the server's own timings of the last reply
        self._info: ModelInfo | None = None
        self._stats = GenerationStats()
        self._lock = threading.Lock()
        self._generation = 0
        self._cancelled_upto = 0
        self._active: EventStream | None = None

    # -- loading ---------------------------------------------------------------------------

    def load(self, options: EngineOptions) -> ModelInfo:
        """Probe the server and load the local vocabulary; EngineError with one line."""
        self.close()
        endpoint = parse_endpoint(self.url)
        key = find_api_key(self._key_file, self._environ)
        if endpoint.insecure and endpoint.address not in _warned_insecure:
            _warned_insecure.add(endpoint.address)
            self._notify(f"warning: {endpoint.url} is plain HTTP to another machine: prompts "
                         "and the API key travel unencrypted (use https://)")
        transport = Transport(endpoint, key, connect_timeout_s=self._timeouts[0],
                              stall_timeout_s=self._timeouts[1])
        profile = probe_server(transport)
        prompts = RemotePrompts(options, profile, transport, self._vocab_factory)
        try:
            prompts.check_vocabulary()
        except BaseException:
            prompts.close()
            raise
        self._transport, self._prompts, self.profile = transport, prompts, profile
        self._info = self._describe(options)
        return self._info

    def _describe(self, options: EngineOptions) -> ModelInfo:
        assert self._prompts is not None and self.profile is not None
        local, profile, ep = self._prompts.local, self.profile, self._prompts.transport.endpoint
        said = "" if profile.n_ctx else f", context {self._prompts.n_ctx} assumed (set --ctx)"
        return ModelInfo(
            path=ep.url, name=profile.model, quant=local.quant,
            n_ctx_train=profile.n_ctx_train or local.n_ctx_train, n_ctx=self._prompts.n_ctx,
            n_layers=local.n_layers, n_gpu_layers=0, backend=f"{profile.kind} at {ep.address}",
            template=local.template,
            gpu_note=f"remote server, prompt sent as {profile.prompt_form}{said}",
        )

    # -- generating ------------------------------------------------------------------------

    def _loaded(self) -> RemotePrompts:
        if self._prompts is None or self._transport is None:
            raise EngineError("no server is connected: load first")
        return self._prompts

    def preview(self, request: ChatRequest) -> PromptPreview:
        """The exact ids the server will evaluate (text servers: checked with its tokenizer)."""
        return self._loaded().build(request).preview

    def generate(self, request: ChatRequest) -> Iterator[str]:
        """Stream the reply; ``last_stats`` is final once the iterator is exhausted."""
        with self._lock:
            self._generation += 1
            generation = self._generation
        return self._stream(request, generation)

    def _stream(self, request: ChatRequest, generation: int) -> Iterator[str]:
        prompts = self._loaded()
        self._stats = stats = GenerationStats()
        self.server_figures = {}
        start = time.perf_counter()
        prepared, stream = self._open(prompts, request)
        stats.prompt_tokens = stats.evaluated_tokens = len(prepared.preview.token_ids)
        stats.dropped_messages = prepared.preview.dropped_messages
        for note in prepared.notes:
            self._notify(note)
        with self._lock:
            if self._cancelled_upto >= generation:
                stream.close()
                stats.finish_reason = "cancelled"
                return
            self._active = stream
        reader = ReplyReader(stream, stats, start, lambda: self._cancelled_upto >= generation,
                             self._timeouts[1])
        try:
            yield from reader.pieces()
        finally:
            with self._lock:
                self._active = None
            stream.close()
            self.server_figures = reader.figures
        if stats.finish_reason == "incomplete" and stats.error:
            self._notify(f"warning: {stats.error}; the partial reply is kept (incomplete)")

    def _open(self, prompts: RemotePrompts, request: ChatRequest) -> tuple[Prepared, EventStream]:
        """Send the request; a server that refuses a prompt longer than the context it was
        assumed to have (llama-cpp-python says how large its context is) gets it refitted once."""
        assert self._transport is not None and self._info is not None
        for attempt in (1, 2):
            prepared = prompts.build(request)
            body = completion_body(prompts.profile, prepared.prompt,
                                   len(prepared.preview.token_ids), request.sampling,
                                   prompts.n_ctx, self._info.template)
            try:
                return prepared, self._transport.stream(
                    self._transport.endpoint.path("/completions"), body)
            except RemoteError as exc:
                refused = _CONTEXT_REFUSAL.search(exc.detail)
                if attempt == 2 or exc.status != 400 or refused is None:
                    raise
                prompts.resize(int(refused.group(1)))
        raise AssertionError("unreachable")

    def cancel(self) -> None:
        """Stop the current reply (or one requested and not started); safe from any thread."""
        with self._lock:
            self._cancelled_upto = self._generation
            if self._active is not None:
                self._active.abort()

    @property
    def last_stats(self) -> GenerationStats:
        """Figures of the latest reply."""
        return self._stats

    @property
    def info(self) -> ModelInfo | None:
        """The server's model, once loaded."""
        return self._info

    def close(self) -> None:
        """Stop any reply and the vocabulary worker; the next ``load`` probes again."""
        self.cancel()
        if self._prompts is not None:
            self._prompts.close()
        self._prompts = self._transport = self.profile = None
        self._info = None
