"""The remote engine: the same chat on an OpenAI-compatible server (``--engine URL``).

``load`` probes the server once (:mod:`.probe`), sets up exact prompts from the server's own
tokenizer or the local GGUF's vocabulary (:mod:`.prompts`) and describes the server's model
(its :class:`ModelInfo` has ``remote`` set: front ends ask that, never the URL). ``generate``
streams ``/v1/completions`` (:mod:`.stream`); ``cancel`` closes the stream from any thread,
keeping what arrived. Nothing contacts a server before ``load``. Notes (neutralised
control-token strings, plain HTTP to another machine, a key held back, a reply cut off) go to
the injected ``notify`` (stderr by default), never with the API key in them.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from typing import Any

from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo, PromptPreview
from starling_tui.engine.remote.context_size import ask_context, refused_context
from starling_tui.engine.remote.credentials import KeySource, find_api_key, key_to_send
from starling_tui.engine.remote.endpoint import parse_endpoint
from starling_tui.engine.remote.probe import ServerProfile, probe_server
from starling_tui.engine.remote.prompts import RemotePrompts, VocabEngine
from starling_tui.engine.remote.request_body import completion_request
from starling_tui.engine.remote.stream import PieceGuard, ReplyReader
from starling_tui.engine.remote.transport import EventStream, RemoteError, Transport
from starling_tui.engine.replies import ReplyNumbers
from starling_tui.errors import EngineError
from starling_tui.prompt.formats import strips_reply_space
from starling_tui.types import ChatRequest

_warned_insecure: set[str] = set()  # plain-HTTP warnings already shown in this process


def _stderr_note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _process_vocab() -> VocabEngine:
    from starling_tui.engine.parent.process import ProcessEngine

    return ProcessEngine()


class RemoteEngine:
    """Implements :class:`~starling_tui.engine.base.Engine` against a server at ``url``."""

    def __init__(self, url: str, *, keys: KeySource | None = None,
                 notify: Callable[[str], None] = _stderr_note,
                 vocab_factory: Callable[[], VocabEngine] = _process_vocab,
                 connect_timeout_s: float = 10.0, stall_timeout_s: float = 120.0,
                 environ: dict[str, str] | None = None) -> None:
        self.url = url
        self._keys = keys or KeySource()
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
        self._numbers = ReplyNumbers()
        self._active: EventStream | None = None

    # -- loading ---------------------------------------------------------------------------

    def load(self, options: EngineOptions) -> ModelInfo:
        """Probe the server and set up its prompts (``options.model_path`` may be empty:
        then the server's tokenizer builds them); EngineError with one line."""
        self.close()
        endpoint = parse_endpoint(self.url)
        key, held_back = key_to_send(endpoint, find_api_key(self._keys, self._environ),
                                     self._keys)
        if endpoint.insecure and endpoint.address not in _warned_insecure:
            _warned_insecure.add(endpoint.address)
            what = "prompts travel" if key is None else "prompts and the API key travel"
            self._notify(f"warning: {endpoint.url} is plain HTTP to another machine: {what} "
                         "unencrypted (use https://)")
            if held_back:
                self._notify(held_back)
        transport = Transport(endpoint, key, connect_timeout_s=self._timeouts[0],
                              stall_timeout_s=self._timeouts[1], key_held_back=bool(held_back))
        profile = probe_server(transport)
        prompts = RemotePrompts(options, profile, transport, self._vocab_factory)
        try:
            prompts.check_vocabulary()
        except BaseException:
            prompts.close()
            raise
        self._transport, self._prompts, self.profile = transport, prompts, profile
        self._info = self._describe()
        return self._info

    def _describe(self) -> ModelInfo:
        assert self._prompts is not None and self.profile is not None
        prompts, profile, ep = self._prompts, self.profile, self._prompts.transport.endpoint
        said = "" if profile.n_ctx else f", context {prompts.n_ctx} assumed (set --ctx)"
        built = " built with the server's tokenizer" if prompts.uses_server_tokenizer else ""
        return ModelInfo(
            path=ep.url, name=profile.model, quant=profile.quant,
            n_ctx_train=profile.n_ctx_train or prompts.n_ctx_train, n_ctx=prompts.n_ctx,
            n_layers=prompts.n_layers, n_gpu_layers=0, backend=f"{profile.kind} at {ep.address}",
            template=prompts.template,
            gpu_note=f"remote server, prompt sent as {profile.prompt_form}{built}{said}",
            remote=True,
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
        return self._stream(request, self._numbers.next())

    def _stream(self, request: ChatRequest, generation: int) -> Iterator[str]:
        prompts = self._loaded()
        for attempt in (1, 2):
            retry = yield from self._attempt(prompts, request, generation, last=attempt == 2)
            if not retry:
                return

    def _attempt(self, prompts: RemotePrompts, request: ChatRequest, generation: int,
                 last: bool) -> Generator[str, None, bool]:
        """One try at a reply; True when the server's real context size was just learnt and
        nothing was shown yet, so the prompt is refitted and sent again."""
        assert self._transport is not None and self._info is not None
        self._stats = stats = GenerationStats()
        self.server_figures = {}
        with self._lock:
            if self._active is not None:  # an earlier reply still unread: it ends as cancelled
                self._active.abort()
        start = time.perf_counter()
        prepared = prompts.build(request)
        sent = completion_request(prompts.profile, self._transport.endpoint, prepared.prompt,
                                  len(prepared.preview.token_ids), request.sampling,
                                  prompts.n_ctx, self._info.template)
        try:
            stream = self._transport.stream(sent.path, sent.body)
        except RemoteError as exc:
            if not last and self._learn_context(refused_context(exc)):
                return True
            raise
        stats.prompt_tokens = stats.evaluated_tokens = len(prepared.preview.token_ids)
        stats.dropped_messages = prepared.preview.dropped_messages
        for note in prepared.notes:
            self._notify(note)
        with self._lock:
            if self._numbers.cancelled(generation):
                stream.close()
                stats.finish_reason = "cancelled"
                return False
            self._active = stream
        guard = PieceGuard() if request.sampling.loop_guard else None
        reader = ReplyReader(stream, stats, start, lambda: self._superseded(generation),
                             self._timeouts[1], sent.decode,
                             strip_space=strips_reply_space(prepared.fmt), guard=guard)
        try:
            yield from reader.pieces()
        except RemoteError:
            unsized = prompts.profile.n_ctx is None and stats.completion_tokens == 0
            if not last and unsized and sent.openai and self._learn_context(
                    ask_context(self._transport, sent.body)):
                return True
            raise
        finally:
            with self._lock:
                if self._active is stream:
                    self._active = None
            stream.close()
            if self._stats is stats:  # not when a newer reply has replaced this one
                self.server_figures = reader.figures
        if stats.finish_reason == "incomplete" and stats.error:
            self._notify(f"warning: {stats.error}; the partial reply is kept (incomplete)")
        return False

    def _learn_context(self, n_ctx: int | None) -> bool:
        """Refit prompts to the server's real context size; False when there is nothing new."""
        if self._prompts is None or self._info is None or not n_ctx:
            return False
        if n_ctx == self._prompts.n_ctx:
            return False
        self._prompts.resize(n_ctx)
        self._prompts.profile.n_ctx = n_ctx
        note = f"remote server, prompt sent as {self._prompts.profile.prompt_form}"
        self._info = replace(self._info, n_ctx=n_ctx, gpu_note=note)
        return True

    def cancel(self) -> None:
        """Stop the current reply (or one requested and not started); safe from any thread."""
        with self._lock:  # with the check before a stream becomes active: one or the other wins
            self._numbers.cancel()
            if self._active is not None:
                self._active.abort()

    def _superseded(self, generation: int) -> bool:
        """Whether reply ``generation`` was cancelled or a newer reply replaced it (then even
        pieces already buffered from its stream are not read)."""
        return self._numbers.superseded(generation)

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
