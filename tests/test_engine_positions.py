"""The position map alone (no llama.cpp): grouping, cuts, shifts and saving.

Self-Extend's map must equal llama.cpp's completion tool where no turn boundary interferes,
cut groups after boundary tokens, and keep its invariants through every edit: positions start
at 0, never decrease and step by 0 or 1, the tail is consecutive. The keys' side of each edit
is proven against llama.cpp in ``test_engine_self_extend.py`` and ``test_engine_shift_se.py``.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from starling_tui.engine.worker.context_shift import Shift, apply_shift, find_shift
from starling_tui.engine.worker.positions import PositionMap
from starling_tui.engine.worker.self_extend import SelfExtend

SE = SelfExtend(group=2, window=4)
EOT = 99  # a boundary token in these tests


class Edits:
    """Records the position edits a map asks of llama.cpp."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def llama_memory_seq_add(self, _memory: Any, seq: int, p0: int, p1: int, delta: int) -> None:
        self.calls.append(("add", p0, p1, delta))

    def llama_memory_seq_rm(self, _memory: Any, seq: int, p0: int, p1: int) -> bool:
        self.calls.append(("rm", p0, p1))
        return True


def grow_to(pm: PositionMap, tokens: list[int]) -> None:
    """Append the rest of ``tokens`` (the whole cache) as KvSequence does: a decode stops
    where the tail fills a block, which is then grouped."""
    while len(pm) < len(tokens):
        pm.grow(pm.chunk_end(len(tokens)) - len(pm))
        if pm.block_full():
            pm.group_tail(Edits(), None, tokens)


def grown(tokens: list[int], extend: SelfExtend | None = SE) -> PositionMap:
    """A map that held ``tokens`` from the start, with EOT as its boundary."""
    pm = PositionMap(extend, lambda t: t == EOT)
    grow_to(pm, tokens)
    return pm


def completion_tool(i: int, n: int) -> int:
    """llama.cpp's completion tool: k = n // W blocks grouped by G, the rest consecutive."""
    grouped = n // SE.window * SE.window
    return i // SE.group if i < grouped else grouped // SE.group + i - grouped


def check_invariants(pm: PositionMap) -> None:
    p = pm.positions
    assert not p or p[0] == 0
    assert all(b - a in (0, 1) for a, b in pairwise(p))
    assert all(b - a == 1 for a, b in zip(p[pm.tail :], p[pm.tail + 1 :], strict=False))
    assert pm.extend is None or len(pm) - pm.tail < pm.extend.window


@pytest.mark.parametrize("n", [3, 4, 6, 8, 11])
def test_without_boundaries_the_map_is_the_completion_tools(n: int) -> None:
    pm = grown(list(range(n)))
    assert pm.positions == [completion_tool(i, n) for i in range(n)]
    assert pm.next() == completion_tool(n, n) if n % SE.window else pm.next() == n // SE.group
    check_invariants(pm)


def test_a_group_never_continues_past_a_boundary_token() -> None:
    pm = grown([1, EOT, 2, 3, 4, 5, 6, 7])
    assert pm.positions == [0, 0, 1, 1, 2, 2, 3, 3]  # EOT ends the first group: same here
    pm = grown([EOT, 1, 2, 3, 4, EOT, 5, 6])
    assert pm.positions == [0, 1, 1, 2, 3, 3, 4, 4]  # runs cut after each EOT
    assert [pm.starts_group(i) for i in range(8)] == [True, True, False, True, True, False,
                                                       True, False]
    check_invariants(pm)


def test_grouping_moves_each_key_once_in_increasing_order() -> None:
    edits = Edits()
    pm = PositionMap(SE)
    pm.grow(4)
    pm.group_tail(edits, None, [1, 2, 3, 4])
    assert edits.calls == [("add", 1, 2, -1), ("add", 2, 3, -1), ("add", 3, 4, -2)]
    assert pm.positions == [0, 0, 1, 1] and pm.tail == 4 and pm.next() == 2


def test_reuse_cuts_at_a_block_start_so_regrowing_groups_as_a_fresh_map() -> None:
    tokens = [1, 2, EOT, 3, 4, 5, 6, 7, 8, 9]
    pm = grown(tokens)  # blocks at 0 and 4, a tail of 2
    assert pm.blocks == [0, 4] and pm.tail == 8
    assert [pm.keepable(n) for n in (10, 9, 8, 7, 5, 4, 3, 0)] == [10, 9, 8, 4, 4, 4, 0, 0]
    pm.trim(pm.keepable(6))
    assert pm.tail == 4 and pm.blocks == [0] and pm.next() == pm.positions[-1] + 1
    grow_to(pm, tokens)  # the same tokens again: the very map a fresh evaluation builds
    fresh = grown(tokens)
    assert (pm.positions, pm.tail, pm.blocks) == (fresh.positions, fresh.tail, fresh.blocks)
    check_invariants(pm)


def test_a_shift_removes_whole_groups_and_closes_the_gap() -> None:
    cached = [1, EOT, 5, 6, 7, EOT, *range(8, 23)]  # a turn [5 6 7 EOT] starts after an EOT
    pm = grown(cached)
    before = list(pm.positions)
    gap = before[6] - before[2]
    edits = Edits()
    apply_shift(edits, None, cached, pm, Shift(start=2, length=4, kept=15))
    assert edits.calls == [("rm", before[2], before[6]), ("add", before[6], -1, -gap)]
    assert cached == [1, EOT, *range(8, 23)]
    assert pm.positions == before[:2] + [p - gap for p in before[6:]]
    assert all(pm.starts_group(b) and b < pm.tail for b in pm.blocks)  # still cut points
    assert pm.blocks == sorted(set(pm.blocks))
    check_invariants(pm)


def test_a_gap_slides_back_to_turn_starts_when_the_map_needs_it() -> None:
    header = [40, 41]  # every user turn starts "40 41", right after an EOT
    system, old, kept = [1, EOT], [*header, 50, 51, 52, EOT], [*header, *range(60, 80)]
    cached, prompt = system + old + kept, system + kept + [90]
    plain = find_shift(cached, prompt)
    assert plain is not None and (plain.start, plain.length) == (4, 6)  # after the header
    pm = grown(cached, SelfExtend(group=3, window=9))  # index 4 shares a group with 2 and 3
    assert not pm.starts_group(4)
    slid = find_shift(cached, prompt, pm.starts_group)
    assert slid is not None and (slid.start, slid.length) == (2, 6)  # at the turn starts
    assert slid.reused == plain.reused
    assert pm.starts_group(slid.start) and pm.starts_group(slid.start + slid.length)
    apply_shift(Edits(), None, cached, pm, slid)
    assert cached[: slid.reused] == prompt[: slid.reused]
    check_invariants(pm)


def test_the_map_round_trips_through_a_saved_header() -> None:
    pm = grown([1, EOT, 2, 3, 4, 5, 6, 7, 8, 9])
    saved = pm.empty()
    assert saved.load_meta(pm.to_meta(), len(pm))
    assert saved.positions == pm.positions and saved.tail == pm.tail
    assert not saved.load_meta(pm.to_meta(), len(pm) + 1)  # another token count
    assert not saved.load_meta({}, len(pm))  # saved without a map: positions unknown
    plain = PositionMap()
    assert plain.load_meta({}, 5) and plain.positions == [0, 1, 2, 3, 4]
    assert plain.keepable(3) == 3  # nothing grouped: reuse may cut anywhere
