"""Self-Extend's position remap against a fresh evaluation at the remapped positions.

A one-layer model's keys depend only on their token and position (there is no earlier layer
whose attention could see other positions), so after the engine's grouping the next token's
logits must equal those of a fresh context that evaluated the same tokens directly at their
grouped positions. ``llama_memory_seq_div`` fails that test (its K-shift has a sign error in
this llama.cpp), which shows the test can tell a wrong rotation apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from starling_tui.engine.worker.positions import PositionMap
from starling_tui.engine.worker.self_extend import SelfExtend, check_self_extend
from starling_tui.errors import EngineError

SE = SelfExtend(group=4, window=32)
TOKENS = [(i * 7919) % 31000 + 100 for i in range(3 * 32 + 13)]  # three grouped blocks, a tail
QUERY = 1234
BOUNDARIES = {TOKENS[5], TOKENS[44], TOKENS[45]}  # groups are cut after these


class Context:
    """A bare llama.cpp context on the one-layer model (F32 keys unless told otherwise)."""

    def __init__(self, path: Path, kv_type: str = "f32", flash: bool = False,
                 gpu_layers: int = 0) -> None:
        from llama_cpp import _internals

        from starling_tui.llama.backend import llama, load_model, model_params

        self.lc = lc = llama()
        self.model = load_model(path, model_params(n_gpu_layers=gpu_layers))
        params = lc.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = 256
        params.n_threads = params.n_threads_batch = 2
        params.type_k = params.type_v = getattr(lc, f"GGML_TYPE_{kv_type.upper()}")
        params.flash_attn_type = (lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash
                                  else lc.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        self.ctx = _internals.LlamaContext(model=self.model, params=params, verbose=False)
        self.memory = self.ctx.memory
        self.batch = _internals.LlamaBatch(n_tokens=256, embd=0, n_seq_max=1, verbose=False)

    def decode(self, tokens: list[int], positions: list[int]) -> None:
        b = self.batch.batch
        for i, (token, pos) in enumerate(zip(tokens, positions, strict=True)):
            b.token[i], b.pos[i], b.n_seq_id[i], b.seq_id[i][0] = token, pos, 1, 0
            b.logits[i] = i == len(tokens) - 1
        b.n_tokens = len(tokens)
        assert self.lc.llama_decode(self.ctx.ctx, b) == 0

    def logits(self) -> np.ndarray:
        ptr = self.lc.llama_get_logits_ith(self.ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.model.n_vocab(),)).astype(np.float64)

    def close(self) -> None:
        self.batch.close()
        self.ctx.close()
        self.model.close()


def fresh_logits(path: Path, tokens: list[int], positions: list[int], **kv: Any) -> np.ndarray:
    """A fresh context's logits after ``tokens`` at ``positions`` (the last one decoded
    alone, as after a remap: a GPU computes a batch of one by other kernels)."""
    ctx = Context(path, **kv)
    try:
        ctx.decode(tokens[:-1], positions[:-1])
        ctx.decode(tokens[-1:], positions[-1:])
        return ctx.logits()
    finally:
        ctx.close()


class NoEdits:
    """Stands in for llama.cpp where only the map's bookkeeping is wanted."""

    def llama_memory_seq_add(self, *_args: Any) -> None:
        pass


