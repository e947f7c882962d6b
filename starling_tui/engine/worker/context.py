"""Loading choices and the llama.cpp context: GPU layers, threads, batch, memory errors.

llama.cpp adjusts some requested values quietly: it lowers ``n_batch`` to a smaller requested
``n_ctx`` and then rounds ``n_ctx`` up (``--ctx 64 --batch 512`` gives a 256-token context with
a 64-token batch). :func:`create_context` therefore returns what the context really uses.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.worker.threads import govern
from starling_tui.errors import EngineError
from starling_tui.llama.backend import gpu_offload_supported, llama
from starling_tui.llama.devices import physical_cores

ALL_LAYERS = 999  # llama.cpp clamps to the model's layer count


def resolve_gpu_layers(requested: int | str) -> tuple[int, str]:
    """Layers to offload for ``auto`` | ``all`` | N, and a note saying why."""
    has_gpu = gpu_offload_supported()
    if requested in ("auto", "all"):
        if has_gpu:
            return ALL_LAYERS, f"{requested}: all layers offloaded to the GPU"
        return 0, f"{requested}: no GPU backend in this llama.cpp build, running on CPU"
    layers = int(requested)
    if layers > 0 and not has_gpu:
        return 0, f"{layers} layers requested but this llama.cpp build has no GPU backend"
    return layers, f"{layers} layers offloaded" if layers else "CPU only (0 layers offloaded)"


def default_threads() -> tuple[int, int]:
    """Decode threads (one per physical core, llama.cpp's default) and prompt threads (all CPUs)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return physical_cores(), cpus or 1


def effective_flash_attn(options: EngineOptions, n_gpu_layers: int) -> bool | None:
    """Flash attention: the user's choice, else off for a model wholly on the CPU, else
    llama.cpp's own (None: on where the GPU backend supports it).

    llama.cpp's "auto" turns it on for the CPU too, where its kernel is slower after a long
    history, for a decode step and for a short follow-up alike (``benchmarks/flash_attn_bench.py``;
    figures in benchmarks/README.md). A quantized KV cache needs it, so it stays llama.cpp's
    choice there.
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
    from llama_cpp import _internals

    lc = llama()
    threads, threads_batch = default_threads()
    cp = lc.llama_context_default_params()
    cp.n_ctx = n_ctx
    cp.n_batch = options.n_batch
    cp.n_ubatch = options.n_batch
    cp.n_seq_max = 1
    cp.n_threads = options.n_threads or threads
    cp.n_threads_batch = options.n_threads or threads_batch
    cp.no_perf = False  # llama.cpp's own counters prove KV reuse
    cp.flash_attn_type = {
        None: lc.LLAMA_FLASH_ATTN_TYPE_AUTO,
        True: lc.LLAMA_FLASH_ATTN_TYPE_ENABLED,
        False: lc.LLAMA_FLASH_ATTN_TYPE_DISABLED,
    }[effective_flash_attn(options, n_gpu_layers)]
    if options.kv_cache_type:
        cp.type_k = cp.type_v = _ggml_type(options.kv_cache_type)
    try:
        ctx = _internals.LlamaContext(model=model, params=cp, verbose=False)
    except ValueError as exc:
        raise EngineError(
            f"not enough memory for a {n_ctx}-token context with {n_gpu_layers} layers on the "
            "GPU: try a smaller --ctx or fewer --n-gpu-layers"
        ) from exc
    if not options.n_threads:  # the user's fixed count stays; else follow the free CPU
        govern(ctx, threads, threads_batch)
    # A decode bigger than the real n_batch makes llama.cpp abort (GGML_ASSERT); it splits each
    # decode into n_ubatch pieces itself, so n_batch is the one limit callers must respect.
    n_batch = options.n_batch if uncapped_batch else int(lc.llama_n_batch(ctx.ctx))
    return ctx, n_batch


def _ggml_type(name: str) -> int:
    value = getattr(llama(), f"GGML_TYPE_{name.upper()}", None)
    if value is None:
        raise EngineError(f"unknown KV cache type {name!r} (try f16 or q8_0)")
    return int(value)


def quant_name(ftype: int) -> str:
    """A llama.cpp file type as a quantization name (``Q4_K_M``…), from the one name table."""
    from starling_tui.models.file_types import file_type_name

    return file_type_name(ftype) or f"ftype {ftype}"


def load_failure(path: str, n_gpu_layers: int = 0) -> str:
    """One line saying why llama.cpp could not load ``path`` (from its recent log errors)."""
    from starling_tui.llama.backend import recent_errors

    errors = recent_errors()
    name = Path(path).name
    if any("out of memory" in e.lower() or "failed to allocate" in e.lower() for e in errors):
        # A sound file that does not fit: say how to make it fit, not that it is damaged.
        return (
            f"not enough memory to load {name} with {n_gpu_layers} layers on the GPU: "
            "try fewer --n-gpu-layers (or a smaller quantization)"
        )
    detail = next((e for e in reversed(errors) if "failed to load" not in e), "")
    why = f": {detail}" if detail else ""
    return f"llama.cpp could not load {name} (damaged, truncated or unsupported GGUF){why}"


def model_metadata(model: Any, key: str) -> str | None:
    """A GGUF metadata value of a loaded model (``LlamaModel``) as text, None when absent."""
    lc = llama()
    buf = ctypes.create_string_buffer(1 << 16)
    n = lc.llama_model_meta_val_str(model.model, key.encode(), buf, len(buf))
    if n < 0:
        return None
    if n >= len(buf):  # longer than the first buffer (a chat template can be): ask again
        buf = ctypes.create_string_buffer(n + 1)
        lc.llama_model_meta_val_str(model.model, key.encode(), buf, len(buf))
    return buf.value.decode("utf-8", "replace")
