"""Numeric kernels for the hot loop, in numpy (a faster ggml-backed path may replace these)."""

from __future__ import annotations

import numpy as np


def bf16_to_f16(raw: np.ndarray) -> np.ndarray:
    """bfloat16 bytes → float16 values."""
    wide = np.empty(raw.size // 2, dtype=np.uint32)
    np.left_shift(raw.view("<u2"), 16, out=wide, dtype=np.uint32)
    return f32_to_f16(wide.view(np.float32))


def f32_to_f16(values: np.ndarray) -> np.ndarray:
    """float32 → float16 (round to nearest even, overflow to inf like every other converter)."""
    out = np.empty(values.size, dtype=np.float16)
    np.copyto(out, values.reshape(-1), casting="unsafe")
    return out


def quantize_q8_0(values: np.ndarray, row_elements: int) -> np.ndarray:
    """float32 rows → Q8_0 blocks, using the gguf package's reference quantizer."""
    import gguf

    rows = values.reshape(-1, row_elements)
    return gguf.quants.quantize(rows, gguf.GGMLQuantizationType.Q8_0)
