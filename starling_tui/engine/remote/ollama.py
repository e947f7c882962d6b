"""Ollama: its native ``/api/generate`` with ``raw`` on, the one way it takes a prompt as is.

Ollama's OpenAI-compatible ``/v1/completions`` wraps every prompt in the model's chat template
(ollama/ollama issues 5544 and 12636), which would template our already rendered prompt twice;
``/api/generate`` with ``"raw": true`` does not. Its stream is one JSON object per line
(``{"response": "…", "done": false}``, the last with ``done_reason`` and ``eval_count``), turned
here into the same chunks as an OpenAI event stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from starling_tui.engine.remote.stream import Chunk
from starling_tui.engine.remote.transport import RemoteError
from starling_tui.types import SamplingOptions


def ollama_body(model: str, prompt: str, max_tokens: int, sampling: SamplingOptions,
                stop: list[str]) -> dict[str, Any]:
    """The ``/api/generate`` body: raw prompt, streamed, every sampling value explicit."""
    options: dict[str, Any] = {
        "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": sampling.top_k,
        "min_p": sampling.min_p, "repeat_penalty": sampling.repeat_penalty,
        "seed": sampling.seed, "num_predict": max_tokens,
    }
    if stop:
        options["stop"] = stop
    return {"model": model, "prompt": prompt, "raw": True, "stream": True, "options": options}


def ollama_chunks(lines: Iterable[str]) -> Iterator[Chunk | None]:
    """Chunks of an ``/api/generate`` stream; None after the ``done`` object."""
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            raise RemoteError(f"the server sent a malformed line ({line[:40]!r})") from None
        if not isinstance(data, dict):
            raise RemoteError("the server sent a malformed line (not a JSON object)")
        if "error" in data:
            raise RemoteError(f"the server failed mid-reply: {str(data['error'])[:200]}")
        text = data.get("response") or ""
        if not isinstance(text, str):
            raise RemoteError("the server sent a malformed line (response is not a string)")
        if not data.get("done"):
            yield Chunk(text)
            continue
        yield Chunk(text, str(data.get("done_reason") or "stop"), _figures(data))
        yield None
        return


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    """Ollama's counters as the ``timings`` the reply reader knows (durations in ns)."""
    timings: dict[str, Any] = {}
    if isinstance(data.get("eval_count"), int):
        timings["predicted_n"] = data["eval_count"]
        if isinstance(data.get("eval_duration"), int) and data["eval_duration"] > 0:
            timings["predicted_ms"] = data["eval_duration"] / 1e6
            timings["predicted_per_second"] = data["eval_count"] / (data["eval_duration"] / 1e9)
    if isinstance(data.get("prompt_eval_count"), int):
        timings["prompt_n"] = data["prompt_eval_count"]
    return {"timings": timings} if timings else {}
