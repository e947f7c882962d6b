"""Turn blocks of raw safetensors rows into the bytes of a GGUF tensor type.

Everything works on one block of whole rows at a time. The Q/K permutation llama.cpp expects
is a pure reordering of rows inside each attention head, so it is applied to raw bytes before
any conversion and blocks always hold whole heads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import fastpath


def tensor_nbytes(shape: tuple[int, ...], ggml_type: str) -> int:
    """Bytes a tensor of ``shape`` takes in the GGUF type named ``ggml_type``."""
    import gguf

    block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[ggml_type]]
    elements = int(np.prod(shape)) if shape else 1
    return elements // block * type_size


def permute_heads(rows: np.ndarray, head_dim: int, out: np.ndarray | None = None) -> np.ndarray:
    """Reorder rows within each head from HF's rotate-half layout to llama.cpp's interleaved one.

    ``rows`` is a 2-D array whose first axis holds whole heads of ``head_dim`` rows each; the
    result goes into ``out`` (same shape and dtype) when given.
    """
    n, width = rows.shape
    result = np.empty_like(rows) if out is None else out
    source = rows.reshape(n // head_dim, 2, head_dim // 2, width).swapaxes(1, 2)
    np.copyto(result.reshape(n // head_dim, head_dim // 2, 2, width), source)
    return result


def to_float32(raw: np.ndarray, src_dtype: str) -> np.ndarray:
    """Decode raw little-endian bytes of ``src_dtype`` (BF16, F16, F32) into float32."""
    if src_dtype == "F32":
        return raw.view("<f4")
    if src_dtype == "F16":
        return raw.view("<f2").astype(np.float32)
    return fastpath.bf16_to_f32(raw)  # bfloat16 is the upper half of a float32


def float32_to_bf16(values: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest even), returned as uint16 bit patterns."""
    bits = values.view(np.uint32)
    rounded = (bits.astype(np.uint64) + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def encode_block(raw: np.ndarray, src_dtype: str, dst_type: str, row_elements: int) -> Any:
    """Convert a block of whole rows (raw bytes, 1-D uint8) into bytes of ``dst_type``."""
    if dst_type == src_dtype:
        return raw  # already in the target encoding: the fastest path is a copy
    if dst_type == "F16" and src_dtype == "BF16":
        return fastpath.bf16_to_f16(raw)
    values = to_float32(raw, src_dtype)
    if dst_type == "F32":
        return values
    if dst_type == "F16":
        return fastpath.f32_to_f16(values)
    if dst_type == "BF16":
        return float32_to_bf16(values)
    if dst_type == "Q8_0":
        return fastpath.quantize_q8_0(values, row_elements)
    raise ValueError(f"cannot encode {dst_type} directly")
