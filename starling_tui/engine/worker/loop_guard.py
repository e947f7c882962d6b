"""The loop guard: notice a reply that keeps repeating one span of tokens, so it can be stopped.

Greedy decoding of small or quantized models can fall into a loop ("a leaf's fate is
determined, a leaf's fate is determined, ..." until the context is full: SmolLM2, "Write a
haiku about autumn."). The guard watches the reply's token ids and reports a loop once the
reply's tail is one span repeated:

- at least ``MIN_REPEATS`` (3) times in a row, exactly, token for token, and
- over at least ``MIN_TOKENS`` (160) tokens in all (the span times its repetitions).

Why these numbers (measured with ``benchmarks/loop_guard_bench.py`` on the SmolLM2 and Mistral
tokenizers; see benchmarks/README.md): legitimately regular replies do repeat, but briefly or
with variation. A refrain or a chorus comes back after other lines (not back to back), table
rows and list items differ in their cells and numbers, and code repeats a line a few times: the
longest exact back-to-back repetition found in such texts was 96 tokens (a Markdown table's
separator row, 32 columns wide, on SmolLM2's tokenizer), against 160. Real loops repeat for
ever, so waiting for 160 tokens costs a few seconds at most and saves minutes: the SmolLM2
haiku loop is stopped after ~200 tokens instead of 8,155. Spans up to ``MAX_SPAN`` (512)
tokens are watched: paragraph-sized loops are caught after three copies.

The check is incremental: for each new token only the spans ending at an earlier copy of the
same token are extended (a dictionary of run lengths), so it costs a few microseconds a token.
"""

from __future__ import annotations

from collections import deque

MIN_REPEATS = 3
MIN_TOKENS = 160
MAX_SPAN = 512


class LoopGuard:
    """Feed it a reply's token ids one by one; :meth:`add` returns True once the reply loops."""

    def __init__(
        self, min_repeats: int = MIN_REPEATS, min_tokens: int = MIN_TOKENS,
        max_span: int = MAX_SPAN,
    ) -> None:
        self.min_repeats = min_repeats
        self.min_tokens = min_tokens
        self.max_span = max_span
        self._count = 0
        # token -> its recent positions (within max_span of the newest token)
        self._positions: dict[int, deque[int]] = {}
        # span length -> how many tokens in a row have equalled the token one span earlier
        self._runs: dict[int, int] = {}
        self.longest = (0, 0)  # (span, tokens) of the longest repetition seen so far

    def add(self, token: int) -> bool:
        """Record the next token; True when the reply's tail is one span repeated (a loop)."""
        n = self._count
        self._count += 1
        positions = self._positions.get(token)
        if positions is None:
            self._positions[token] = deque((n,))
            self._runs = {}
            return False
        while positions and n - positions[0] > self.max_span:
            positions.popleft()
        previous = self._runs
        runs = {}
        looping = False
        for earlier in positions:
            span = n - earlier
            run = previous.get(span, 0) + 1
            runs[span] = run
            repeated = run + span  # tokens covered: the first copy and the matches after it
            if repeated > self.longest[1]:
                self.longest = (span, repeated)
            if repeated >= self.min_tokens and repeated >= self.min_repeats * span:
                looping = True
        positions.append(n)
        self._runs = runs
        return looping


def repeated_tail(tokens: list[int], max_span: int = MAX_SPAN) -> tuple[int, int]:
    """(span, tokens covered) of the longest back-to-back repetition anywhere in ``tokens``.

    What the benchmark and the tests measure legitimate texts with (a loop guard that never
    fires, watching the whole text).
    """
    guard = LoopGuard(min_repeats=1 << 30, min_tokens=1 << 30, max_span=max_span)
    for token in tokens:
        guard.add(token)
    return guard.longest


def first_alarm(tokens: list[int], **thresholds: int) -> int | None:
    """How many tokens of ``tokens`` a guard with ``thresholds`` lets through (None: all)."""
    guard = LoopGuard(**thresholds)
    for i, token in enumerate(tokens):
        if guard.add(token):
            return i + 1
    return None
