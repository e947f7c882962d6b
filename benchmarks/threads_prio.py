"""A bare llama.cpp loop with a ggml threadpool of chosen priority, bound through ctypes.

llama-cpp-python 0.3.36 does not bind ``ggml_threadpool_new`` or ``llama_attach_threadpool``
(its sources mark them TODO), so this declares them: ``ggml_threadpool_params`` (cpumask of
GGML_MAX_N_THREADS = 512 bools, n_threads, prio, poll, strict_cpu, paused) from libggml-cpu and
the attach call from libllama. Used by ``threads_bench.py`` for its priority rows; runs in a
spawned child so a failure (or a scheduler policy) never reaches the benchmark itself.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import time
from pathlib import Path
from typing import Any

GGML_MAX_N_THREADS = 512
PRIO_HIGH = 2  # enum ggml_sched_priority: LOW=-1, NORMAL=0, MEDIUM=1, HIGH=2, REALTIME=3


class ThreadpoolParams(ctypes.Structure):
    _fields_ = [("cpumask", ctypes.c_bool * GGML_MAX_N_THREADS), ("n_threads", ctypes.c_int),
                ("prio", ctypes.c_int), ("poll", ctypes.c_uint32),
                ("strict_cpu", ctypes.c_bool), ("paused", ctypes.c_bool)]


def _libs() -> tuple[Any, Any]:
    """(libggml-cpu, libllama) as llama_cpp loaded them."""
    import llama_cpp

    llama_lib = llama_cpp.llama_cpp._lib
    folder = Path(llama_lib._name).parent
    cpu = ctypes.CDLL(str(folder / "libggml-cpu.so"))
    cpu.ggml_threadpool_params_default.restype = ThreadpoolParams
    cpu.ggml_threadpool_params_default.argtypes = [ctypes.c_int]
    cpu.ggml_threadpool_new.restype = ctypes.c_void_p
    cpu.ggml_threadpool_new.argtypes = [ctypes.POINTER(ThreadpoolParams)]
    llama_lib.llama_attach_threadpool.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                  ctypes.c_void_p]
    llama_lib.llama_attach_threadpool.restype = None
    llama_lib.llama_detach_threadpool.argtypes = [ctypes.c_void_p]
    llama_lib.llama_detach_threadpool.restype = None
    cpu.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
    cpu.ggml_threadpool_free.restype = None
    return cpu, llama_lib


def bare_speeds(path: Path, threads: int, prompt_tokens: int, tokens: int, limit_s: float,
                prio: int = PRIO_HIGH, poll: int = 0) -> tuple[float, float]:
    """(prompt tok/s, decode tok/s) of a bare greedy loop with an attached threadpool."""
    from llama_cpp import _internals

    from starling_tui.llama.backend import llama, load_model, model_params

    lc = llama()
    model = load_model(path, model_params())
    params = lc.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = 1024, 512, 512
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_DISABLED  # the engine's CPU default
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    cpu, llama_lib = _libs()
    tpp = cpu.ggml_threadpool_params_default(threads)
    tpp.prio, tpp.poll = prio, poll
    pool = cpu.ggml_threadpool_new(ctypes.byref(tpp))
    llama_lib.llama_attach_threadpool(ctx.ctx, pool, pool)
    batch = _internals.LlamaBatch(n_tokens=512, embd=0, n_seq_max=1, verbose=False)
    prompt = model.tokenize(("Note: " + "the quick brown fox " * prompt_tokens).encode(),
                            True, False)[:prompt_tokens]
    start = time.perf_counter()
    batch.set_batch(prompt, 0, True)
    lc.llama_decode(ctx.ctx, batch.batch)
    prompt_speed = len(prompt) / (time.perf_counter() - start)
    sampler = _internals.LlamaSampler()
    sampler.add_greedy()
    pos, stamps = len(prompt), [time.perf_counter()]
    while len(stamps) <= tokens and stamps[-1] - stamps[0] < limit_s:
        token = sampler.sample(ctx, -1)
        batch.set_batch([token], pos, True)
        lc.llama_decode(ctx.ctx, batch.batch)
        pos += 1
        stamps.append(time.perf_counter())
    llama_lib.llama_detach_threadpool(ctx.ctx)
    sampler.close()
    ctx.close()
    cpu.ggml_threadpool_free(pool)
    model.close()
    return prompt_speed, (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _child(conn: Any, args: tuple[Any, ...]) -> None:
    conn.send(bare_speeds(*args))


def prio_child(path: Path, threads: int, prompt_tokens: int, tokens: int,
               limit_s: float) -> tuple[float, float]:
    """:func:`bare_speeds` in a spawned process; (0, 0) if it failed."""
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    proc = mp.Process(target=_child, args=(child, (path, threads, prompt_tokens, tokens,
                                                   limit_s)))
    proc.start()
    result = parent.recv() if parent.poll(limit_s + 120) else (0.0, 0.0)
    proc.join(10)
    if proc.is_alive():
        proc.kill()
    return result
