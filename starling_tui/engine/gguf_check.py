"""Cheap checks of a model file in the parent process, before any worker is spawned.

llama.cpp validates GGUF files too, but a malformed file can crash it, and its messages are
written for developers. These checks give one clear line for the common mistakes: a missing
file, a git-lfs pointer instead of the weights, a file that is not GGUF at all, or one cut off
before its header ends. Deeper damage (a truncated tensor section) is left to llama.cpp in the
worker, whose load error or crash is reported just as clearly.
"""

from __future__ import annotations

import struct
from pathlib import Path

from starling_tui.engine.base import EngineError

GGUF_MAGIC = b"GGUF"
_HEADER = struct.Struct("<4sIQQ")  # magic, version, tensor count, metadata kv count
_LFS_POINTER = b"version https://git-lfs"


def check_model_file(path: str | Path) -> Path:
    """Return ``path`` resolved, or raise :class:`EngineError` saying what is wrong with it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise EngineError(f"model file not found: {p}")
    if not p.is_file():
        raise EngineError(f"model path is not a file: {p}")
    try:
        with p.open("rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise EngineError(f"cannot read model file {p}: {exc.strerror or exc}") from exc
    if head.startswith(_LFS_POINTER):
        raise EngineError(
            f"{p.name} is a git-lfs pointer, not the model weights (run `git lfs pull` "
            "or download the file itself)"
        )
    if not head.startswith(GGUF_MAGIC):
        raise EngineError(f"{p.name} is not a GGUF model file (wrong magic bytes)")
    if len(head) < _HEADER.size:
        raise EngineError(f"{p.name} is truncated: the GGUF header is incomplete")
    _, version, n_tensors, n_kv = _HEADER.unpack_from(head)
    if version not in (2, 3):
        raise EngineError(f"{p.name} has unsupported GGUF version {version}")
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise EngineError(f"{p.name} is damaged: its GGUF header is implausible")
    return p.resolve()
