"""Self-Extend (grouped attention, Jin et al. 2024) the way llama.cpp's completion tool did it.

Positions are handed out one by one as usual, but each time ``W`` (the neighbour window)
tokens have gathered after the last grouped block, that block is grouped: ``G`` (the group
size) neighbouring tokens share one position, and the next token continues right after the
grouped block. Without turn boundaries, after ``n`` tokens the ``k = n // W`` oldest blocks
are grouped and the rest (fewer than ``W``) keeps its own positions::

    position(i) = i // G                      for i < k·W
                = k·W / G + (i - k·W)         otherwise

The highest position ever used is about ``n / G + W``, so a context of ``G × (training
context - W)`` tokens stays inside the positions the model was trained on. The map itself, and
the one refinement that lets a context shift and prefix reuse cut it exactly (no group spans a
turn boundary), live in :mod:`.positions`.

The regrouping moves keys one position at a time, not with ``llama_memory_seq_div`` (wrong
in the llama.cpp this project is verified with): :func:`starling_tui.llama.memory.group_positions`
says why, and ``tests/test_engine_self_extend.py`` proves the remap.
"""

from __future__ import annotations

from dataclasses import dataclass

from starling_tui.errors import EngineError


@dataclass(frozen=True)
class SelfExtend:
    """Group size ``group`` (G) and neighbour window ``window`` (W, a multiple of G)."""

    group: int
    window: int


def check_self_extend(group: int, window: int, n_ctx: int, n_ctx_train: int) -> None:
    """Raise :class:`EngineError` (one line naming the limit) for unusable settings."""
    if group < 1:
        raise EngineError(f"self_extend must be 1 (off) or more, not {group}")
    if group == 1:
        return
    if window < group or window % group:
        raise EngineError(
            f"self_extend_window ({window}) must be a multiple of self_extend ({group})")
    if window >= n_ctx:
        raise EngineError(
            f"self_extend_window ({window}) must be smaller than the context ({n_ctx} tokens)")
    reach = group * (n_ctx_train - window)
    if n_ctx > reach:
        raise EngineError(
            f"a {n_ctx}-token context is beyond what Self-Extend reaches with G={group}, "
            f"W={window} on a model trained at {n_ctx_train} tokens: at most {reach}")


def self_extend_for(group: int, window: int, n_ctx: int, n_ctx_train: int) -> SelfExtend | None:
    """The Self-Extend map for these settings (None when off); EngineError when unusable."""
    check_self_extend(group, window, n_ctx, n_ctx_train)
    return SelfExtend(group, window) if group > 1 else None
