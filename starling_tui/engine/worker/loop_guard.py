"""The loop guard: notice a reply that keeps repeating one span of tokens, so it can be stopped.

Greedy decoding of small or quantized models can fall into a loop ("a leaf's fate is
determined, a leaf's fate is determined, ..." until the context is full: SmolLM2, "Write a
haiku about autumn.", 8,155 tokens). The guard watches the reply's token ids and reports a loop
once the reply's tail is one span repeated back to back, exactly, token for token:

- at least ``MIN_REPEATS`` (3) copies, covering at least ``MIN_TOKENS`` (160) tokens;
- a span of fewer than ``MIN_DISTINCT`` (4) distinct tokens is a pattern (a printed grid, a
  rule line, a table's separator row) and must cover ``PATTERN_TOKENS`` (640);
- spans up to ``MAX_SPAN`` (512) tokens are watched.

Why (``benchmarks/loop_guard_bench.py``, SmolLM2's and the Mistral v1 tokenizers; table in
benchmarks/README.md): regular replies repeat briefly or with variation. A refrain or a chorus
comes back after other lines, table rows and list items differ in their cells and numbers;
the longest exact back-to-back repetition in the test texts (``tests/loop_guard_texts.py``) was
81 tokens (a code line printed ten times), half of 160, except a 16x16 grid of zeros (513
tokens of two distinct tokens), hence the separate pattern threshold. Real loops repeat for
ever, so waiting costs little: SmolLM2's loops were stopped after 171-212 tokens for a phrase,
434-537 for a 60-token sentence. A loop whose text changes (a counter) is not caught.

The check is incremental: a new token extends only the spans ending at earlier copies of the
same token (a dictionary of run lengths), 1 microsecond a token on prose, ~15 in a tight loop.
"""

from __future__ import annotations

from collections import deque

MIN_REPEATS = 3
MIN_TOKENS = 160
MIN_DISTINCT = 4  # a span of fewer distinct tokens is a pattern (a grid, a rule line)...
PATTERN_TOKENS = 640  # ...and must cover this many tokens
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
        # The shortest run that can meet both thresholds (at span = min_tokens / min_repeats):
        # below it no span needs a closer look, which keeps the common case to one max().
        self._min_run = -(-min_tokens * (min_repeats - 1) // min_repeats)
        self._tokens: list[int] = []
        # token -> its recent positions (within max_span of the newest token)
        self._positions: dict[int, deque[int]] = {}
        # span -> how many tokens in a row have equalled the token one span earlier
        self.runs: dict[int, int] = {}

    def add(self, token: int) -> bool:
        """Record the next token; True when the reply's tail is one span repeated (a loop)."""
        runs = self.extend(token)
        if not runs or max(runs.values()) < self._min_run:
            return False
        long_enough = [span for span, run in runs.items()
                       if run + span >= self.min_tokens and run >= (self.min_repeats - 1) * span]
        if not long_enough:
            return False
        if any(runs[span] + span >= PATTERN_TOKENS for span in long_enough):
            return True
        # The shortest repeating span holds the pattern's tokens (longer ones are multiples).
        return len(set(self._tokens[-min(long_enough):])) >= MIN_DISTINCT

    def extend(self, token: int) -> dict[int, int]:
        """Record ``token``; the run lengths of the spans it continues (or starts)."""
        n = len(self._tokens)
        self._tokens.append(token)
        positions = self._positions.get(token)
        if positions is None:
            self._positions[token] = deque((n,))
            self.runs = {}
            return self.runs
        while positions and n - positions[0] > self.max_span:
            positions.popleft()
        previous = self.runs
        self.runs = {n - e: previous.get(n - e, 0) + 1 for e in positions}
        positions.append(n)
        return self.runs


def repeated_tail(tokens: list[int], max_span: int = MAX_SPAN) -> tuple[int, int]:
    """(span, tokens covered) of the longest back-to-back repetition of ``MIN_REPEATS`` or more
    copies anywhere in ``tokens`` (what the tests and the benchmark measure texts with)."""
    guard = LoopGuard(max_span=max_span)
    longest = (0, 0)
    for token in tokens:
        for span, run in guard.extend(token).items():
            if run >= (MIN_REPEATS - 1) * span and run + span > longest[1]:
                longest = (span, run + span)
    return longest


def first_alarm(tokens: list[int], **thresholds: int) -> int | None:
    """How many tokens of ``tokens`` a guard with ``thresholds`` lets through (None: all)."""
    guard = LoopGuard(**thresholds)
    for i, token in enumerate(tokens):
        if guard.add(token):
            return i + 1
    return None
