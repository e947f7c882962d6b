"""Context shift: reuse a KV cache whose oldest turns the new prompt no longer includes.

When the ``shift`` overflow policy (:mod:`starling_tui.prompt.window`) leaves whole oldest
turns out, the cache still holds them between the system prompt and the turns that stay. Rather
than re-evaluating everything after the system prompt, the gap is removed from sequence 0
(``llama_memory_seq_rm``) and what follows is moved down (``llama_memory_seq_add``): llama.cpp
rotates the moved keys to their new positions (its "K-shift") at the next decode. Only the new
message and its headers are then evaluated.

It is an approximation — the kept keys were computed while the dropped turns were visible —
measured in ``benchmarks/context_shift_bench.py`` and bounded by ``tests/test_engine_shift.py``.

The gap is found from the token lists alone (the cache's record and the new prompt), so the
engine's record stays exact whatever built the cache: a live reply, a restored state, the
next-turn prefill. A gap is taken only when at least :data:`MIN_KEPT` tokens after it line up
with the prompt, so an edited message never shifts keys into an unrelated context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_KEPT = 16  # tokens after the gap that must match the prompt for a shift to pay


def common_prefix(a: Sequence[int], b: Sequence[int], a_from: int = 0, b_from: int = 0) -> int:
    """Length of the longest common prefix of ``a[a_from:]`` and ``b[b_from:]``."""
    n = 0
    limit = min(len(a) - a_from, len(b) - b_from)
    while n < limit and a[a_from + n] == b[b_from + n]:
        n += 1
    return n


@dataclass(frozen=True)
class Shift:
    """Remove cached tokens ``[start, start + length)``; ``kept`` tokens after them then match."""

    start: int
    length: int
    kept: int

    @property
    def reused(self) -> int:
        """Prompt tokens the cache holds once the gap is gone."""
        return self.start + self.kept


def find_shift(cached: Sequence[int], prompt: Sequence[int]) -> Shift | None:
    """The gap in ``cached`` whose removal lets the most of ``prompt`` be reused, or None.

    The prompt's last token is never counted as reusable: its logits are needed.
    """
    usable = len(prompt) - 1
    start = min(common_prefix(cached, prompt), usable)
    if start >= len(cached) or start >= usable:
        return None
    best: Shift | None = None
    first = prompt[start]
    for gap_end in range(start + 1, len(cached)):
        if cached[gap_end] != first:
            continue
        kept = min(common_prefix(cached, prompt, gap_end, start), usable - start)
        if kept >= MIN_KEPT and (best is None or kept > best.kept):
            best = Shift(start, gap_end - start, kept)
    return best


def reusable(cached: Sequence[int], prompt: Sequence[int], allow_shift: bool) -> int:
    """Prompt tokens a cache holding ``cached`` can serve (with a shift when allowed)."""
    plain = min(common_prefix(cached, prompt), max(len(prompt) - 1, 0))
    shift = find_shift(cached, prompt) if allow_shift else None
    return max(plain, shift.reused) if shift is not None else plain


def apply_shift(lc: Any, memory: Any, tokens: list[int], shift: Shift) -> None:
    """Remove the gap from sequence 0, move the rest down, and edit ``tokens`` to match.

    The K-shift itself runs inside llama.cpp's next decode: callers must make that decode
    one that cannot be aborted (an abort half-way through the rotation would leave some
    layers' keys rotated and others not).
    """
    end = shift.start + shift.length
    if not lc.llama_memory_seq_rm(memory, 0, shift.start, end):
        raise RuntimeError("llama.cpp refused to remove the oldest turns from the KV cache")
    lc.llama_memory_seq_add(memory, 0, end, -1, -shift.length)
    del tokens[shift.start : end]
