"""The loop guard: notice a reply that keeps repeating one span of tokens, so it can be stopped.

Greedy decoding of small or quantized models can fall into a loop ("a leaf's fate is
determined, a leaf's fate is determined, ..." until the context is full: SmolLM2, "Write a
haiku about autumn."). The guard watches the reply's tokens and reports a loop
once the reply's tail is one span repeated back to back, exactly, token for token:

- at least ``MIN_REPEATS`` (3) copies, covering at least ``MIN_TOKENS`` (160) tokens;
- a span of fewer than ``MIN_DISTINCT`` (4) distinct tokens is a pattern (a printed grid, a
  rule line, a table's separator row) and must cover ``PATTERN_TOKENS`` (640);
- spans up to ``MAX_SPAN`` (512) tokens are watched.

Why (``benchmarks/loop_guard_bench.py``, SmolLM2's and the Mistral v1 tokenizers; table in
benchmarks/README.md): regular replies repeat briefly or with variation. A refrain or a chorus
comes back after other lines, table rows and list items differ in their cells and numbers;
the longest exact back-to-back repetition in the test texts (``tests/loop_guard_texts.py``) was
a code line printed ten times, half of 160, except a 16x16 grid of zeros (two distinct tokens),
hence the separate pattern threshold. Real loops repeat for ever, so waiting costs little.

A loop whose only change is a counter (``2023-01-20 2023-01-22 … 2023-01-415``) is never exact.
The guard also watches the reply with each number (a run of digit tokens, whatever its length)
replaced by one placeholder, and reports a counting loop when that masked reply repeats one
span at least ``COUNTER_REPEATS`` (64) times over at least ``COUNTER_TOKENS`` (384) tokens and
exactly one of the span's numbers differs between its copies. Real tables and lists change more
than one thing from row to row (an item's name, several figures); a list whose rows differ only
by a number (a numbered template, a blank planner) is rarely longer than a few dozen rows in a
reply, while a counting loop runs for hundreds.

The check is incremental: a new token extends only the spans ending at earlier copies of the
same token (a dictionary of run lengths), cheap next to decoding the token.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Hashable, Sequence

MIN_REPEATS = 3
MIN_TOKENS = 160
MIN_DISTINCT = 4  # a span of fewer distinct tokens is a pattern (a grid, a rule line)...
PATTERN_TOKENS = 640  # ...and must cover this many tokens
MAX_SPAN = 512
COUNTER_REPEATS = 64  # copies of a span whose only change is one number...
COUNTER_TOKENS = 384  # ...covering at least this many tokens

# A token that is a number or a piece of one: digits, after at most one space (" 2", "415").
_NUMBER = re.compile(r"( ?)(\d+)")


class _Repeats:
    """Back-to-back repetition in a stream of keys: for each span, how long it has repeated."""

    def __init__(self, max_span: int) -> None:
        self.max_span = max_span
        self.keys: list[Hashable] = []
        # key -> its recent positions (within max_span of the newest key)
        self._positions: dict[Hashable, deque[int]] = {}
        # span -> how many keys in a row have equalled the key one span earlier
        self.runs: dict[int, int] = {}

    def extend(self, key: Hashable) -> dict[int, int]:
        """Record ``key``; the run lengths of the spans it continues (or starts)."""
        n = len(self.keys)
        self.keys.append(key)
        positions = self._positions.get(key)
        if positions is None:
            self._positions[key] = deque((n,))
            self.runs = {}
            return self.runs
        while positions and n - positions[0] > self.max_span:
            positions.popleft()
        previous = self.runs
        self.runs = {n - e: previous.get(n - e, 0) + 1 for e in positions}
        positions.append(n)
        return self.runs


class _Counters:
    """The reply with every number masked, and the check for a loop that only counts."""

    def __init__(self, max_span: int, repeats: int, tokens: int) -> None:
        self.repeats = repeats
        self.tokens = tokens
        self._masked = _Repeats(max_span)
        self._numbers: list[str | None] = []  # per masked key: the number's digits, or None
        self._sizes: list[int] = []  # per masked key: the reply tokens it stands for
        self._next_check = 0  # after a check that failed, the next one waits a copy

    def add(self, token: int, text: str) -> bool:
        """Record a token and its text; True when the masked tail is a counting loop."""
        number = _NUMBER.fullmatch(text)
        if number and not number.group(1) and self._numbers and self._numbers[-1] is not None:
            # More digits of the same number ("2", "0", "2", "3" or "202", "3"): one key.
            self._numbers[-1] += number.group(2)
            self._sizes[-1] += 1
            return False
        key: Hashable = ("number", number.group(1)) if number else token
        runs = self._masked.extend(key)
        self._numbers.append(number.group(2) if number else None)
        self._sizes.append(1)
        if len(self._numbers) < self._next_check or not runs:
            return False
        if max(runs.values()) < self.repeats - 1:
            return False
        spans = [span for span, run in runs.items() if run + span >= self.repeats * span]
        if not spans:
            return False
        span = min(spans)  # the others are its multiples
        if self._only_a_counter(span) and sum(self._sizes[-(runs[span] + span):]) >= self.tokens:
            return True
        # What a copy holds changes only a copy later: looking every key would cost a copy's
        # worth of work per key on a long table whose rows differ in several numbers.
        self._next_check = len(self._numbers) + span
        return False

    def _only_a_counter(self, span: int) -> bool:
        """Whether exactly one number of the span differs between its last copies."""
        n = len(self._numbers)
        # Every copy has its numbers at the same places (their keys are equal).
        places = [offset for offset in range(span) if self._numbers[n - 1 - offset] is not None]
        changing = 0
        for offset in places:
            values = {self._numbers[n - 1 - offset - k * span] for k in range(self.repeats)}
            changing += len(values) > 1
            if changing > 1:
                return False
        return changing == 1


class LoopGuard:
    """Feed it a reply's tokens one by one; :meth:`add` returns True once the reply loops."""

    def __init__(
        self, min_repeats: int = MIN_REPEATS, min_tokens: int = MIN_TOKENS,
        max_span: int = MAX_SPAN, counter_repeats: int = COUNTER_REPEATS,
        counter_tokens: int = COUNTER_TOKENS,
    ) -> None:
        self.min_repeats = min_repeats
        self.min_tokens = min_tokens
        self.max_span = max_span
        # The shortest run that can meet both thresholds (at span = min_tokens / min_repeats):
        # below it no span needs a closer look, which keeps the common case to one max().
        self._min_run = -(-min_tokens * (min_repeats - 1) // min_repeats)
        self._exact = _Repeats(max_span)
        self._counters = _Counters(max_span, counter_repeats, counter_tokens)

    @property
    def runs(self) -> dict[int, int]:
        """span -> how many tokens in a row have equalled the token one span earlier."""
        return self._exact.runs

    def add(self, token: int, text: str = "") -> bool:
        """Record the next token (and its text, which lets numbers be told apart); True when
        the reply's tail is one span repeated exactly, or one that only counts."""
        exact = self._exact_loop(token)
        counting = self._counters.add(token, text)  # always fed, so its view stays whole
        return exact or counting

    def _exact_loop(self, token: int) -> bool:
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
        return len(set(self._exact.keys[-min(long_enough):])) >= MIN_DISTINCT

    def extend(self, token: int) -> dict[int, int]:
        """Record ``token`` in the exact view only; the run lengths of the spans it continues."""
        return self._exact.extend(token)


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


def first_alarm(
    tokens: Sequence[int], texts: Sequence[str] | None = None, **thresholds: int
) -> int | None:
    """How many tokens of ``tokens`` (with their ``texts``, when known) a guard with
    ``thresholds`` lets through (None: all)."""
    guard = LoopGuard(**thresholds)
    for i, token in enumerate(tokens):
        if guard.add(token, texts[i] if texts is not None else ""):
            return i + 1
    return None
