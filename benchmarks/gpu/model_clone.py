"""A same-shape stand-in for a GGUF too big to carry: its header verbatim, its tensors tiled.

The device machine receives at most 64 MiB of working tree, and SmolLM2-135M Q4_1 is 94 MiB.
Speed does not depend on the weights' values, only on shapes and types, so ``pack`` keeps the
file's header bytes (metadata, tokenizer, tensor table) and the first blocks of every tensor
(all of a small one), and ``unpack`` writes a file of the same layout, each tensor filled by
repeating its stored blocks. The result loads, tokenizes and runs exactly like the original
(same kernels, same sizes); its replies are nonsense.

    python benchmarks/gpu/model_clone.py pack REAL.gguf CLONE.npz
    python benchmarks/gpu/model_clone.py unpack CLONE.npz OUT.gguf
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

KEEP_BYTES = 64 * 1024  # per tensor: enough variety, small enough to carry


def pack(real: Path, out: Path) -> None:
    """Header bytes, and each tensor's offset, size and leading bytes, into ``out`` (npz)."""
    import gguf

    reader = gguf.GGUFReader(real)
    raw = np.memmap(real, dtype=np.uint8, mode="r")
    header = np.array(raw[: reader.data_offset])
    arrays: dict[str, Any] = {"header": header, "size": np.array([raw.shape[0]], np.int64)}
    for i, tensor in enumerate(reader.tensors):
        start = int(tensor.data_offset)
        kept = raw[start : start + min(int(tensor.n_bytes), KEEP_BYTES)]
        arrays[f"t{i}"] = np.array(kept)
        arrays[f"o{i}"] = np.array([start, int(tensor.n_bytes)], dtype=np.int64)
    np.savez_compressed(out, allow_pickle=False, **arrays)


def unpack(clone: Path, out: Path) -> None:
    """Write the stand-in GGUF described by ``clone`` to ``out``."""
    data = np.load(clone)
    size = int(data["size"][0])
    result = np.zeros(size, dtype=np.uint8)
    header = data["header"]
    result[: header.shape[0]] = header
    i = 0
    while f"t{i}" in data:
        start, n_bytes = (int(x) for x in data[f"o{i}"])
        kept = data[f"t{i}"]
        repeats = -(-n_bytes // kept.shape[0])
        result[start : start + n_bytes] = np.tile(kept, repeats)[:n_bytes]
        i += 1
    tmp = out.with_name(out.name + ".tmp")
    result.tofile(tmp)
    tmp.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["pack", "unpack"])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    (pack if args.action == "pack" else unpack)(args.source, args.target)


if __name__ == "__main__":
    main()