def grouped_then_query(path: Path, seq_div: bool = False, boundary: Any = None,
                       **kv: Any) -> tuple[np.ndarray, list[int]]:
    """Evaluate TOKENS block by block, grouping each full block (the engine's per-position
    ``seq_add`` or, with ``seq_div``, the completion tool's division); then QUERY.
    Returns the logits and every token's position."""
    ctx = Context(path, **kv)
    pm = PositionMap(SE, boundary)
    try:
        while len(pm) < len(TOKENS):
            start, end = len(pm), pm.chunk_end(len(TOKENS))
            ctx.decode(TOKENS[start:end], list(range(pm.next(), pm.next() + end - start)))
            pm.grow(end - start)
            if pm.block_full() and seq_div:
                divide_block(ctx, pm.positions[pm.tail], end // SE.window - 1)
                pm.group_tail(NoEdits(), None, TOKENS)
            elif pm.block_full():
                pm.group_tail(ctx.lc, ctx.memory, TOKENS)
        ctx.decode([QUERY], [pm.next()])
        return ctx.logits(), [*pm.positions, pm.next()]
    finally:
        ctx.close()


def divide_block(ctx: Context, base: int, block: int) -> None:
    """llama.cpp's completion tool: move the block up to k·W, then divide by G."""
    top = block * SE.window
    ctx.lc.llama_memory_seq_add(ctx.memory, 0, base, base + SE.window, top - base)
    ctx.lc.llama_memory_seq_div(ctx.memory, 0, top, top + SE.window, SE.group)


@pytest.mark.slow
@pytest.mark.parametrize(("kv_type", "flash", "tolerance"),
                         # measured: 1.2e-6, 1.3e-3, 6.6e-3, 2.3e-2 (seq_div: 1.6)
                         [("f32", False, 1e-5), ("f16", False, 5e-3), ("f16", True, 2e-2),
                          ("q8_0", True, 1e-1)])
def test_remap_equals_a_fresh_evaluation_at_the_grouped_positions(
    one_layer_gguf: Path, kv_type: str, flash: bool, tolerance: float
) -> None:
    kv = {"kv_type": kv_type, "flash": flash}
    for boundary in (None, BOUNDARIES.__contains__):  # plain blocks, and groups cut short
        remapped, positions = grouped_then_query(one_layer_gguf, boundary=boundary, **kv)
        fresh = fresh_logits(one_layer_gguf, [*TOKENS, QUERY], positions, **kv)
        assert np.abs(remapped - fresh).max() < tolerance
    wrong, positions = grouped_then_query(one_layer_gguf, seq_div=True, **kv)
    fresh = fresh_logits(one_layer_gguf, [*TOKENS, QUERY], positions, **kv)
    assert np.abs(wrong - fresh).max() > 10 * tolerance  # the sign error is visible


@pytest.mark.parametrize(("g", "w", "n_ctx", "words"), [
    (0, 512, 4096, "1 \\(off\\) or more"), (4, 510, 4096, "multiple of self_extend"),
    (4, 4096, 4096, "smaller than the context"), (2, 512, 20000, "at most 15360"),
])
def test_bad_settings_are_one_line_naming_the_limit(g: int, w: int, n_ctx: int, words: str) -> None:
    with pytest.raises(EngineError, match=words) as caught:
        check_self_extend(g, w, n_ctx, 8192)
    assert "\n" not in str(caught.value)
    check_self_extend(1, 512, 100_000, 8192)  # off: no limit
    check_self_extend(2, 512, 15360, 8192)


def smollm2_options(path: Path, **changes: Any) -> Any:
    from starling_tui.engine.base import EngineOptions

    values = {"model_path": str(path), "n_ctx": 512, "n_threads": 2, "state_cache": False,
              "self_extend": 2, "self_extend_window": 32, **changes}
    return EngineOptions(**values)


@pytest.mark.slow
def test_restart_resumes_with_the_position_map(smollm2_gguf: Path, tmp_path: Path) -> None:
    from starling_tui.engine.parent.process import ProcessEngine
    from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

    opts = smollm2_options(smollm2_gguf, state_cache=True, state_cache_dir=str(tmp_path))
    messages = [ChatMessage("user", "Tell me about the sea, in three sentences.")]

    def ask(engine: ProcessEngine) -> None:
        request = ChatRequest(tuple(messages), sampling=SamplingOptions(max_tokens=40),
                              conversation_id="grouped")
        messages.append(ChatMessage("assistant", "".join(engine.generate(request))))

    for turn in range(2):
        engine = ProcessEngine()
        try:
            engine.load(opts)
            ask(engine)
            stats = engine.last_stats
            assert engine.counters()["n_p_eval"] == stats.evaluated_tokens
            if turn:  # restored past grouped blocks: only the new turn is evaluated
                assert stats.restored_tokens > 64 and stats.evaluated_tokens < 30, stats
        finally:
            engine.close()
        messages.append(ChatMessage("user", "And about rivers?"))
    bad = ProcessEngine()
    try:
        with pytest.raises(EngineError, match="multiple of self_extend"):
            bad.load(smollm2_options(smollm2_gguf, self_extend_window=33))
    finally:
        bad.close()
