"""Speculative decoding from the conversation: draft, verify in one batch, keep what agrees.

Each step of a reply puts the last decided token into the KV cache. With a draft, the step
evaluates that token and the drafted ones in one batch, with logits for every position, and
samples the positions in order with the reply's own sampler chain while the sample equals the
drafted token: the accepted drafts are already in the cache, and the first sample that differs
(or the one after the last draft) is the reply's next token. The rejected drafts are removed
from the cache (``llama_memory_seq_rm``) before anything else is decoded.

Sampling each verified position with the very chain plain decoding uses makes the reply the one
plain decoding gives. Under greedy decoding a draft is accepted exactly where greedy decoding
would have chosen it. With a temperature this is the standard rejection rule for a draft that
is certain of its token (``q(d) = 1``): the drafted token ``d`` is accepted with probability
``min(1, p(d) / q(d)) = p(d)``, and a rejection samples from ``max(0, p - q)`` renormalised,
which is ``p`` without ``d``; one draw ``x ~ p``, accepting ``d`` when ``x = d`` and emitting
``x`` otherwise, realises both at once. Each decided token costs the chain one draw, as in plain
decoding, so a seeded reply is the same reply too (where the backend's arithmetic does not
depend on the batch size). The penalties sampler sees the decided tokens in the same order.

How many tokens to draft is the :class:`DraftPolicy`'s call (:class:`.draft_cost.CostModel`
learns it from the step timings reported to it); the drafter (:mod:`.drafter`) only proposes.
A step is timed whole (decode, sampling, trimming the cache). The one-token steps right after a
batch are not what a one-token step costs: on a GPU they can take several times as long
(llama.cpp's CUDA backend runs the first one-token graph after a batch of another shape
without its CUDA graph and captures that graph again on the next). What the first
:data:`SETTLE_STEPS` one-token steps after a batch take beyond a steady one-token step is
reported as part of that batch, and only later steps time a one-token step, so the policy
weighs a draft by everything it costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starling_tui.engine.worker.draft_cost import CostModel
from starling_tui.engine.worker.drafter import NO_DRAFT, Drafter, NgramDrafter
from starling_tui.engine.worker.kv_sequence import KvSequence
from starling_tui.types import ChatMessage, ChatRequest

EARLIER_TOKENS = 16384  # tokens of turns left out of the window that drafts may copy from
SETTLE_STEPS = 3  # one-token steps after a batch whose time beyond a steady step is the batch's


class DraftPolicy(Protocol):
    """Decides draft lengths and hears how steps went (the cost model, or a test's rule)."""

    def choose(self, match: int, available: int) -> int:
        """How many of ``available`` drafted tokens (continuing a ``match``) to verify."""
        ...

    def observe_batch(self, n: int, seconds: float) -> None:
        """A decode of ``n`` tokens took ``seconds``."""
        ...

    def observe_draft(self, match: int, drafted: int, accepted: int) -> None:
        """``accepted`` of ``drafted`` tokens continuing a ``match`` were accepted."""
        ...

    def observe_guess(self, match: int, held: bool) -> None:
        """A proposal not drafted (continuing a ``match``) guessed the next token or not."""
        ...


@dataclass
class StepResult:
    """One step's outcome: drafts accepted (already in the cache) and the next token."""

    accepted: list[int]
    next_token: int
    drafted: int = 0


@dataclass
class Speculation:
    """The drafter and the draft policy of a loaded model (both outlive a reply)."""

    drafter: Drafter = field(default_factory=NgramDrafter)
    policy: DraftPolicy = field(default_factory=CostModel)
    # the turns left out of the window last time, and their ids (re-tokenized only on change)
    _left_out: tuple[tuple[ChatMessage, ...], list[int]] = ((), [])
    clock: Callable[[], float] = time.perf_counter
    # a proposal not drafted (its match and first token), judged by the next decided token
    _undrafted: tuple[int, int] | None = None
    _batch: tuple[int, float] | None = None  # the last batch and its time, not reported yet
    _batch_extra_s: float = 0.0  # what the steps after it took beyond steady one-token steps
    _since_batch: int = 0  # one-token steps since the last batch (or the prompt)
    _plain_s: float = 0.0  # running average of a settled one-token step

    def begin(self, request: ChatRequest, kept: Sequence[ChatMessage], prompt: Sequence[int],
              encode: Callable[[str], list[int]]) -> None:
        """A reply starts after ``prompt``; drafts may also copy from the turns of ``request``
        the window left out (``kept``: the messages in the prompt)."""
        left_out = tuple(m for m in request.messages if m not in kept)
        if left_out != self._left_out[0]:
            self._left_out = (left_out, text_tokens(left_out, encode))
        self.drafter.start([*self._left_out[1], *prompt])
        self._undrafted = None
        self._report_batch()
        self._since_batch = 0  # the prompt was a batch

    def decided(self, token: int) -> None:
        """The reply's next token is ``token`` (in order; rejected drafts never come here)."""
        if self._undrafted is not None:
            # what a draft would have done: the policy learns match lengths it does not draft
            match, guess = self._undrafted
            self._undrafted = None
            self.policy.observe_guess(match, token == guess)
        self.drafter.append(token)

    def step(self, kv: KvSequence, sampler: Any, token: int, most: int) -> StepResult:
        """Put ``token`` into the cache with up to ``most`` drafted tokens after it; sample
        the reply's next token(s). The cache then holds ``token`` and the accepted drafts."""
        draft = self.drafter.propose(most) if most > 0 else NO_DRAFT
        # no draft before a one-token step is timed: what a batch costs is measured against it
        k = self.policy.choose(draft.match, len(draft.tokens)) if (
            draft.tokens and self._plain_s) else 0
        start = self.clock()
        if k <= 0:
            if draft.tokens:
                self._undrafted = (draft.match, draft.tokens[0])
            kv.append(token)
            next_token = int(sampler.sample(kv.ctx, -1))  # waits for the decode
            self._timed_plain(self.clock() - start)
            return StepResult([], next_token)
        drafted = draft.tokens[:k]
        base = len(kv.tokens)
        kv.verify((token, *drafted))
        accepted, next_token = agreeing_prefix(sampler, kv.ctx, drafted)
        kv.keep(base + 1 + len(accepted))  # the rejected drafts leave the cache now
        self._report_batch()  # a batch before the last one settled: that one is complete
        self._batch, self._since_batch = (k + 1, self.clock() - start), 0
        self.policy.observe_draft(draft.match, k, len(accepted))
        return StepResult(accepted, next_token, drafted=k)

    def _timed_plain(self, seconds: float) -> None:
        """Report a one-token step: while the steps after a batch settle, what they take
        beyond a steady step is the batch's; only settled steps time a one-token step."""
        if self._since_batch < SETTLE_STEPS:
            self._since_batch += 1
            if self._plain_s:
                self._batch_extra_s += seconds - self._plain_s
            if self._since_batch == SETTLE_STEPS:
                self._report_batch()
            return
        self._plain_s = seconds if not self._plain_s else (
            self._plain_s + 0.1 * (seconds - self._plain_s))
        self.policy.observe_batch(1, seconds)

    def _report_batch(self) -> None:
        """Report the batch not reported yet, with what the steps after it took beyond steady
        ones (as a sum: a step's noise either way cancels out)."""
        if self._batch is not None:
            n, seconds = self._batch
            self.policy.observe_batch(n, seconds + max(self._batch_extra_s, 0.0))
        self._batch, self._batch_extra_s = None, 0.0


def text_tokens(messages: Sequence[ChatMessage], encode: Callable[[str], list[int]],
                budget: int = EARLIER_TOKENS) -> list[int]:
    """The ids of the messages' texts and attached files: the newest ``budget`` of them."""
    runs: list[list[int]] = []
    total = 0
    for message in reversed(messages):
        for text in reversed((message.content, *(a.text for a in message.attachments))):
            runs.append(encode(text))
            total += len(runs[-1])
        if total >= budget:
            break
    ids = [token for run in reversed(runs) for token in run]
    return ids[-budget:] if budget else []


def agreeing_prefix(sampler: Any, ctx: Any, drafted: Sequence[int]) -> tuple[list[int], int]:
    """Sample the verified batch's positions in order while each sample equals the drafted
    token there; (the accepted drafts, the first sample that differs or follows them all)."""
    accepted: list[int] = []
    for j, guess in enumerate(drafted):
        token = int(sampler.sample(ctx, j))
        if token != guess:
            return accepted, token
        accepted.append(token)
    return accepted, int(sampler.sample(ctx, len(drafted)))
