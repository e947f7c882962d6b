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
with the prompt, so an edited message never shifts keys into an unrelated context. With
Self-Extend the gap is removed by position range from the position map (:mod:`.positions`),
so it must begin and end where a group starts: at a turn's start, which the gap reaches by
sliding back over the header the dropped and the kept turn share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starling_tui.engine.worker.positions import PositionMap
from starling_tui.llama.memory import close_gap

MIN_KEPT = 16  # tokens after the gap that must match the prompt for a shift to pay
MAX_SLIDE = 64  # a turn header is a handful of tokens: no gap slides back further


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


def _always(_index: int) -> bool:
    return True


def find_shift(cached: Sequence[int], prompt: Sequence[int],
               cuttable: Callable[[int], bool] = _always) -> Shift | None:
    """The gap in ``cached`` whose removal lets the most of ``prompt`` be reused, or None.

    ``cuttable(i)``: the cache can be cut before its token ``i`` (with Self-Extend, only where
    a group starts: :mod:`.positions`). A gap whose ends are not both cuttable is slid back
    over tokens its two ends share — the header every turn starts with — to where they are,
    which removes the very same tokens. The prompt's last token is never counted as
    reusable: its logits are needed.
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
        if kept < MIN_KEPT or (best is not None and start + kept <= best.reused):
            continue
        back = _slide_to_cuts(cached, start, gap_end, cuttable)
        if back is not None:
            best = Shift(start - back, gap_end - start, kept + back)
    return best


def _slide_to_cuts(cached: Sequence[int], start: int, end: int,
                   cuttable: Callable[[int], bool]) -> int | None:
    """How far the gap ``[start, end)`` slides back until both ends are cuttable (None: never).

    Sliding by ``d`` removes the same tokens while ``cached[start-d:start]`` equals
    ``cached[end-d:end]``.
    """
    for back in range(MAX_SLIDE + 1):
        if cuttable(start - back) and cuttable(end - back):
            return back
        if start - back < 1 or cached[start - back - 1] != cached[end - back - 1]:
            return None
    return None


def reusable(cached: Sequence[int], prompt: Sequence[int], allow_shift: bool,
             cuttable: Callable[[int], bool] = _always) -> int:
    """Prompt tokens a cache holding ``cached`` can serve (with a shift when allowed)."""
    plain = min(common_prefix(cached, prompt), max(len(prompt) - 1, 0))
    shift = find_shift(cached, prompt, cuttable) if allow_shift else None
    return max(plain, shift.reused) if shift is not None else plain


def apply_shift(lc: Any, memory: Any, tokens: list[int], positions: PositionMap,
                shift: Shift) -> None:
    """Remove the gap from sequence 0, move the rest down, and edit ``tokens`` and
    ``positions`` to match.

    The K-shift itself runs inside llama.cpp's next decode: callers must make that decode
    one that cannot be aborted (an abort half-way through the rotation would leave some
    layers' keys rotated and others not).
    """
    end = shift.start + shift.length
    p0, p1 = positions.positions[shift.start], positions.positions[end]
    if not close_gap(memory, p0, p1, lc):
        raise RuntimeError("llama.cpp refused to remove the oldest turns from the KV cache")
    positions.remove(shift.start, end)
    del tokens[shift.start : end]
