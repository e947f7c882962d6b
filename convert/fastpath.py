"""Numeric kernels for the hot loop: ggml's own SIMD routines when available, numpy otherwise.

llama-cpp-python ships ggml's shared libraries; their exported row converters
(``ggml_cpu_bf16_to_fp32``, ``ggml_cpu_fp32_to_fp16``) and ``ggml_quantize_chunk`` are several
times faster than the equivalent numpy casts, which matters on a 14 GB checkpoint. Results are
bit-identical to the numpy fallbacks (round-to-nearest-even casts, gguf's reference Q8_0).
Scratch buffers are reused between blocks so the converter's memory stays flat.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any

import numpy as np

_GGML_TYPE_Q8_0 = 8
_LIB_SUFFIX = {"darwin": ".dylib", "win32": ".dll"}.get(sys.platform, ".so")
_scratch: dict[str, np.ndarray] = {}


def scratch(key: str, count: int, dtype: Any) -> np.ndarray:
    """A reusable 1-D buffer of ``count`` items for ``key`` (grown, never shrunk)."""
    dtype = np.dtype(dtype)
    buffer = _scratch.get(key)
    if buffer is None or buffer.nbytes < count * dtype.itemsize:
        buffer = _scratch[key] = np.empty(count * dtype.itemsize, dtype=np.uint8)
    return buffer[: count * dtype.itemsize].view(dtype)


def release_scratch() -> None:
    """Free the scratch buffers (a long-lived process should not keep ~150 MB around)."""
    _scratch.clear()


@functools.cache
def _ggml() -> tuple[Any, Any] | None:
    """(libggml-base, libggml-cpu) from the installed llama-cpp-python, or None."""
    from starling_tui.llama.backend import library_dir

    lib = library_dir()
    if lib is None:
        return None
    prefix = "" if sys.platform == "win32" else "lib"
    try:
        base = ctypes.CDLL(str(lib / f"{prefix}ggml-base{_LIB_SUFFIX}"))
        cpu = ctypes.CDLL(str(lib / f"{prefix}ggml-cpu{_LIB_SUFFIX}"))
        cpu.ggml_cpu_init.restype = None
        cpu.ggml_cpu_init()
        for name in ("ggml_cpu_bf16_to_fp32", "ggml_cpu_fp32_to_fp16"):
            getattr(cpu, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
            getattr(cpu, name).restype = None
        base.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                             ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                             ctypes.c_void_p]
        base.ggml_quantize_chunk.restype = ctypes.c_size_t
    except (OSError, AttributeError):
        return None
    return base, cpu


def bf16_to_f32(raw: np.ndarray, key: str = "f32") -> np.ndarray:
    """bfloat16 bytes → float32 values (a reused scratch buffer)."""
    n = raw.size // 2
    out = scratch(key, n, np.float32)
    libs = _ggml()
    if libs is not None:
        libs[1].ggml_cpu_bf16_to_fp32(raw.ctypes.data, out.ctypes.data, n)
    else:
        np.left_shift(raw.view("<u2"), 16, out=out.view(np.uint32), dtype=np.uint32)
    return out


def bf16_to_f16(raw: np.ndarray) -> np.ndarray:
    """bfloat16 bytes → float16 values."""
    return f32_to_f16(bf16_to_f32(raw))


def f32_to_f16(values: np.ndarray) -> np.ndarray:
    """float32 → float16 (round to nearest even, overflow to inf like every other converter)."""
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    out = scratch("f16", values.size, np.float16)
    libs = _ggml()
    if libs is not None:
        libs[1].ggml_cpu_fp32_to_fp16(values.ctypes.data, out.ctypes.data, values.size)
    else:
        with np.errstate(over="ignore"):  # values beyond float16 become inf, as in ggml
            np.copyto(out, values, casting="unsafe")
    return out


def quantize_q8_0(values: np.ndarray, row_elements: int) -> np.ndarray:
    """float32 rows → Q8_0 blocks (ggml's reference quantizer, same bytes as gguf's numpy one)."""
    rows = np.ascontiguousarray(values, dtype=np.float32).reshape(-1, row_elements)
    libs = _ggml()
    if libs is None:
        import gguf

        return gguf.quants.quantize(rows, gguf.GGMLQuantizationType.Q8_0)
    out = scratch("q8_0", rows.shape[0] * row_elements // 32 * 34, np.uint8)
    written = libs[0].ggml_quantize_chunk(_GGML_TYPE_Q8_0, rows.ctypes.data, out.ctypes.data,
                                          0, rows.shape[0], row_elements, None)
    assert written == out.nbytes
    return out
