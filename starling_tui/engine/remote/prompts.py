"""The exact prompt for a remote server, built by the same code as the local engine's.

Two sources of the tokenizer, one prompt builder (:func:`starling_tui.prompt.plan.plan_prompt`):

- **The server's own tokenizer** (no local GGUF named): servers that take token ids
  (llama-server, vLLM) tokenize on request, so the prompt is rendered, fitted and tokenized in
  this process with a :class:`~.server_vocab.ServerVocab` and the ids are sent. Nothing has to
  be downloaded to chat with a model that only the server holds.
- **The local GGUF's vocabulary** (``--model``), loaded vocabulary-only in a worker process
  (:meth:`ProcessEngine.load_vocab`, no weights): its ``preview`` is the local engine's own
  prompt building. The server's tokenizer is asked to tokenize a probe prompt first, and a
  server whose model reads it differently is refused. Text-only servers (llama-cpp-python's,
  Ollama, generic ones) need this source: they get the rendered text, with special-token
  strings in messages neutralised (:mod:`.text_guard`) and, where the server can tokenize, its
  tokenization of every prompt checked against our ids before anything is generated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from starling_tui.engine.base import EngineOptions, ModelInfo, PromptPreview
from starling_tui.engine.remote.probe import ServerProfile
from starling_tui.engine.remote.probe_cache import load_facts, save_facts
from starling_tui.engine.remote.server_vocab import (
    OPENCHAT_EOT,
    LlamaServerCalls,
    ServerVocab,
    TokenizerCalls,
    VllmCalls,
    VocabFacts,
    learn_vocab,
)
from starling_tui.engine.remote.text_guard import neutralise_messages, note_for
from starling_tui.engine.remote.transport import Transport
from starling_tui.engine.remote.vocab_file import VocabSpecials, read_specials
from starling_tui.errors import EngineError
from starling_tui.prompt.builder import PromptFormat, build_parts, resolve_format
from starling_tui.prompt.chat_template import chat_template_parts
from starling_tui.prompt.parts import PromptTokenizer, render_parts
from starling_tui.prompt.plan import plan_prompt
from starling_tui.types import ChatMessage, ChatRequest

VOCAB_PROBE = ChatRequest(messages=(ChatMessage("system", "Be brief."),
                                    ChatMessage("user", "Hello there, how are you?")))
ASSUMED_CTX = 2048  # llama-cpp-python's server default, when a server does not publish its own


class VocabEngine(Protocol):
    """The part of :class:`ProcessEngine` the remote prompts use (a test may pass another)."""

    def load_vocab(self, options: EngineOptions) -> ModelInfo: ...
    def preview(self, request: ChatRequest) -> PromptPreview: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Prepared:
    """A prompt ready to send: ``prompt`` is ids or text; ``preview`` has the exact ids;
    ``fmt`` is the prompt format (it decides how the reply's first piece is written)."""

    prompt: list[int] | str
    preview: PromptPreview
    fmt: PromptFormat
    notes: tuple[str, ...] = ()


def tokenizer_calls(profile: ServerProfile, transport: Transport) -> TokenizerCalls | None:
    """The server's tokenize endpoints, for kinds that have them and take token ids."""
    if profile.kind == "llama-server":
        return LlamaServerCalls(transport)
    if profile.kind == "vllm":
        return VllmCalls(transport, profile.model)
    return None


class RemotePrompts:
    """Builds prompts for one server, from its tokenizer or the local model's vocabulary."""

    def __init__(self, options: EngineOptions, profile: ServerProfile, transport: Transport,
                 vocab_factory: Callable[[], VocabEngine]) -> None:
        self.options = options
        self.profile = profile
        self.transport = transport
        self.calls = tokenizer_calls(profile, transport)
        self.specials: VocabSpecials | None = None
        self.server: ServerVocab | None = None
        self._vocab: VocabEngine | None = None
        self.local: ModelInfo | None = None
        self._learnt_now = False  # the server's vocabulary was learnt in this load (not cached)
        self.n_ctx = profile.n_ctx or options.n_ctx or ASSUMED_CTX
        if options.model_path:
            if not profile.takes_ids:
                self.specials = read_specials(options.model_path)
            self._vocab = vocab_factory()
            try:
                self.resize(self.n_ctx)
            except BaseException:
                self._vocab.close()
                raise
        elif self.calls is not None:
            facts = self._server_facts(self.calls)
            if not profile.chat_template and OPENCHAT_EOT not in facts.specials:
                raise EngineError(
                    f"the {profile.kind} server at {transport.endpoint.address} does not publish "
                    "the model's chat template: name the GGUF it runs (--model) so the prompt "
                    "can be built here")
            self.server = ServerVocab(self.calls, facts)
        else:
            raise EngineError(
                f"the {profile.kind} server at {transport.endpoint.address} takes prompts as "
                "text only: name the GGUF it runs (--model) so the prompt can be built here")

    @property
    def uses_server_tokenizer(self) -> bool:
        """True when prompts are built with the server's tokenizer (no local GGUF)."""
        return self.server is not None

    def _server_facts(self, calls: TokenizerCalls) -> VocabFacts:
        facts = load_facts(self.profile.identity)
        if facts is None:
            template = self.profile.chat_template or ""
            rendered = _rendering(template, self.profile)
            facts = learn_vocab(calls, template_texts=(template, rendered),
                                bos_text=self.profile.bos_text, eos_text=self.profile.eos_text,
                                vocab_type=_int(self.profile.identity.get("meta"), "vocab_type"))
            save_facts(self.profile.identity, facts)
            self._learnt_now = True
        return facts

    # -- what the model is ---------------------------------------------------------------

    @property
    def template(self) -> str:
        """``openchat`` or ``chat_template``: the model's own prompt format."""
        if self.local is not None:
            return self.local.template
        fmt = resolve_format("auto", self._server_tokenizer(), self.profile.chat_template)
        return "chat_template" if fmt == "chat_template" else "openchat"

    @property
    def n_ctx_train(self) -> int:
        """The model's training context, where known."""
        return self.local.n_ctx_train if self.local is not None else 0

    @property
    def n_layers(self) -> int:
        """The model's layer count, where known (the local GGUF says)."""
        return self.local.n_layers if self.local is not None else 0

    def resize(self, n_ctx: int) -> None:
        """Fit prompts to an ``n_ctx``-token window from now on."""
        self.n_ctx = n_ctx
        if self._vocab is not None:
            self.local = self._vocab.load_vocab(replace(self.options, n_ctx=n_ctx))

    # -- building ------------------------------------------------------------------------

    def build(self, request: ChatRequest) -> Prepared:
        """The prompt for ``request`` in the form this server takes."""
        if self.server is not None:
            return self._build_with_server(request)
        assert self._vocab is not None and self.local is not None
        fmt = self._local_format(request)
        if self.profile.takes_ids:
            preview = self._vocab.preview(request)
            return Prepared(list(preview.token_ids), preview, fmt)
        assert self.specials is not None
        messages, found = neutralise_messages(request.messages, self.specials.specials)
        preview = self._vocab.preview(replace(request, messages=messages))
        text = preview.rendered
        if self.specials.add_bos and text.startswith(self.specials.bos_text):
            text = text[len(self.specials.bos_text):]  # the server adds BOS itself
        self._check_tokens(text, preview.token_ids)
        return Prepared(text, preview, fmt, (note_for(found),) if found else ())

    def _local_format(self, request: ChatRequest) -> PromptFormat:
        """The format the local vocabulary's preview used (the model's, unless OpenChat's
        modes were asked for)."""
        assert self.local is not None
        return request.mode if request.mode in ("openchat", "code") else self.local.template

    def _server_tokenizer(self) -> PromptTokenizer:
        assert self.server is not None
        return self.server.prompt_tokenizer()

    def _build_with_server(self, request: ChatRequest) -> Prepared:
        """Render, fit and tokenize here with the server's tokenizer (the local engine's code)."""
        assert self.calls is not None
        notes: tuple[str, ...] = ()
        if self.calls.parses_special_always:  # vLLM: special strings in text would be tokens
            specials = sorted(self.server.facts.specials if self.server else {}, key=len,
                              reverse=True)
            messages, found = neutralise_messages(request.messages, specials)
            request = replace(request, messages=messages)
            notes = (note_for(found, "vLLM, which parses them in any text"),) if found else ()
        tok = self._server_tokenizer()
        template = self.profile.chat_template
        try:
            fitted, fmt = plan_prompt(request, tok, template, self.n_ctx,
                                      policy=self.options.context_overflow,
                                      shift_share=self.options.context_shift_share)
            rendered = render_parts(build_parts(fitted.messages, fmt, tok, template))
        except ValueError as exc:  # PromptTooLong, a template that failed to render
            raise EngineError(str(exc)) from exc
        preview = PromptPreview(tuple(fitted.ids), rendered, fitted.dropped_messages)
        return Prepared(list(fitted.ids), preview, fmt, notes)

    # -- checking ------------------------------------------------------------------------

    def check_vocabulary(self) -> None:
        """Refuse a server whose model does not share the local vocabulary (one probe);
        with the server's own tokenizer, check once per model (when its vocabulary is
        learnt) that a probe prompt can be built."""
        if self.server is not None:
            if self._learnt_now:
                self.build(VOCAB_PROBE)
            return
        assert self._vocab is not None
        if self.calls is not None:
            preview = self._vocab.preview(VOCAB_PROBE)
            self._compare(self.calls.tokenize(preview.rendered, special=True),
                          list(preview.token_ids))
        elif self.profile.tokenize_path:
            self.build(VOCAB_PROBE)

    def _check_tokens(self, text: str, expected: tuple[int, ...]) -> None:
        path = self.profile.tokenize_path
        if path:
            self._compare(self._server_ids(path, {"input": text}), list(expected))

    def _server_ids(self, path: str, body: dict[str, Any]) -> list[int]:
        reply = self.transport.call("POST", path, body)
        tokens = reply.get("tokens") if isinstance(reply, dict) else None
        if not isinstance(tokens, list):
            raise EngineError(f"{self.transport.endpoint.address}{path} returned no tokens")
        return [t if isinstance(t, int) else int(t.get("id", -1)) for t in tokens]

    def _compare(self, server_ids: list[int], local_ids: list[int]) -> None:
        if server_ids == local_ids:
            return
        at = next((i for i, (a, b) in enumerate(zip(server_ids, local_ids, strict=False))
                   if a != b), min(len(server_ids), len(local_ids)))
        raise EngineError(
            f"the server ({self.profile.model}) tokenizes the prompt differently from "
            f"{self.options.model_path.rsplit('/', 1)[-1]} (from token {at}): is it serving "
            "the same model? Nothing was sent for generation"
        )

    def close(self) -> None:
        """Stop the vocabulary worker, if one runs."""
        if self._vocab is not None:
            self._vocab.close()


def _rendering(template: str, profile: ServerProfile) -> str:
    """The template rendered for a short conversation (its markers as text), or "" when it
    cannot render one."""
    if not template:
        return ""
    bare = PromptTokenizer(encode=lambda _text: [], bos_id=-1, eot_id=-1,
                           bos_text=profile.bos_text, eos_text=profile.eos_text, add_bos=False,
                           special_ids={})
    messages = (*VOCAB_PROBE.messages, ChatMessage("assistant", "Fine."),
                ChatMessage("user", "Good."))
    try:
        return render_parts(chat_template_parts(template, messages, bare))
    except ValueError:
        return ""


def _int(mapping: Any, key: str) -> int | None:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, int) else None
