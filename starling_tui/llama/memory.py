"""Position edits in sequence 0 of llama.cpp's KV cache (context shift, Self-Extend grouping).

llama.cpp removes cached keys by position range (``llama_memory_seq_rm``) and moves them
(``llama_memory_seq_add``); the moved keys are rotated to their new positions (its "K-shift")
inside the next decode, so a caller must make that decode one no abort can split.

Grouping moves keys with one ``llama_memory_seq_add`` per position, never with
``llama_memory_seq_div``: in the llama.cpp vendored by llama-cpp-python 0.3.36 the division's
K-shift accumulates ``p_old - p_new`` (``src/llama-kv-cells.h``, ``pos_div``) where the addition
accumulates ``+d``, so divided keys would be rotated the wrong way.
``tests/test_engine_self_extend.py`` proves the per-position remap on a one-layer model (whose
keys depend only on their token and position) and shows that ``seq_div`` fails the same check.

Every function takes ``lc``, the llama_cpp module or a stand-in that records the calls (the
position map's tests); by default the one :func:`.backend.llama` loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starling_tui.llama.backend import llama


def group_positions(memory: Any, base: int, offsets: Sequence[int], lc: Any = None) -> None:
    """Move the key at position ``base + j`` to ``base + offsets[j]``, for every ``j``.

    ``offsets`` never exceed their index and never decrease, so moving one key at a time in
    increasing order never lands one on a key that has not moved yet.
    """
    lc = llama() if lc is None else lc
    for j, offset in enumerate(offsets):
        if offset != j:
            lc.llama_memory_seq_add(memory, 0, base + j, base + j + 1, offset - j)


def close_gap(memory: Any, start: int, end: int, lc: Any = None) -> bool:
    """Remove the keys at positions ``[start, end)`` and move every later key down by
    ``end - start``; False (nothing changed) when llama.cpp refuses the removal."""
    lc = llama() if lc is None else lc
    if not lc.llama_memory_seq_rm(memory, 0, start, end):
        return False
    lc.llama_memory_seq_add(memory, 0, end, -1, start - end)
    return True
