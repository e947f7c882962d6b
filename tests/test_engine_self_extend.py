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
from checkpoint_factory import CheckpointSpec, Shape, write_checkpoint

from starling_tui.engine.base import EngineError
from starling_tui.engine.worker.self_extend import SelfExtend, check_self_extend

SE = SelfExtend(group=4, window=32)
TOKENS = [(i * 7919) % 31000 + 100 for i in range(3 * 32 + 13)]  # three grouped blocks, a tail
QUERY = 1234
SE_SMOL = SelfExtend(group=2, window=32)  # the SmolLM2 engine tests' settings


@pytest.fixture(scope="module")
def one_layer_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from convert.api import convert_checkpoint

    folder = tmp_path_factory.mktemp("one-layer")
    checkpoint = write_checkpoint(folder / "ckpt", CheckpointSpec(shape=Shape(layers=1)))
    return convert_checkpoint(checkpoint, "f32", folder / "one-layer-f32.gguf", quiet=True)


class Context:
    """A bare llama.cpp context on the one-layer model (F32 keys unless told otherwise)."""

    def __init__(self, path: Path, kv_type: str = "f32", flash: bool = False,
                 gpu_layers: int = 0) -> None:
        from llama_cpp import _internals

        from starling_tui.engine.worker.llama_backend import llama, load_model, model_params

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


def grouped_then_query(path: Path, group: Any, **kv: Any) -> np.ndarray:
    """Evaluate TOKENS block by block, grouping each full block with ``group``; then QUERY."""
    ctx = Context(path, **kv)
    try:
        start = 0
        while start < len(TOKENS):
            end = SE.chunk_end(start, len(TOKENS))
            first = SE.next_position(start)
            ctx.decode(TOKENS[start:end], list(range(first, first + end - start)))
            if end % SE.window == 0:
                group(ctx, end // SE.window - 1)
            start = end
        ctx.decode([QUERY], [SE.next_position(len(TOKENS))])
        return ctx.logits()
    finally:
        ctx.close()


def fresh_at_grouped_positions(path: Path, **kv: Any) -> np.ndarray:
    ctx = Context(path, **kv)
    try:
        n = len(TOKENS)
        ctx.decode(TOKENS, [SE.position(i, n) for i in range(n)])
        # The query alone, as after the remap: a GPU computes a batch of one by other kernels
        ctx.decode([QUERY], [SE.next_position(n)])
        return ctx.logits()
    finally:
        ctx.close()


def per_position(ctx: Context, block: int) -> None:
    SE.group_block(ctx.lc, ctx.memory, block)


def with_seq_div(ctx: Context, block: int) -> None:
    """llama.cpp's completion tool: move the block up to k·W, then divide by G."""
    base, top = block * SE.window // SE.group, block * SE.window
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
    fresh = fresh_at_grouped_positions(one_layer_gguf, **kv)
    remapped = grouped_then_query(one_layer_gguf, per_position, **kv)
    assert np.abs(remapped - fresh).max() < tolerance
    wrong = grouped_then_query(one_layer_gguf, with_seq_div, **kv)
    assert np.abs(wrong - fresh).max() > 10 * tolerance  # the sign error is visible


def test_positions_follow_the_completion_tool() -> None:
    se = SelfExtend(group=2, window=4)
    assert [se.position(i, 6) for i in range(6)] == [0, 0, 1, 1, 2, 3]
    assert se.next_position(6) == 4 and se.next_position(8) == 4
    assert [se.position(i, 8) for i in range(8)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert se.chunk_end(5, 100) == 8 and se.chunk_end(8, 9) == 9
    assert se.keepable(7, 9) == 4 and se.keepable(8, 9) == 8 and se.keepable(5, 6) == 5


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
def test_prefix_reuse_carries_the_position_map(smollm2_gguf: Path) -> None:
    """Trimming inside a grouped block, inside the tail, then growing: the same logits as
    one fresh evaluation, and llama.cpp's positions are the map's."""
    from starling_tui.engine.worker.llama_backend import llama
    from starling_tui.engine.worker.session import Session
    from starling_tui.quality.text import default_text

    reused, fresh = Session(smollm2_options(smollm2_gguf)), Session(smollm2_options(smollm2_gguf))
    try:
        ids = reused.tok.encode(default_text()[2000:5000])[:300]
        other = reused.tok.encode(" ships and the sea" * 20)
        kv, never = reused.kv, (lambda: False)
        assert kv is not None and fresh.kv is not None
        kv.eval_prompt(ids[:150], never)
        assert kv.eval_prompt(ids[:100] + other, never)[0] == 96  # 100 is inside block 3
        assert kv.eval_prompt(ids[:250], never)[0] == 96
        assert kv.eval_prompt(ids, never)[0] == 250  # inside the tail: kept as it is
        fresh.kv.eval_prompt(ids, never)
        top = int(llama().llama_memory_seq_pos_max(kv.ctx.memory, 0))
        assert kv.tokens == ids and top == SE_SMOL.position(299, 300) == 155
        assert np.abs(session_logits(reused) - session_logits(fresh)).max() < 1e-3
    finally:
        reused.close()
        fresh.close()


def session_logits(session: Any) -> np.ndarray:
    from starling_tui.engine.worker.llama_backend import llama

    ptr = llama().llama_get_logits_ith(session.kv.ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(session.model.n_vocab(),)).astype(np.float64)


@pytest.mark.slow
def test_restart_resumes_with_the_position_map(smollm2_gguf: Path, tmp_path: Path) -> None:
    from starling_tui.engine.base import ChatMessage, ChatRequest, SamplingOptions
    from starling_tui.engine.parent.process import ProcessEngine

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
