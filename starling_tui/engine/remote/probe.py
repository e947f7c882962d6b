"""What kind of server answers at the engine URL, asked once per load and remembered.

``GET /v1/models`` names the model (and proves the key works). Then the server's own
endpoints tell the kinds apart: llama-server's ``/props`` (context size; takes token ids),
vLLM's ``/tokenize`` with ``max_model_len`` (takes token ids), llama-cpp-python's
``/extras/tokenize`` (text only; tokenizes with special tokens parsed), Ollama's
``/api/version`` (text only, sent to its native ``/api/generate``: see :mod:`.ollama`).
Anything else is a generic OpenAI-compatible server that is sent text. A 404 just means "not
this kind"; other failures are reported as they are. llama-server's ``/props`` also gives its
chat template and BOS/EOS strings, which let the prompt be built with the server's own tokenizer
when no local GGUF is named (:mod:`.server_vocab`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from starling_tui.engine.remote.transport import RemoteError, Transport
from starling_tui.errors import EngineError

ServerKind = Literal["llama-server", "vllm", "llama-cpp-python", "ollama", "openai"]


@dataclass
class ServerProfile:
    """What one server supports (``n_ctx`` may be learnt later from a refusal)."""

    kind: ServerKind
    model: str
    n_ctx: int | None  # None: the server does not say
    n_ctx_train: int | None = None
    takes_ids: bool = False
    tokenize_path: str | None = None  # text servers: where to check a prompt's tokens
    quant: str = "remote"  # the server's quantization when it says (llama-server)
    chat_template: str | None = None  # the model's template, where the server publishes it
    bos_text: str = ""  # the BOS/EOS token strings, where the server publishes them
    eos_text: str = ""
    identity: dict[str, Any] = field(default_factory=dict)  # what names this model on this server

    @property
    def prompt_form(self) -> str:
        """How prompts are sent, for the status line."""
        return "token ids" if self.takes_ids else "text"


def probe_server(transport: Transport) -> ServerProfile:
    """Ask the server what it is; EngineError (one line) when it cannot be used."""
    ep = transport.endpoint
    models = transport.call("GET", ep.path("/models"))
    entries = models.get("data") if isinstance(models, dict) else None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise EngineError(f"{ep.address} lists no model at {ep.path('/models')}")
    first = entries[0]
    model = str(first.get("id") or "model")
    meta = first.get("meta")
    n_ctx_train = _int(meta.get("n_ctx_train")) if isinstance(meta, dict) else None
    props = _optional(transport, "GET", ep.path("/props", api=False))
    if isinstance(props, dict) and isinstance(props.get("default_generation_settings"), dict):
        n_ctx = _int(props["default_generation_settings"].get("n_ctx")) or _int(props.get("n_ctx"))
        quant = props.get("model_ftype")
        identity = {"url": ep.url, "model": model, "meta": meta if isinstance(meta, dict) else {},
                    **{k: props.get(k) for k in ("model_path", "build_info", "chat_template",
                                                  "bos_token", "eos_token")}}
        return ServerProfile("llama-server", model, n_ctx, n_ctx_train, takes_ids=True,
                             quant=quant if isinstance(quant, str) and quant else "remote",
                             chat_template=_text(props.get("chat_template")) or None,
                             bos_text=_text(props.get("bos_token")),
                             eos_text=_text(props.get("eos_token")), identity=identity)
    vllm = _optional(transport, "POST", ep.path("/tokenize", api=False),
                     {"model": model, "prompt": "a"})
    if isinstance(vllm, dict) and "max_model_len" in vllm:
        n_ctx = _int(vllm.get("max_model_len")) or _int(first.get("max_model_len"))
        identity = {"url": ep.url, "model": model, "root": first.get("root"), "n_ctx": n_ctx}
        return ServerProfile("vllm", model, n_ctx, n_ctx_train, takes_ids=True,
                             identity=identity)
    extras = ep.path("/extras/tokenize", api=False)
    if isinstance(_optional(transport, "POST", extras, {"input": "a"}), dict):
        return ServerProfile("llama-cpp-python", model, None, n_ctx_train, tokenize_path=extras)
    version = _optional(transport, "GET", ep.path("/api/version", api=False))
    if isinstance(version, dict) and "version" in version:
        return ServerProfile("ollama", model, _ollama_ctx(transport, model), n_ctx_train)
    return ServerProfile("openai", model, None, n_ctx_train)


def _optional(transport: Transport, method: str, path: str, body: Any = None) -> Any:
    """A server-specific endpoint: its JSON, or None when this server does not have it."""
    try:
        return transport.call(method, path, body)
    except RemoteError as exc:
        if exc.status in (400, 404, 405, 422, 501) or (exc.status == 0 and "JSON" in str(exc)):
            return None
        raise


def _ollama_ctx(transport: Transport, model: str) -> int | None:
    """Ollama's ``num_ctx`` for ``model`` (its parameters text), if it sets one."""
    show = _optional(transport, "POST", transport.endpoint.path("/api/show", api=False),
                     {"model": model})
    if not isinstance(show, dict):
        return None
    for line in str(show.get("parameters", "")).splitlines():
        name, _, value = line.partition(" ")
        if name == "num_ctx":
            return _int(value.strip())
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
