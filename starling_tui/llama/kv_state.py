"""Saved KV states of conversations: the file format, atomic writes, listing and the LRU budget.

After a reply the engine worker (:mod:`starling_tui.engine.worker.state_cache`) copies sequence 0
of the KV cache out of llama.cpp (``llama_state_seq_get_data``) and writes it, with the token list
it stands for, to ``<cache>/kv-states/<conversation>-<settings>.kv``. The settings digest covers
everything that changes how the prompt evaluates (model file identity, llama.cpp version, context
size, batch size, KV cache type, flash attention, GPU layers, extra buffer types), so a state is
only ever found by an engine that would have computed the very same bits.

File layout (little endian)::

    b"STKV" | u32 version | u64 header_len | header JSON | u64 n_tokens | i32 tokens[n] |
    u64 data_len | data | u32 crc32 (of everything after the magic)

Writes go through :func:`starling_tui.atomic.atomic_writer` (a temp file in the same folder,
fsynced and ``os.replace``d into place), so a crash mid-write leaves at worst a stray ``.tmp``
(never read, swept later). Reads check the
magic, version, sizes, checksum and fingerprint; anything wrong raises :class:`StateError` and
the caller discards the file. Nothing here imports llama_cpp.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_tui.atomic import atomic_writer

MAGIC = b"STKV"
VERSION = 1
SUFFIX = ".kv"
STALE_TMP_S = 600  # a .tmp older than this belongs to a writer that died
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class StateError(ValueError):
    """A state file that cannot be used (corrupt, truncated, other settings…)."""


def digest(value: Any) -> str:
    """A short stable hash of a JSON-able value."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def state_path(folder: Path, conversation_id: str, fingerprint: dict[str, Any]) -> Path:
    """Where the state of ``conversation_id`` under these settings lives."""
    return folder / f"{digest(conversation_id)}-{digest(fingerprint)}{SUFFIX}"


@dataclass(frozen=True)
class StateHeader:
    """What a state file says about itself (read without its data)."""

    path: Path
    meta: dict[str, Any]
    size: int
    last_used: float

    @property
    def n_tokens(self) -> int:
        """Tokens the state covers."""
        return int(self.meta.get("n_tokens", 0))


def write_state(
    path: Path, meta: dict[str, Any], tokens: list[int], data: Any,
    *, before_replace: Callable[[], None] | None = None,
) -> int:
    """Write a state atomically; return its size in bytes. ``data`` is a bytes-like buffer.

    ``before_replace`` runs once the whole file is in its temp file, before the rename (a
    test's fault plan dies there to prove a crash leaves no half state).
    """
    header = json.dumps({**meta, "n_tokens": len(tokens)}, sort_keys=True).encode()
    view = memoryview(data).cast("B")
    head = b"".join((_U32.pack(VERSION), _U64.pack(len(header)), header, _U64.pack(len(tokens)),
                     struct.pack(f"<{len(tokens)}i", *tokens), _U64.pack(len(view))))
    crc = zlib.crc32(view, zlib.crc32(head))
    with atomic_writer(path, binary=True) as f:
        f.write(MAGIC + head)
        f.write(view)  # the payload (hundreds of MB for a 7B model) is never copied
        f.write(_U32.pack(crc))
        if before_replace is not None:
            f.flush()
            before_replace()
    return path.stat().st_size


def _read_header(raw: Any) -> tuple[dict[str, Any], int]:
    """Parse magic, version and header JSON; return (meta, offset after the header)."""
    if len(raw) < 16 or bytes(raw[:4]) != MAGIC:
        raise StateError("not a saved state (bad magic)")
    (version,) = _U32.unpack_from(raw, 4)
    if version != VERSION:
        raise StateError(f"state format version {version} is not supported")
    (n_header,) = _U64.unpack_from(raw, 8)
    end = 16 + n_header
    if end > len(raw):
        raise StateError("truncated state header")
    try:
        meta = json.loads(bytes(raw[16:end]))
    except ValueError as exc:
        raise StateError("damaged state header") from exc
    if not isinstance(meta, dict):
        raise StateError("damaged state header")
    return meta, end


def read_state(path: Path) -> tuple[dict[str, Any], list[int], memoryview]:
    """Read and verify a whole state file: (meta, tokens, data as a writable view, no copy)."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 16:
                raise StateError("truncated state file")
            # A private copy-on-write mapping: no up-front copy of a file of hundreds of MB,
            # yet writable, as ctypes needs to hand it to llama.cpp.
            raw = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read state: {exc}") from exc
    meta, pos = _read_header(raw)
    view = memoryview(raw)
    try:
        (n_tokens,) = _U64.unpack_from(raw, pos)
        pos += 8
        tokens = list(struct.unpack_from(f"<{n_tokens}i", raw, pos))
        pos += 4 * n_tokens
        (n_data,) = _U64.unpack_from(raw, pos)
        pos += 8
    except struct.error as exc:
        raise StateError("truncated state file") from exc
    if pos + n_data + 4 != size:
        raise StateError("truncated state file" if pos + n_data + 4 > size else "state file size")
    (crc,) = _U32.unpack_from(raw, size - 4)
    if zlib.crc32(view[4 : size - 4]) != crc:
        raise StateError("state checksum mismatch (corrupt file)")
    if meta.get("n_tokens") != n_tokens:
        raise StateError("state token count mismatch")
    return meta, tokens, view[pos : pos + n_data]


def list_states(folder: Path) -> Iterator[StateHeader]:
    """Headers of the saved states in ``folder`` (unreadable files are skipped)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            st = path.stat()
            with path.open("rb") as f:
                head = f.read(16)
                if len(head) == 16:
                    head += f.read(_U64.unpack_from(head, 8)[0])
            meta, _ = _read_header(head)
        except (OSError, StateError, struct.error):
            continue
        yield StateHeader(path, meta, st.st_size, st.st_mtime)


def touch(path: Path) -> None:
    """Mark a state as just used (the LRU order is the files' modification time)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def enforce_budget(folder: Path, budget_bytes: int, keep: Path | None = None) -> list[Path]:
    """Delete least recently used states until they fit ``budget_bytes``; return those deleted."""
    if not folder.is_dir():
        return []
    now = time.time()
    for tmp in folder.glob("*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TMP_S:
                tmp.unlink()
        except OSError:
            continue
    entries = []
    for path in folder.glob(f"*{SUFFIX}"):
        try:
            st = path.stat()
        except OSError:
            continue
        entries.append((st.st_mtime, st.st_size, path))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    deleted = []
    for _, size, path in entries:
        if total <= budget_bytes:
            break
        if path == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size
        deleted.append(path)
    return deleted


def clear_states(folder: Path, conversation_id: str | None = None) -> int:
    """Delete saved states (all, or one conversation's); return how many."""
    count = 0
    prefix = f"{digest(conversation_id)}-" if conversation_id is not None else ""
    if not folder.is_dir():
        return 0
    for path in folder.glob(f"{prefix}*{SUFFIX}"):
        path.unlink(missing_ok=True)
        count += 1
    for tmp in folder.glob(f".{prefix}*.tmp"):  # atomic_writer's temp names start with "."
        tmp.unlink(missing_ok=True)
    return count
