"""Bare llama-cpp-python measurements for the benchmarks, each in a spawned process of its own.

The engine benchmark compares the app's engine with bare llama.cpp loops. Every bare
measurement here runs in a fresh spawned child (:func:`in_child`), never in the process that
drives the engine's workers: on a CUDA build (H200, 7B shape, all layers on the GPU), the bare
context of :func:`attention_floor` run in ``engine_bench.py``'s own process, after that process
had driven engine workers, died with SIGSEGV (exit status 139, twice, no Python traceback even
with ``-X faulthandler``), while the same call in a fresh process, and the engine's worker
itself, exited cleanly (``benchmarks/gpu/exit_check.py``, ``segv_probe.py``). The bare decode
loop had been moved into a child for the same crash before. Issue 14; see benchmarks/README.md.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BATCH = 512  # the LlamaBatch capacity: set_batch does not check it (it would overrun C arrays)


def in_child(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a fresh spawned process; its return value."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_run, args=(child, function, args))
    proc.start()
    child.close()
    try:
        result = parent.recv()
    except EOFError:
        proc.join()
        raise SystemExit(
            f"{function.__name__} died in its process (exit {proc.exitcode})") from None
    proc.join()
    return result


def _run(conn: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    conn.send(function(*args))


def bare_params(lc: Any, n_ctx: int, threads: int, gpu_layers: int, flash: bool | None) -> Any:
    """Context parameters of the bare loops: as the engine's (batch, threads, and flash
    attention as the engine resolves it: off on the CPU unless asked for)."""
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.worker.context import effective_flash_attn

    params = lc.llama_context_default_params()
    params.n_ctx = n_ctx
    params.n_batch = params.n_ubatch = BATCH
    params.n_threads = params.n_threads_batch = threads
    chosen = effective_flash_attn(EngineOptions(model_path="", flash_attn=flash), gpu_layers)
    params.flash_attn_type = {None: lc.LLAMA_FLASH_ATTN_TYPE_AUTO,
                              True: lc.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                              False: lc.LLAMA_FLASH_ATTN_TYPE_DISABLED}[chosen]
    return params


def open_bare(path: Path, n_ctx: int, threads: int, gpu_layers: int,
              flash: bool | None = None) -> Any:
    """A bare llama.cpp context on the model at ``path``, set up as the engine's would be
    (:func:`bare_params`): ``(llama, model, context, batch)``; close the context, then the
    model."""
    from llama_cpp import _internals

    from starling_tui.llama.backend import llama, load_model, model_params

    lc = llama()
    model = load_model(path, model_params(n_gpu_layers=gpu_layers))
    ctx = _internals.LlamaContext(
        model=model, params=bare_params(lc, n_ctx, threads, gpu_layers, flash), verbose=False)
    batch = _internals.LlamaBatch(n_tokens=BATCH, embd=0, n_seq_max=1, verbose=False)
    return lc, model, ctx, batch


def _evaluate(lc: Any, ctx: Any, batch: Any, tokens: list[int], pos: int) -> None:
    for start in range(0, len(tokens), BATCH):
        batch.set_batch(tokens[start : start + BATCH], pos + start, False)
        lc.llama_decode(ctx.ctx, batch.batch)


def bare_decode(path: Path, prompt: list[int], n_tokens: int, threads: int, n_ctx: int,
                gpu_layers: int, flash: bool | None) -> tuple[int, float]:
    """A bare greedy loop on the same prompt ids (run it through :func:`in_child`):
    ``llama_decode`` one token at a time, ``token_to_piece``; (tokens, tokens/s)."""
    from llama_cpp import _internals

    lc, model, ctx, batch = open_bare(path, n_ctx, threads, gpu_layers, flash)
    sampler = _internals.LlamaSampler()
    sampler.add_greedy()
    _evaluate(lc, ctx, batch, prompt, 0)
    buf = ctypes.create_string_buffer(256)
    pos, stamps = len(prompt), []
    for _ in range(n_tokens):
        token = sampler.sample(ctx, -1)
        if lc.llama_vocab_is_eog(model.vocab, token):
            break
        lc.llama_token_to_piece(model.vocab, token, buf, 256, 0, False)
        stamps.append(time.perf_counter())
        batch.set_batch([token], pos, False)
        lc.llama_decode(ctx.ctx, batch.batch)
        pos += 1
    sampler.close()
    ctx.close()
    model.close()
    return len(stamps), (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9)


def timed_decode(lc: Any, ctx: Any, batch: Any, tokens: list[int], pos: int, runs: int) -> float:
    """Median seconds to decode ``tokens`` at ``pos`` (the cache beyond ``pos`` dropped first)."""
    times = []
    for _ in range(runs):
        lc.llama_memory_seq_rm(ctx.memory, 0, pos, -1)
        began = time.perf_counter()
        _evaluate(lc, ctx, batch, tokens, pos)
        lc.llama_synchronize(ctx.ctx)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def attention_floor(path: Path, threads: int, n_past: int, n_new: int, gpu_layers: int,
                    flash: bool | None) -> float:
    """Bare llama.cpp: time to evaluate ``n_new`` tokens after ``n_past`` vs after none
    (run it through :func:`in_child`).

    However well the KV cache is reused, the new tokens attend to the whole history; for a
    tiny model that attention costs as much as its matmuls. This ratio is llama.cpp's own
    floor for the reused/empty comparison.
    """
    lc, model, ctx, batch = open_bare(path, 4096, threads, gpu_layers, flash)
    tokens = [100 + (i * 7) % 20000 for i in range(n_past + n_new)]
    _evaluate(lc, ctx, batch, tokens[:n_past], 0)
    new = tokens[n_past : n_past + n_new]
    # after the history first: measuring "after none" drops the history from the cache
    times = {label: timed_decode(lc, ctx, batch, new, pos, 3)
             for label, pos in (("long", n_past), ("short", 0))}
    ctx.close()
    model.close()
    return times["long"] / times["short"]
