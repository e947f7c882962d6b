"""The JSON body of a streamed ``/v1/completions`` request, per server kind.

Every sampling value is sent explicitly: servers have their own defaults (llama-cpp-python's
server samples with ``top_k=40, min_p=0.05`` and stops after 16 tokens unless told), and the
reply must follow the same settings as the local engine's. ``max_tokens`` is the room left in
the server's context, or less when the user set a limit. Ollama gets its native request
(:mod:`.ollama`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starling_tui.engine.remote.endpoint import Endpoint
from starling_tui.engine.remote.ollama import ollama_body, ollama_chunks
from starling_tui.engine.remote.probe import ServerProfile
from starling_tui.engine.remote.stream import ChunkDecoder, sse_chunks
from starling_tui.types import SamplingOptions

OPENCHAT_EOT = "<|end_of_turn|>"


def completion_body(profile: ServerProfile, prompt: list[int] | str, n_prompt: int,
                    sampling: SamplingOptions, n_ctx: int, template: str) -> dict[str, Any]:
    """The request body for ``prompt`` (``n_prompt`` tokens) with these sampling options."""
    room = max(n_ctx - n_prompt, 1)
    max_tokens = min(sampling.max_tokens, room) if sampling.max_tokens else room
    body: dict[str, Any] = {
        "model": profile.model,
        "prompt": prompt,
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "min_p": sampling.min_p,
        "seed": sampling.seed,
    }
    if profile.kind == "vllm":
        body["top_k"] = sampling.top_k if sampling.top_k > 0 else -1
        body["repetition_penalty"] = sampling.repeat_penalty
    else:
        body["top_k"] = sampling.top_k
        body["repeat_penalty"] = sampling.repeat_penalty
    if profile.kind in ("llama-server", "vllm"):
        body["stream_options"] = {"include_usage": True}
    if template == "openchat":
        # Ends the reply even where the server's model does not mark the token as end-of-turn.
        body["stop"] = [OPENCHAT_EOT]
    return body


@dataclass(frozen=True)
class CompletionRequest:
    """Where to send a reply request, its body, and how to read the streamed answer."""

    path: str
    body: dict[str, Any]
    decode: ChunkDecoder
    openai: bool = True  # an OpenAI ``/v1/completions`` request (not Ollama's native one)


def completion_request(profile: ServerProfile, endpoint: Endpoint, prompt: list[int] | str,
                       n_prompt: int, sampling: SamplingOptions, n_ctx: int,
                       template: str) -> CompletionRequest:
    """The request for this server kind (Ollama: ``/api/generate`` raw, see :mod:`.ollama`)."""
    body = completion_body(profile, prompt, n_prompt, sampling, n_ctx, template)
    if profile.kind == "ollama":
        native = ollama_body(profile.model, str(prompt), body["max_tokens"], sampling,
                             body.get("stop", []))
        return CompletionRequest(endpoint.path("/api/generate", api=False), native,
                                 ollama_chunks, openai=False)
    return CompletionRequest(endpoint.path("/completions"), body, sse_chunks)
