"""The decode loop: sample a token, emit its text, decode it, until a stop condition.

Kept as lean as a bare llama.cpp loop (the engine benchmark compares the two). Cancellation is
checked before every token; the loop guard (:mod:`.loop_guard`) sees every token; the thread
counts follow the free CPU (:mod:`.threads`), looked at every 32 tokens. A reply that fills
the window goes on after a context shift (:mod:`.reply_room`) when the policy allows one.

With speculation (:mod:`.speculation`) a step may decode drafted tokens along with the last
decided one: the accepted ones come back already in the cache and pass through the same checks,
one by one, as sampled tokens do; where the reply stops among them, the cache is cut back to
exactly what plain decoding would hold (the reply's tokens but the last).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starling_tui.engine.base import GenerationStats
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.engine.worker.kv_sequence import KvSequence
from starling_tui.engine.worker.loop_guard import LoopGuard
from starling_tui.engine.worker.sampling import PieceDecoder, build_sampler
from starling_tui.engine.worker.speculation import Speculation
from starling_tui.engine.worker.threads import governor_for
from starling_tui.llama.backend import llama
from starling_tui.prompt.reply_text import ReplyStart
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
    # Drafts from the conversation, verified in one batch (:mod:`.speculation`); None: plain
    speculation: Speculation | None = None

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
        kv = self.kv
        vocab = self.model.vocab
        sampler = build_sampler(request.sampling, self.model.n_vocab())
        decoder = PieceDecoder(vocab)
        guard = LoopGuard() if request.sampling.loop_guard else None
        threads = governor_for(kv.ctx)
        if threads is not None:
            threads.update(kv.ctx)
        spec = self.speculation
        limit = request.sampling.max_tokens
        first_at = 0.0
        reply_start = ReplyStart(self.strip_space)
        reason: FinishReason = "stop"
        n = 0
        ahead: deque[int] = deque()  # accepted drafts: decided and in the cache, not handled yet
        following: int | None = None  # the token sampled after them, not in the cache
        cached = False  # the token in hand is in the cache already (an accepted draft)
        while True:
            if cancelled():
                reason, cached = "cancelled", False
                break
            if ahead:
                token, cached = ahead.popleft(), True
            else:
                token = sampler.sample(kv.ctx, -1) if following is None else following
                following, cached = None, False
            if lc.llama_vocab_is_eog(vocab, token):
                break
            n += 1
            stats.completion_tokens = n  # live: the parent reports it while the reply goes
            if n == 1:
                first_at = time.perf_counter()
                stats.ttft_s = first_at - start
            text = reply_start.text(decoder.text(token))
            if text:
                emit(text)
            if guard is not None and guard.add(token, text):
                reason = "repetition"
                break
            if threads is not None and not n & 31:
                threads.update_if_due(kv.ctx)
            if n == 1:
                self.faults.crash_point("token")
            if self.faults.token_delay:
                time.sleep(self.faults.token_delay)
            if limit is not None and n >= limit:
                reason = "length"
                break
            if spec is not None:
                spec.decided(token)
            if cached:
                continue
            if len(kv.tokens) + 1 >= kv.n_ctx and not self._room():
                reason, stats.window_full = "length", True
                break
            if spec is None:
                kv.append(token)
                continue
            # Drafts end before the limit's token (it is never decoded), the window's last
            # cell, the batch and the Self-Extend block.
            most = kv.batch_room() - 1
            if limit is not None:
                most = min(most, limit - n - 1)
            step = spec.step(kv, sampler, token, most)
            stats.drafted_tokens += step.drafted
            stats.accepted_tokens += len(step.accepted)
            ahead.extend(step.accepted)
            following = step.next_token
        if ahead or cached:  # decoded ahead of where the reply stopped: as if never drafted
            kv.trim_to(len(kv.tokens) - len(ahead) - cached)
        tail = decoder.flush()
        if tail:
            emit(tail)
        stats.completion_tokens = n
        if threads is not None:  # for the next prompt, whose threads are set before it starts
            threads.update(kv.ctx)
        if n > 1:
            stats.tokens_per_s = (n - 1) / max(time.perf_counter() - first_at, 1e-9)
        sampler.close()
        return reason

    def _room(self) -> bool:
        """Room for the next token in a full window: only by a context shift, if allowed."""
        return self.make_room is not None and self.make_room()
