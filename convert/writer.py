"""Stream tensors into a GGUF file, one block of rows at a time.

gguf's ``GGUFWriter`` writes the header, key/values and tensor infos (every tensor is
registered with ``add_tensor_info`` up front, so the writer never holds tensor data); the
tensor data is then streamed by this module straight into the writer's output file, each
tensor padded to the GGUF alignment exactly as ``GGUFWriter`` lays it out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import fastpath
from .architectures.base import PlannedTensor
from .encode import encode_block, permute_heads
from .progress import Progress
from .weights import ShardReader

BLOCK_BYTES = 32 * 1024 * 1024  # input bytes per block: large enough for fast I/O, small RSS


def write_gguf(path: Path, arch: str, add_keys: Callable[[Any], None],
               plan: list[PlannedTensor], progress: Progress) -> None:
    """Write a complete GGUF file at ``path`` (which the caller cleans up on failure)."""
    import gguf

    writer = gguf.GGUFWriter(path, arch)
    add_keys(writer)
    for t in plan:
        writer.add_tensor_info(t.gguf_name, t.shape, np.dtype(np.float32), t.nbytes,
                               raw_dtype=gguf.GGMLQuantizationType[t.ggml_type])
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        assert writer.fout is not None
        fout = writer.fout[0]
        writer.write_padding(fout, fout.tell())
        progress.start("writing", sum(t.nbytes for t in plan))
        with ShardReader() as reader:
            for t in plan:
                _write_tensor(fout, reader, t, progress)
                writer.write_padding(fout, t.nbytes)
        fout.flush()
        os.fsync(fout.fileno())  # the rename that follows must never expose unwritten data
    finally:
        writer.close()
        fastpath.release_scratch()
    progress.finish()


def _rows_per_block(t: PlannedTensor) -> int:
    ref = t.ref
    rows = max(1, BLOCK_BYTES // (ref.row_elements * ref.itemsize))
    if t.head_dim:  # the Q/K permutation works on whole heads
        rows = max(t.head_dim, rows // t.head_dim * t.head_dim)
    return min(rows, ref.rows)


def _write_tensor(fout: Any, reader: ShardReader, t: PlannedTensor, progress: Progress) -> None:
    ref = t.ref
    row_bytes = ref.row_elements * ref.itemsize
    step = _rows_per_block(t)
    buffer = fastpath.scratch("read", step * row_bytes, np.uint8)
    written = 0
    for first in range(0, ref.rows, step):
        n = min(step, ref.rows - first)
        raw = buffer[: n * row_bytes]
        reader.read_rows(ref, first, raw.data)
        if t.head_dim:
            permuted = fastpath.scratch("permuted", n * row_bytes, np.uint8)
            raw = permute_heads(raw.reshape(n, row_bytes), t.head_dim,
                                permuted.reshape(n, row_bytes)).reshape(-1)
        out = np.ascontiguousarray(encode_block(raw, ref.dtype, t.ggml_type, ref.row_elements))
        fout.write(out.data.cast("B"))
        written += out.nbytes
        progress.advance(out.nbytes)  # its observer may stop the conversion here
    if written != t.nbytes:
        raise RuntimeError(f"wrote {written} bytes for {t.gguf_name}, planned {t.nbytes}")
