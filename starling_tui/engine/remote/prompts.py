"""The exact prompt for a remote server, built by the same code as the local engine's.

The tokenizer is the local GGUF's vocabulary, loaded vocabulary-only in a worker process
(:meth:`ProcessEngine.load_vocab`, no weights): its ``preview`` is the local engine's own
prompt building and fitting, run with the server's context size. Servers that take token ids
(llama-server, vLLM) get those ids. Text-only servers get the rendered text, with special-token
strings in messages neutralised (:mod:`.text_guard`) and, where the server has a tokenize
endpoint, its tokenization of that text checked against our ids before anything is generated,
so a prompt the server would read differently (another model, a control token) is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from starling_tui.engine.base import EngineOptions, ModelInfo, PromptPreview
from starling_tui.engine.remote.probe import ServerProfile
from starling_tui.engine.remote.text_guard import neutralise_messages, note_for
from starling_tui.engine.remote.transport import Transport
from starling_tui.engine.remote.vocab_file import VocabSpecials, read_specials
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest

VOCAB_PROBE = ChatRequest(messages=(ChatMessage("system", "Be brief."),
                                    ChatMessage("user", "Hello there, how are you?")))


class VocabEngine(Protocol):
    """The part of :class:`ProcessEngine` the remote prompts use (a test may pass another)."""

    def load_vocab(self, options: EngineOptions) -> ModelInfo: ...
    def preview(self, request: ChatRequest) -> PromptPreview: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Prepared:
    """A prompt ready to send: ``prompt`` is ids or text; ``preview`` has the exact ids."""

    prompt: list[int] | str
    preview: PromptPreview
    notes: tuple[str, ...] = ()


class RemotePrompts:
    """Builds prompts for one server from the local model's vocabulary."""

    def __init__(self, options: EngineOptions, profile: ServerProfile, transport: Transport,
                 vocab_factory: Callable[[], VocabEngine]) -> None:
        if not options.model_path:
            raise EngineError("the remote engine builds its prompts with the local model's "
                              "vocabulary: name the GGUF the server runs (--model)")
        self.options = options
        self.profile = profile
        self.transport = transport
        self.specials: VocabSpecials | None = None
        if not profile.takes_ids:
            self.specials = read_specials(options.model_path)
        self._vocab = vocab_factory()
        try:
            self.local = self.resize(profile.n_ctx or options.n_ctx or 2048)
        except BaseException:
            self._vocab.close()
            raise

    def resize(self, n_ctx: int) -> ModelInfo:
        """(Re)load the vocabulary so prompts are fitted to an ``n_ctx``-token window."""
        self.n_ctx = n_ctx
        self.local = self._vocab.load_vocab(replace(self.options, n_ctx=n_ctx))
        return self.local

    def build(self, request: ChatRequest) -> Prepared:
        """The prompt for ``request`` in the form this server takes."""
        if self.profile.takes_ids:
            preview = self._vocab.preview(request)
            return Prepared(list(preview.token_ids), preview)
        assert self.specials is not None
        messages, found = neutralise_messages(request.messages, self.specials.specials)
        preview = self._vocab.preview(replace(request, messages=messages))
        text = preview.rendered
        if self.specials.add_bos and text.startswith(self.specials.bos_text):
            text = text[len(self.specials.bos_text):]  # the server adds BOS itself
        self._check_tokens(text, preview.token_ids)
        return Prepared(text, preview, (note_for(found),) if found else ())

    def check_vocabulary(self) -> None:
        """Refuse a server whose model does not share the local vocabulary (one probe)."""
        if self.profile.kind == "llama-server":
            preview = self._vocab.preview(VOCAB_PROBE)
            path = self.transport.endpoint.path("/tokenize", api=False)
            ids = self._server_ids(path, {"content": preview.rendered, "add_special": False,
                                    "parse_special": True})
            self._compare(ids, list(preview.token_ids))
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
        """Stop the vocabulary worker."""
        self._vocab.close()
