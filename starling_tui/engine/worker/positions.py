"""Where each cached token sits in llama.cpp's KV cache: the position map.

Without Self-Extend a token's position is its index, and a context shift keeps it so (the
tokens after a removed gap move down by the gap's length). With Self-Extend
(:mod:`.self_extend`) positions are grouped: once ``W`` tokens have gathered after the last
grouped block (the ungrouped *tail*), that block is grouped — runs of up to ``G`` neighbouring
tokens share one position — and the next token continues right after it. Every other edit
then has to carry the map: prefix reuse cuts it (at the start of a grouped block, so what is
evaluated again is grouped exactly as a fresh evaluation would group it), a context shift
removes a gap from it and moves what follows down, a saved state stores it.

One rule makes those edits exact: **a group never continues past a boundary token** (a
template's special token: BOS, ``<|end_of_turn|>``, ``<|im_end|>``…). Grouped tokens share a
position, so no position edit can separate them again; llama.cpp removes keys by position
range. Turns begin right after such a token, and the turns a shift removes start there, so
both ends of the gap are group starts. Invariants: positions start at 0,
never decrease and step by 0 or 1; the tail's positions are consecutive.

The map costs a few positions per turn more than plain grouping (a turn's last run may be
shorter than ``G``); :func:`~.self_extend.check_self_extend`'s reach leaves ``W`` positions
of room, far more than that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starling_tui.engine.worker.self_extend import SelfExtend
from starling_tui.llama.memory import group_positions


def _never(_token: int) -> bool:
    return False


class PositionMap:
    """Positions of the tokens of sequence 0, and Self-Extend's grouping of them."""

    def __init__(self, extend: SelfExtend | None = None,
                 boundary: Callable[[int], bool] | None = None) -> None:
        self.extend = extend
        self.boundary = boundary or _never  # a group never continues past such a token
        self.positions: list[int] = []
        self.tail = 0  # index of the first token not grouped yet
        self.blocks: list[int] = []  # where each grouped block starts (where reuse may cut)

    def empty(self) -> PositionMap:
        """A map of no tokens with the same grouping (to restore a saved state into)."""
        return PositionMap(self.extend, self.boundary)

    def __len__(self) -> int:
        return len(self.positions)

    def next(self) -> int:
        """The position of the next token appended."""
        return self.positions[-1] + 1 if self.positions else 0

    def last(self) -> int:
        """The highest position held (-1 when empty)."""
        return self.positions[-1] if self.positions else -1

    def grow(self, count: int) -> None:
        """``count`` tokens were decoded at consecutive positions from :meth:`next`."""
        first = self.next()
        self.positions.extend(range(first, first + count))

    def chunk_end(self, end: int) -> int:
        """Where a decode from the end of the map may stop: at ``end`` or where the tail
        fills a block (it is grouped before the next decode)."""
        return end if self.extend is None else min(end, self.tail + self.extend.window)

    def block_full(self) -> bool:
        """The tail holds a whole block: group it before decoding more."""
        return self.extend is not None and len(self) - self.tail >= self.extend.window

    def group_offsets(self, tokens: Sequence[int]) -> list[int]:
        """Each token's group within a block: runs of up to G, cut after boundary tokens."""
        assert self.extend is not None
        offsets: list[int] = []
        group, run = -1, self.extend.group
        for j in range(len(tokens)):
            if run == self.extend.group or (j and self.boundary(tokens[j - 1])):
                group, run = group + 1, 0
            offsets.append(group)
            run += 1
        return offsets

    def group_tail(self, lc: Any, memory: Any, tokens: Sequence[int]) -> None:
        """Group the tail's block (``tokens`` are the whole cache's) in sequence 0.

        The keys move one position at a time (:func:`starling_tui.llama.memory.group_positions`,
        which says why not with ``llama_memory_seq_div``); ``lc`` is llama_cpp or a stand-in.
        """
        assert self.extend is not None
        start, size = self.tail, self.extend.window
        base = self.positions[start]
        offsets = self.group_offsets(tokens[start : start + size])
        group_positions(memory, base, offsets, lc)
        self.positions[start : start + size] = [base + offset for offset in offsets]
        self.blocks.append(start)
        self.tail = start + size

    def starts_group(self, i: int) -> bool:
        """Token ``i`` shares no position with token ``i - 1`` (so the map can be cut there)."""
        return i <= 0 or i >= len(self) or self.positions[i - 1] < self.positions[i]

    def keepable(self, n: int) -> int:
        """The longest prefix of at most ``n`` tokens that prefix reuse keeps: all of it in
        the tail, else up to the start of the grouped block ``n`` falls in. Growing it again
        then groups the very blocks a fresh evaluation would, so reuse stays exact (a cut at
        any group start would shift every later block and change the result)."""
        if n >= self.tail:
            return n
        return max((b for b in self.blocks if b <= n), default=0)

    def trim(self, n: int) -> None:
        """Forget tokens from index ``n`` on (``n`` from :meth:`keepable`)."""
        del self.positions[n:]
        self.tail = min(self.tail, n)
        self.blocks = [b for b in self.blocks if b < n]

    def remove(self, start: int, end: int) -> None:
        """Remove tokens ``[start, end)`` and move the rest down to close the gap (both ends
        must start a group, and token ``end`` must be held)."""
        gap, size = self.positions[end] - self.positions[start], end - start
        self.positions[start:] = [p - gap for p in self.positions[end:]]
        if self.tail > end:
            self.tail -= size
        elif self.tail > start:
            self.tail = start
        # What follows the gap is grouped as it was; ``start`` is where reuse may cut it.
        later = [b - size for b in self.blocks if b >= end]
        self.blocks = [b for b in self.blocks if b < start]
        self.blocks += ([start] if start < self.tail and start not in later else []) + later

    def to_meta(self) -> dict[str, Any]:
        """The map as a saved state stores it: run lengths of shared positions, and the tail."""
        runs: list[int] = []
        for i in range(len(self)):
            if self.starts_group(i):
                runs.append(1)
            else:
                runs[-1] += 1
        return {"position_runs": runs, "tail": self.tail, "blocks": self.blocks}

    def load_meta(self, meta: dict[str, Any], n_tokens: int) -> bool:
        """Take a saved map (none in ``meta``: positions are indexes, without Self-Extend);
        False when it does not fit ``n_tokens``."""
        runs = meta.get("position_runs")
        if runs is None:
            if self.extend is not None:  # saved without a map: positions unknown
                return False
            positions, tail, blocks = list(range(n_tokens)), 0, []  # nothing grouped
        else:
            positions = [p for p, run in enumerate(runs) for _ in range(int(run))]
            tail, blocks = int(meta.get("tail", -1)), [int(b) for b in meta.get("blocks", [])]
        if len(positions) != n_tokens or not 0 <= tail <= n_tokens:
            return False
        if any(not 0 <= b < tail for b in blocks):
            return False
        self.positions, self.tail, self.blocks = positions, tail, blocks
        return True
