"""Creating a llama.cpp context, and the loading choices every user of llama.cpp shares.

One function makes every context (the engine's, the quality tools'): :func:`create_context`
takes plain values (:class:`ContextParams`), and when llama.cpp refuses, it says why in one
line from llama.cpp's own log (:func:`context_failure`): not enough memory, or the reason
llama.cpp gave (a quantized V cache without flash attention, for one). The engine's policy
on top (threads that follow the free CPU, flash attention on the CPU) stays in the engine.

llama.cpp adjusts some requested values quietly: it lowers ``n_batch`` to a smaller requested
``n_ctx`` and then rounds ``n_ctx`` up (``--ctx 64 --batch 512`` gives a 256-token context with
a 64-token batch). :func:`context_batch` and :func:`context_size` read what it really uses.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_tui.errors import EngineError
from starling_tui.llama.backend import (
    clear_recent_errors,
    gpu_offload_supported,
    llama,
    recent_errors,
)
from starling_tui.llama.devices import physical_cores
from starling_tui.llama.internals import new_context

ALL_LAYERS = 999  # llama.cpp clamps to the model's layer count
# What llama.cpp's log says when a buffer (weights, KV cache, compute) does not fit.
_MEMORY_WORDS = ("out of memory", "insufficient memory", "failed to allocate",
                 "unable to allocate", "cudamalloc")


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


@dataclass(frozen=True)
class ContextParams:
    """What a context is asked for (llama.cpp may round ``n_ctx`` up and lower ``n_batch``)."""

    n_ctx: int
    n_batch: int
    n_threads: int
    n_threads_batch: int
    n_ubatch: int | None = None  # None: the same as n_batch
    flash_attn: bool | None = None  # None: llama.cpp's choice (on where the backend has it)
    kv_cache_type: str | None = None  # "q8_0", "f16"… (None: llama.cpp's default, f16)
    perf_counters: bool = False  # llama.cpp's own counters (they prove KV reuse)
    cb_eval: Any = None  # ggml_backend_sched_eval_callback; the caller keeps it alive


def create_context(model: Any, params: ContextParams, n_gpu_layers: int = 0) -> Any:
    """A ``LlamaContext`` for one sequence of ``model``; :class:`EngineError` (one line, the
    reason llama.cpp logged) when llama.cpp cannot create it."""
    lc = llama()
    cp = lc.llama_context_default_params()
    cp.n_ctx = params.n_ctx
    cp.n_batch = params.n_batch
    cp.n_ubatch = params.n_batch if params.n_ubatch is None else params.n_ubatch
    cp.n_seq_max = 1
    cp.n_threads = params.n_threads
    cp.n_threads_batch = params.n_threads_batch
    cp.no_perf = not params.perf_counters
    cp.flash_attn_type = {
        None: lc.LLAMA_FLASH_ATTN_TYPE_AUTO,
        True: lc.LLAMA_FLASH_ATTN_TYPE_ENABLED,
        False: lc.LLAMA_FLASH_ATTN_TYPE_DISABLED,
    }[params.flash_attn]
    if params.kv_cache_type:
        cp.type_k = cp.type_v = ggml_type(params.kv_cache_type)
    if params.cb_eval is not None:
        cp.cb_eval = params.cb_eval
    clear_recent_errors()
    try:
        return new_context(model, cp)
    except ValueError as exc:
        raise EngineError(context_failure(params.n_ctx, n_gpu_layers, recent_errors())) from exc


def context_failure(n_ctx: int, n_gpu_layers: int, errors: list[str]) -> str:
    """One line saying why llama.cpp could not create a context, from its error log lines."""
    if not errors or any(word in e.lower() for e in errors for word in _MEMORY_WORDS):
        # No reason logged (its log is shown, not kept) or a buffer that did not fit.
        return (f"not enough memory for a {n_ctx}-token context with {n_gpu_layers} layers on "
                "the GPU: try a smaller --ctx or fewer --n-gpu-layers")
    return f"llama.cpp could not create a {n_ctx}-token context: {_reason(errors[-1])}"


def _reason(line: str) -> str:
    """An error line without the C function that logged it (``llama_init_from_model: …``)."""
    head, sep, rest = line.partition(": ")
    return rest.strip() if sep and head.isidentifier() and rest.strip() else line.strip()


def context_size(ctx: Any) -> int:
    """The context's real size in tokens (llama.cpp pads small requests up)."""
    return int(llama().llama_n_ctx(ctx.ctx))


def context_batch(ctx: Any) -> int:
    """The most tokens one decode may take in this context.

    A decode bigger than this makes llama.cpp abort (GGML_ASSERT); it splits each decode into
    ``n_ubatch`` pieces itself, so ``n_batch`` is the one limit callers must respect.
    """
    return int(llama().llama_n_batch(ctx.ctx))


def ggml_type(name: str) -> int:
    """The ggml type id of a KV cache type name (``q8_0``, ``f16``…); EngineError if unknown."""
    value = getattr(llama(), f"GGML_TYPE_{name.upper()}", None)
    if value is None:
        raise EngineError(f"unknown KV cache type {name!r} (try f16 or q8_0)")
    return int(value)


def load_failure(path: str, n_gpu_layers: int = 0) -> str:
    """One line saying why llama.cpp could not load ``path`` (from its recent log errors)."""
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
