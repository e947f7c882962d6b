"""Sequence 0 of the KV cache and the tokens it holds: prompt evaluation, trimming, restoring.

``KvSequence.tokens`` always equals what the KV cache holds, and ``KvSequence.map``
(:mod:`.positions`) where each of them sits. A new prompt evaluates only what follows its common
prefix with those tokens (``llama_memory_seq_rm`` drops the rest), in chunks of the context's
real batch size. With ``allow_shift`` a prompt that left the oldest turns out first has them
removed from the cache and the rest moved down (:mod:`.context_shift`). With Self-Extend
(:mod:`.self_extend`) positions are no longer token indexes: decodes never cross a block, a
block is grouped as soon as it is full, and every edit (reuse, shift, restore) carries the map.

A position edit (a shift, a grouping) leaves llama.cpp a K-shift to run at the next decode. An
aborted decode could stop that rotation half-way (some layers rotated, the rest not, and all
rotated again next time), so the decode after an edit is a single token with no abort callback;
:meth:`KvSequence.settle` runs a pending one before a state is copied out. Cancellation
during prompt evaluation goes through llama.cpp's abort callback, which polls the caller's flag
between graph nodes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any

from starling_tui.engine.worker.context_shift import (
    apply_shift,
    common_prefix,
    find_shift,
    reusable,
)
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.engine.worker.positions import PositionMap
from starling_tui.engine.worker.self_extend import SelfExtend
from starling_tui.engine.worker.state_cache import StateCache
from starling_tui.errors import EngineError
from starling_tui.llama.backend import llama
from starling_tui.llama.internals import new_batch

ABORTED = 2  # llama_decode's return code when the abort callback fired


class KvSequence:
    """The one sequence of a context (``LlamaContext``), decoded at most ``n_batch`` at a time."""

    def __init__(self, ctx: Any, n_batch: int, faults: FaultPlan = NO_FAULTS, *,
                 allow_shift: bool = False, extend: SelfExtend | None = None,
                 boundary: Callable[[int], bool] | None = None) -> None:
        self.ctx = ctx
        self.n_ctx = int(ctx.n_ctx())
        self.n_batch = n_batch
        self.faults = faults
        self.batch = new_batch(n_batch)
        self.tokens: list[int] = []
        # ``boundary``: the template's special tokens, after which no group continues
        self.map = PositionMap(extend, boundary)
        self._edited = False  # a position edit waits for llama.cpp's K-shift at the next decode
        # A context shift needs llama.cpp's K-shift, which some models' caches lack.
        self.allow_shift = allow_shift and bool(llama().llama_memory_can_shift(ctx.memory))
        self._no_abort = llama().ggml_abort_callback()  # NULL: no per-node callback

    def decode(self, tokens: Sequence[int], n_past: int) -> int:
        """llama_decode ``tokens`` at position ``n_past`` (logits for the last one only)."""
        self.batch.set_batch(tokens, n_past, False)
        return int(llama().llama_decode(self.ctx.ctx, self.batch.batch))

    def _extend_with(self, tokens: Sequence[int]) -> int:
        """Decode ``tokens`` at the end; group a block they fill. Returns llama_decode's code."""
        code = self.decode(tokens, self.map.next())
        if code != 0:
            return code
        self._edited = False
        self.tokens.extend(tokens)
        self.map.grow(len(tokens))
        if self.map.block_full():
            self.map.group_tail(llama(), self.ctx.memory, self.tokens)
            self._edited = True
        return 0

    def append(self, token: int) -> None:
        """Decode one generated token at the end of the sequence."""
        code = self._extend_with((token,))
        if code != 0:
            raise EngineError(f"llama.cpp failed to decode (code {code})")

    def batch_room(self) -> int:
        """How many tokens one decode at the end may hold: a batch, the window less its last
        free cell (a reply never fills it) and, with Self-Extend, the rest of the block."""
        end = len(self.tokens)
        return max(min(self.n_batch, self.n_ctx - 1 - end,
                       self.map.chunk_end(end + self.n_batch) - end), 0)

    def verify(self, tokens: Sequence[int]) -> None:
        """Decode ``tokens`` at the end with logits for every position (a draft's check, at
        most :meth:`batch_room` tokens); :meth:`keep` then drops the rejected ones. A block
        they fill is grouped by :meth:`keep`, once only accepted tokens are left in it."""
        self.batch.set_batch(tokens, self.map.next(), True)
        code = int(llama().llama_decode(self.ctx.ctx, self.batch.batch))
        if code != 0:
            self._after_abort()
            raise EngineError(f"llama.cpp failed to decode (code {code})")
        self._edited = False
        self.tokens.extend(tokens)
        self.map.grow(len(tokens))

    def keep(self, n: int) -> None:
        """Keep the first ``n`` tokens after :meth:`verify`: the rest leave the KV cache (they
        lie in the ungrouped tail, so the cut is exact), then a full block is grouped."""
        if n < len(self.tokens):
            llama().llama_memory_seq_rm(self.ctx.memory, 0, self.map.positions[n], -1)
            del self.tokens[n:]
            self.map.trim(n)
        if self.map.block_full():
            self.map.group_tail(llama(), self.ctx.memory, self.tokens)
            self._edited = True

    def settle(self) -> None:
        """Run a pending K-shift now (a throwaway decode), so a saved state is consistent."""
        if self._edited and self.tokens:
            position = self.map.next()
            if self.decode(self.tokens[-1:], position) == 0:
                self._edited = False
            llama().llama_memory_seq_rm(self.ctx.memory, 0, position, -1)

    def trim_to(self, n: int) -> int:
        """Forget tokens from index ``n`` on; returns how many stay (fewer with Self-Extend
        when ``n`` falls inside a group: its tokens share a position)."""
        n = self.map.keepable(n)
        if n < len(self.tokens):
            llama().llama_memory_seq_rm(self.ctx.memory, 0, self.map.positions[n], -1)
            del self.tokens[n:]
            self.map.trim(n)
        return n

    def eval_prompt(self, prompt: list[int], cancelled: Callable[[], bool]) -> tuple[int, bool]:
        """Evaluate what the KV cache lacks of ``prompt``; return (reused tokens, cancelled)."""
        lc = llama()
        self.shift_for(prompt)
        reused = self.trim_to(min(common_prefix(self.tokens, prompt), len(prompt) - 1))
        callback = lc.ggml_abort_callback(lambda _data: bool(cancelled()))
        try:
            self.faults.crash_point("prompt")
            while len(self.tokens) < len(prompt):
                start = len(self.tokens)
                end = self._chunk_end(start, len(prompt))
                # After a position edit: one token that no abort can split (module docstring).
                safe = self._edited
                lc.llama_set_abort_callback(self.ctx.ctx, self._no_abort if safe else callback,
                                            None)
                code = self._extend_with(prompt[start : start + 1] if safe else prompt[start:end])
                if code == ABORTED or cancelled():
                    self._after_abort()
                    return reused, True
                if code != 0:
                    self._after_abort()
                    raise EngineError(f"llama.cpp failed to evaluate the prompt (code {code})")
        finally:
            lc.llama_set_abort_callback(self.ctx.ctx, self._no_abort, None)
        return reused, False

    def _chunk_end(self, start: int, end: int) -> int:
        return self.map.chunk_end(min(end, start + self.n_batch))

    def shift_for(self, prompt: list[int]) -> bool:
        """Remove a gap of dropped turns from the cache when that lets ``prompt`` reuse more."""
        if not self.allow_shift:
            return False
        shift = find_shift(self.tokens, prompt, self.map.starts_group)
        if shift is None or shift.reused <= common_prefix(self.tokens, prompt):
            return False
        apply_shift(llama(), self.ctx.memory, self.tokens, self.map, shift)
        self._edited = True
        return True

    def reusable(self, prompt: list[int]) -> int:
        """Prompt tokens this cache can serve (after a context shift, when allowed)."""
        return reusable(self.tokens, prompt, self.allow_shift, self.map.starts_group)

    def _after_abort(self) -> None:
        """Resync ``tokens`` with what llama.cpp kept after an interrupted decode."""
        # Flushes llama.cpp's queued perf count too, so the next reply's counters start clean.
        llama().llama_synchronize(self.ctx.ctx)
        # ``tokens`` grows only after a decode succeeded: drop whatever lies beyond it.
        llama().llama_memory_seq_rm(self.ctx.memory, 0, self.map.next(), -1)

    def restore(self, states: StateCache, conversation_id: str, prompt: list[int]) -> int:
        """Load the conversation's saved state if it beats the live cache; tokens restored."""
        live = self.reusable(prompt)
        if live >= len(prompt) - 1:
            return 0
        saved = states.load(conversation_id)
        if saved is None:
            return 0
        tokens, meta, data = saved
        saved_map = self.map.empty()
        if not saved_map.load_meta(meta, len(tokens)):
            states.discard(states.path(conversation_id), "its position map does not fit")
            return 0
        usable = reusable(tokens, prompt, self.allow_shift, saved_map.starts_group)
        if usable <= live:
            return 0
        lc = llama()
        lc.llama_memory_seq_rm(self.ctx.memory, 0, 0, -1)
        self.tokens, self.map = [], self.map.empty()
        buf = (ctypes.c_uint8 * len(data)).from_buffer(data)
        read = int(lc.llama_state_seq_set_data(self.ctx.ctx, buf, len(data), 0))
        top = int(lc.llama_memory_seq_pos_max(self.ctx.memory, 0))
        if read == 0 or not tokens or top != saved_map.last():
            lc.llama_memory_seq_rm(self.ctx.memory, 0, 0, -1)
            states.discard(states.path(conversation_id), "llama.cpp could not load it")
            return 0
        self.tokens, self.map = list(tokens), saved_map
        self._edited = False
        return usable

    def saved_meta(self) -> dict[str, Any]:
        """What a saved state needs besides the tokens: the position map, with Self-Extend."""
        return self.map.to_meta() if self.map.extend is not None else {}
