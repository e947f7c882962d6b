"""The decode loop: sample a token, emit its text, decode it, until a stop condition.

Kept as lean as a bare llama.cpp loop (the engine benchmark compares the two). Cancellation is
checked before every token; the loop guard (:mod:`.loop_guard`) sees every token; the thread
counts follow the free CPU (:mod:`.threads`), looked at every 32 tokens. A reply that fills
the window goes on after a context shift (:mod:`.reply_room`) when the policy allows one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starling_tui.engine.base import GenerationStats
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.engine.worker.kv_sequence import KvSequence
from starling_tui.engine.worker.loop_guard import LoopGuard
from starling_tui.engine.worker.sampling import PieceDecoder, build_sampler
from starling_tui.engine.worker.threads import governor_for
from starling_tui.llama.backend import llama
from starling_tui.types import ChatRequest, FinishReason


@dataclass
class ReplyLoop:
    """One reply's settings: where it decodes and how its text starts."""

    kv: KvSequence
    model: Any  # llama_cpp._internals.LlamaModel
    strip_space: bool  # OpenChat: the reply's leading space belongs to the template
    faults: FaultPlan = NO_FAULTS  # a test's staged crash or token delay
    # Called when the window is full; True when it shifted out old turns (:mod:`.reply_room`)
    make_room: Callable[[], bool] | None = None

    def run(
        self,
        request: ChatRequest,
        emit: Callable[[str], None],
        cancelled: Callable[[], bool],
        stats: GenerationStats,
        start: float,
    ) -> FinishReason:
        """Generate into ``emit``; fill ``stats``; return the finish reason."""
        lc = llama()
        vocab = self.model.vocab
        sampler = build_sampler(request.sampling, self.model.n_vocab())
        decoder = PieceDecoder(vocab)
        guard = LoopGuard() if request.sampling.loop_guard else None
        threads = governor_for(self.kv.ctx)
        if threads is not None:
            threads.update(self.kv.ctx)
        limit = request.sampling.max_tokens
        first_at = 0.0
        at_start = self.strip_space
        reason: FinishReason = "stop"
        n = 0
        while True:
            if cancelled():
                reason = "cancelled"
                break
            token = sampler.sample(self.kv.ctx, -1)
            if lc.llama_vocab_is_eog(vocab, token):
                break
            n += 1
            if n == 1:
                first_at = time.perf_counter()
                stats.ttft_s = first_at - start
            text = decoder.text(token)
            if at_start and text:
                text = text[1:] if text.startswith(" ") else text
                at_start = not text
            if text:
                emit(text)
            if guard is not None and guard.add(token, text):
                reason = "repetition"
                break
            if threads is not None and not n & 31:
                threads.update_if_due(self.kv.ctx)
            if n == 1:
                self.faults.crash_point("token")
            if self.faults.token_delay:
                time.sleep(self.faults.token_delay)
            if limit is not None and n >= limit:
                reason = "length"
                break
            if len(self.kv.tokens) + 1 >= self.kv.n_ctx and not self._room():
                reason, stats.window_full = "length", True
                break
            self.kv.append(token)
        tail = decoder.flush()
        if tail:
            emit(tail)
        stats.completion_tokens = n
        if threads is not None:  # for the next prompt, whose threads are set before it starts
            threads.update(self.kv.ctx)
        if n > 1:
            stats.tokens_per_s = (n - 1) / max(time.perf_counter() - first_at, 1e-9)
        sampler.close()
        return reason

    def _room(self) -> bool:
        """Room for the next token in a full window: only by a context shift, if allowed."""
        return self.make_room is not None and self.make_room()
