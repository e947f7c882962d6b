"""A scripted engine for tests, demos and UI benchmarks (no model, no llama.cpp).

Replies come from a script (a list of strings used in turn) or, when the script runs out,
echo the last user message. Each reply streams word by word with an optional delay, honours
``cancel()`` between pieces, and fills ``last_stats`` like the real engine. ``fail_on`` makes a
reply raise :class:`EngineCrashed` to exercise error handling.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo, PromptPreview
from starling_tui.engine.replies import ReplyNumbers
from starling_tui.errors import EngineCrashed
from starling_tui.prompt.attachments import turn_text
from starling_tui.types import ChatRequest


class FakeEngine:
    """Implements the :class:`~starling_tui.engine.base.Engine` protocol from a script."""

    def __init__(
        self,
        replies: Sequence[str] = (),
        *,
        delay_s: float = 0.0,
        n_ctx: int = 4096,
        fail_on: str | None = None,
    ) -> None:
        self._replies = list(replies)
        self._delay_s = delay_s
        self._n_ctx = n_ctx
        self._fail_on = fail_on
        self._numbers = ReplyNumbers()
        self._stats = GenerationStats()
        self._info: ModelInfo | None = None
        self.requests: list[ChatRequest] = []  # what was asked, for assertions

    def load(self, options: EngineOptions) -> ModelInfo:
        """Pretend to load ``options.model_path``."""
        name = options.model_path.rsplit("/", 1)[-1].removesuffix(".gguf")
        self._info = ModelInfo(
            path=options.model_path,
            name=name,
            quant="Q4_K_M",
            n_ctx_train=self._n_ctx,
            n_ctx=options.n_ctx or self._n_ctx,
            n_layers=32,
            n_gpu_layers=0,
            backend="CPU",
            template="openchat",
            gpu_note="fake engine",
        )
        return self._info

    def _reply_for(self, request: ChatRequest) -> str:
        if self._replies:
            return self._replies.pop(0)
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        return f"You said: {last_user}"

    def _pieces(self, text: str) -> list[str]:
        words = text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    def generate(self, request: ChatRequest) -> Iterator[str]:
        """Stream the scripted reply piece by piece (numbered now, as the real engines do)."""
        return self._stream(request, self._numbers.next())

    def _stream(self, request: ChatRequest, number: int) -> Iterator[str]:
        self.requests.append(request)
        prompt = self.preview(request).token_ids
        stats = self._stats = GenerationStats(prompt_tokens=len(prompt),
                                              evaluated_tokens=len(prompt))
        reply = self._reply_for(request)
        if self._fail_on is not None and self._fail_on in reply:
            stats.finish_reason = "error"
            raise EngineCrashed("the engine process died (scripted failure)")
        start = time.perf_counter()
        limit = request.sampling.max_tokens
        for n, piece in enumerate(self._pieces(reply)):
            if self._numbers.superseded(number):
                stats.finish_reason = "cancelled"
                return
            if limit is not None and n >= limit:
                stats.finish_reason = "length"
                return
            if self._delay_s:
                time.sleep(self._delay_s)
            if n == 0:
                stats.ttft_s = time.perf_counter() - start
            stats.completion_tokens = n + 1
            stats.tokens_per_s = stats.completion_tokens / max(time.perf_counter() - start, 1e-9)
            yield piece
        stats.finish_reason = "stop"

    def preview(self, request: ChatRequest) -> PromptPreview:
        """A stand-in prompt: one id per whitespace-separated word, OpenChat-looking text."""
        parts = ["<s>"]
        for m in request.messages:
            parts.append(f"GPT4 Correct {m.role.title()}: {turn_text(m)}<|end_of_turn|>")
        parts.append("GPT4 Correct Assistant:")
        rendered = "".join(parts)
        return PromptPreview(tuple(range(1, len(rendered.split()) + 2)), rendered)

    def cancel(self) -> None:
        """Stop the current reply (or one requested but not read yet) before its next piece."""
        self._numbers.cancel()

    @property
    def last_stats(self) -> GenerationStats:
        """Figures of the latest reply."""
        return self._stats

    @property
    def info(self) -> ModelInfo | None:
        """The pretend model, once loaded."""
        return self._info

    def close(self) -> None:
        """Nothing to free."""
        self._info = None
