"""Sequence 0 of the KV cache and the tokens it holds: prompt evaluation, trimming, restoring.

``KvSequence.tokens`` always equals what the KV cache holds, at positions ``0..n-1``. A new
prompt evaluates only what follows its common prefix with those tokens (``llama_memory_seq_rm``
drops the rest), in chunks of the context's real batch size. With ``allow_shift`` a prompt that
left the oldest turns out first has them removed from the cache and the rest moved down
(:mod:`.context_shift`). Cancellation during prompt evaluation goes through llama.cpp's
abort callback, which polls the caller's flag between graph nodes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any

from starling_tui.engine.base import EngineError
from starling_tui.engine.worker.context_shift import (
    apply_shift,
    common_prefix,
    find_shift,
    reusable,
)
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.engine.worker.llama_backend import llama
from starling_tui.engine.worker.state_cache import StateCache

ABORTED = 2  # llama_decode's return code when the abort callback fired


class KvSequence:
    """The one sequence of a context (``LlamaContext``), decoded at most ``n_batch`` at a time."""

    def __init__(self, ctx: Any, n_batch: int, faults: FaultPlan = NO_FAULTS, *,
                 allow_shift: bool = False) -> None:
        from llama_cpp import _internals

        self.ctx = ctx
        self.n_ctx = int(ctx.n_ctx())
        self.n_batch = n_batch
        self.faults = faults
        self.batch = _internals.LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=1, verbose=False)
        self.tokens: list[int] = []
        # A context shift needs llama.cpp's K-shift, which some models' caches lack.
        self.allow_shift = allow_shift and bool(llama().llama_memory_can_shift(ctx.memory))
        self._no_abort = llama().ggml_abort_callback()  # NULL: no per-node callback

    def decode(self, tokens: Sequence[int], n_past: int) -> int:
        """llama_decode ``tokens`` at position ``n_past`` (logits for the last one only)."""
        self.batch.set_batch(tokens, n_past, False)
        return int(llama().llama_decode(self.ctx.ctx, self.batch.batch))

    def append(self, token: int) -> None:
        """Decode one generated token at the end of the sequence."""
        code = self.decode((token,), len(self.tokens))
        if code != 0:
            raise EngineError(f"llama.cpp failed to decode (code {code})")
        self.tokens.append(token)

    def trim_to(self, n: int) -> None:
        """Forget KV entries from position ``n`` on."""
        if n < len(self.tokens):
            llama().llama_memory_seq_rm(self.ctx.memory, 0, n, -1)
            del self.tokens[n:]

    def eval_prompt(self, prompt: list[int], cancelled: Callable[[], bool]) -> tuple[int, bool]:
        """Evaluate what the KV cache lacks of ``prompt``; return (reused tokens, cancelled)."""
        lc = llama()
        shifted = self._shift_for(prompt)
        reused = min(common_prefix(self.tokens, prompt), len(prompt) - 1)
        self.trim_to(reused)
        if shifted:  # the K-shift runs in this decode: one token, never aborted half-way
            self._decode_or_raise(prompt[reused : reused + 1], reused)
        done = reused + 1 if shifted else reused
        callback = lc.ggml_abort_callback(lambda _data: bool(cancelled()))
        lc.llama_set_abort_callback(self.ctx.ctx, callback, None)
        try:
            self.faults.crash_point("prompt")
            for start in range(done, len(prompt), self.n_batch):
                chunk = prompt[start : start + self.n_batch]
                code = self.decode(chunk, start)
                if code == ABORTED or cancelled():
                    self._after_abort()
                    return reused, True
                if code != 0:
                    self._after_abort()
                    raise EngineError(f"llama.cpp failed to evaluate the prompt (code {code})")
                self.tokens.extend(chunk)
        finally:
            lc.llama_set_abort_callback(self.ctx.ctx, self._no_abort, None)
        return reused, False

    def _shift_for(self, prompt: list[int]) -> bool:
        """Remove a gap of dropped turns from the cache when that lets ``prompt`` reuse more."""
        shift = find_shift(self.tokens, prompt) if self.allow_shift else None
        if shift is None or shift.reused <= common_prefix(self.tokens, prompt):
            return False
        apply_shift(llama(), self.ctx.memory, self.tokens, shift)
        return True

    def _decode_or_raise(self, tokens: list[int], n_past: int) -> None:
        code = self.decode(tokens, n_past)
        if code != 0:
            self._after_abort()
            raise EngineError(f"llama.cpp failed to evaluate the prompt (code {code})")
        self.tokens.extend(tokens)

    def reusable(self, prompt: list[int]) -> int:
        """Prompt tokens this cache can serve (after a context shift, when allowed)."""
        return reusable(self.tokens, prompt, self.allow_shift)

    def _after_abort(self) -> None:
        """Resync ``tokens`` with what llama.cpp kept after an interrupted decode."""
        # Flushes llama.cpp's queued perf count too, so the next reply's counters start clean.
        llama().llama_synchronize(self.ctx.ctx)
        kept = int(llama().llama_memory_seq_pos_max(self.ctx.memory, 0)) + 1
        kept = min(kept, len(self.tokens))
        llama().llama_memory_seq_rm(self.ctx.memory, 0, kept, -1)
        del self.tokens[kept:]

    def restore(self, states: StateCache, conversation_id: str, prompt: list[int]) -> int:
        """Load the conversation's saved state if it beats the live cache; tokens restored."""
        live = self.reusable(prompt)
        if live >= len(prompt) - 1:
            return 0
        saved = states.load(conversation_id)
        if saved is None:
            return 0
        tokens, data = saved
        usable = reusable(tokens, prompt, self.allow_shift)
        if usable <= live:
            return 0
        lc = llama()
        lc.llama_memory_seq_rm(self.ctx.memory, 0, 0, -1)
        self.tokens = []
        buf = (ctypes.c_uint8 * len(data)).from_buffer(data)
        read = int(lc.llama_state_seq_set_data(self.ctx.ctx, buf, len(data), 0))
        n_kv = int(lc.llama_memory_seq_pos_max(self.ctx.memory, 0)) + 1
        if read == 0 or n_kv != len(tokens):
            lc.llama_memory_seq_rm(self.ctx.memory, 0, 0, -1)
            states.discard(states.path(conversation_id), "llama.cpp could not load it")
            return 0
        self.tokens = list(tokens)
        return usable
