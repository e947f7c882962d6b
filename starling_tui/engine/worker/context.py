"""The engine's choices for its llama.cpp context: flash attention, threads, the real batch.

The context itself is made by :func:`starling_tui.llama.context.create_context`; the engine
adds its policy: flash attention off on the CPU, thread counts that follow the free CPU
(:mod:`.threads`) unless the user fixed them, and the batch size llama.cpp really chose.
"""

from __future__ import annotations

from typing import Any

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.worker.threads import govern
from starling_tui.llama.context import ContextParams, context_batch, default_threads
from starling_tui.llama.context import create_context as create_llama_context


def effective_flash_attn(options: EngineOptions, n_gpu_layers: int) -> bool | None:
    """Flash attention: the user's choice, else off for a model wholly on the CPU, else
    llama.cpp's own (None: on where the GPU backend supports it).

    llama.cpp's "auto" turns it on for the CPU too, where its kernel is slower
    (``benchmarks/flash_attn_bench.py``; the figures are in benchmarks/README.md). A quantized
    KV cache needs it, so it stays llama.cpp's choice there.
    """
    if options.flash_attn is not None:
        return options.flash_attn
    if n_gpu_layers == 0 and not options.kv_cache_type:
        return False
    return None


def create_context(
    model: Any, options: EngineOptions, n_ctx: int, n_gpu_layers: int, *,
    uncapped_batch: bool = False,
) -> tuple[Any, int]:
    """A ``LlamaContext`` for one sequence, and the batch size llama.cpp really chose.

    ``uncapped_batch`` (a test's fault plan only) returns the requested batch instead.
    """
    threads, threads_batch = default_threads()
    params = ContextParams(
        n_ctx=n_ctx,
        n_batch=options.n_batch,
        n_threads=options.n_threads or threads,
        n_threads_batch=options.n_threads or threads_batch,
        flash_attn=effective_flash_attn(options, n_gpu_layers),
        kv_cache_type=options.kv_cache_type,
        perf_counters=True,  # llama.cpp's own counters prove KV reuse
    )
    ctx = create_llama_context(model, params, n_gpu_layers)
    if not options.n_threads:  # the user's fixed count stays; else follow the free CPU
        govern(ctx, threads, threads_batch)
    return ctx, options.n_batch if uncapped_batch else context_batch(ctx)


def quant_name(ftype: int) -> str:
    """A llama.cpp file type as a quantization name (``Q4_K_M``…), from the one name table."""
    from starling_tui.models.file_types import file_type_name

    return file_type_name(ftype) or f"ftype {ftype}"
