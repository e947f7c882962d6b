"""Context shift, prefix reuse and restore with Self-Extend, checked exactly against llama.cpp.

On the one-layer F32 model keys depend only on their token and position, so after any chain of
edits — groupings, a trim inside a grouped block, a context shift, a saved state loaded by a
new engine — the next token's logits must equal a fresh context's that decoded the same tokens
directly at the positions the engine's map records. A wrong map, a wrong rotation or keys left
behind by a removal would show as a difference of order one (``seq_div``'s error is 1.6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_engine_self_extend import fresh_logits

from starling_tui.engine.base import EngineOptions

pytestmark = pytest.mark.slow

GPU_LAYERS = 0  # benchmarks/gpu/self_extend_gpu.py runs these with every layer offloaded
TOLERANCE = 1e-4  # F32 keys on the CPU: ~1e-6 measured
BOS, EOT, QUERY = 1, 32000, 1234
HEADER = [7000, 7001, 7002]  # every turn starts with it, right after an end-of-turn


def never() -> bool:
    """An evaluation nobody cancels."""
    return False


def content(seed: int, n: int) -> list[int]:
    """``n`` ordinary token ids, different for each seed."""
    return [(seed * 7919 + i * 104729) % 30000 + 200 for i in range(n)]


SYSTEM = [BOS, *content(0, 21), EOT]
TURNS = [[*HEADER, *content(i, 25), EOT] for i in range(1, 8)]


def prompt(first: int, last: int) -> list[int]:
    """The system prompt and turns ``first..last`` (1-based, inclusive)."""
    return SYSTEM + [t for turn in TURNS[first - 1 : last] for t in turn]


def options(path: Path, **changes: Any) -> EngineOptions:
    values = {"model_path": str(path), "n_ctx": 512, "n_threads": 2, "state_cache": False,
              "self_extend": 4, "self_extend_window": 32, "kv_cache_type": "f32",
              "flash_attn": False, "n_gpu_layers": GPU_LAYERS, "context_overflow": "shift",
              **changes}
    return EngineOptions(**values)  # type: ignore[arg-type]


def session(path: Path, **changes: Any) -> Any:
    from starling_tui.engine.worker.session import Session

    return Session(options(path, **changes))


def assert_exact(s: Any, path: Path) -> None:
    """Decode QUERY after the cache; its logits equal a fresh evaluation at the map's positions."""
    from starling_tui.llama.backend import llama

    kv = s.kv
    tokens, positions = [*kv.tokens, QUERY], [*kv.map.positions, kv.map.next()]
    kv.append(QUERY)
    ptr = llama().llama_get_logits_ith(kv.ctx.ctx, -1)
    got = np.ctypeslib.as_array(ptr, shape=(s.model.n_vocab(),)).astype(np.float64)
    want = fresh_logits(path, tokens, positions, kv_type="f32", gpu_layers=GPU_LAYERS)
    diff = float(np.abs(got - want).max())
    assert diff < TOLERANCE, f"max |Δlogit| {diff:.2e}"
    assert int(llama().llama_memory_seq_pos_max(kv.ctx.memory, 0)) == kv.map.last()


def test_a_shift_with_self_extend_evaluates_only_the_new_turn(one_layer_gguf: Path) -> None:
    s = session(one_layer_gguf)
    try:
        kv = s.kv
        kv.eval_prompt(prompt(1, 4), never)
        assert kv.map.tail > 0  # blocks were grouped
        assert_exact(s, one_layer_gguf)
        follow_up = prompt(3, 5)  # turns 1 and 2 left out
        reused, _ = kv.eval_prompt(follow_up, never)
        assert reused == len(prompt(3, 4)), "the cache was shifted, not re-evaluated"
        assert kv.tokens == follow_up
        assert_exact(s, one_layer_gguf)
    finally:
        s.close()


def test_reuse_inside_a_grouped_block_cuts_at_its_start(one_layer_gguf: Path) -> None:
    s = session(one_layer_gguf)
    try:
        kv = s.kv
        kv.eval_prompt(prompt(1, 4), never)
        edited = prompt(1, 2)[:-5] + content(99, 40)  # an edit inside the grouped region
        reused, _ = kv.eval_prompt(edited, never)
        assert reused == (len(prompt(1, 2)) - 5) // 32 * 32  # the start of its block (W 32)
        assert_exact(s, one_layer_gguf)
    finally:
        s.close()


def test_a_restored_shifted_state_carries_its_map(one_layer_gguf: Path, tmp_path: Path) -> None:
    first = session(one_layer_gguf, state_cache=True, state_cache_dir=str(tmp_path))
    try:
        kv = first.kv
        kv.eval_prompt(prompt(1, 4), never)
        kv.eval_prompt(prompt(3, 5), never)  # shifted
        kv.settle()
        first.states.save(kv.ctx.ctx, "c", kv.tokens, "one-layer", kv.saved_meta())
        saved_positions = list(kv.map.positions)
    finally:
        first.close()
    second = session(one_layer_gguf, state_cache=True, state_cache_dir=str(tmp_path))
    try:
        kv = second.kv
        follow_up = prompt(3, 6)
        restored = kv.restore(second.states, "c", follow_up)
        assert restored == len(prompt(3, 5)) and kv.map.positions == saved_positions
        reused, _ = kv.eval_prompt(follow_up, never)
        assert reused == restored
        assert_exact(second, one_layer_gguf)
    finally:
        second.close()
