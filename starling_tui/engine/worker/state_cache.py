"""Per-conversation KV state save/restore inside the worker (the llama.cpp side of resuming).

``restore`` runs before a prompt is evaluated: if the conversation has a saved state made
under identical settings and it shares a longer prefix with the new prompt than the live KV
cache does, the state is loaded into sequence 0 (``llama_state_seq_set_data``) and only the
rest of the prompt is evaluated. ``save`` runs after a completed reply, once the caller already
has it: the state is copied out of llama.cpp (fast, in memory) and written by a background
thread, so the next request never waits for the disk. Bad files are deleted with a log line.
"""

from __future__ import annotations

import ctypes
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.worker.context import effective_flash_attn
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.llama.backend import default_extra_bufts, llama
from starling_tui.llama.kv_state import (
    StateError,
    enforce_budget,
    read_state,
    state_path,
    touch,
    write_state,
)

log = logging.getLogger("starling_tui.engine.state")


def default_state_dir() -> Path:
    """``app_paths().state_cache_dir``."""
    from starling_tui.paths import app_paths

    return app_paths().state_cache_dir


def fingerprint(options: EngineOptions, n_ctx: int, n_gpu_layers: int) -> dict[str, Any]:
    """Everything that changes the bits of an evaluated prompt."""
    st = os.stat(options.model_path)
    extend = {"self_extend": [options.self_extend, options.self_extend_window]}
    return ({} if options.self_extend == 1 else extend) | {
        "model": os.path.realpath(options.model_path),
        "model_size": st.st_size,
        "model_mtime_ns": st.st_mtime_ns,
        "llama_cpp": str(getattr(llama(), "__version__", "?")),
        "n_ctx": n_ctx,
        "n_batch": options.n_batch,
        "kv_cache_type": options.kv_cache_type or "f16",
        "flash_attn": effective_flash_attn(options, n_gpu_layers),
        "n_gpu_layers": n_gpu_layers,
        "extra_bufts": (
            default_extra_bufts() if options.extra_bufts is None else options.extra_bufts
        ),
    }


class StateCache:
    """Saved states for one loaded model and context."""

    def __init__(
        self, options: EngineOptions, n_ctx: int, n_gpu_layers: int, faults: FaultPlan = NO_FAULTS
    ) -> None:
        self.faults = faults
        custom = options.state_cache_dir
        self.folder = Path(custom) if custom else default_state_dir()
        self.budget = options.state_cache_budget_mb * 1024 * 1024
        self.fingerprint = fingerprint(options, n_ctx, n_gpu_layers)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kv-save")
        self._pending: Future[Any] | None = None

    def path(self, conversation_id: str) -> Path:
        """The state file of a conversation under this model and these settings."""
        return state_path(self.folder, conversation_id, self.fingerprint)

    def flush(self) -> None:
        """Wait for a pending background save (before reading the same files)."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def load(self, conversation_id: str) -> tuple[list[int], dict[str, Any], memoryview] | None:
        """The saved tokens, header and state data, or None (bad files are discarded, logged)."""
        self.flush()
        path = self.path(conversation_id)
        if not path.exists():
            return None
        try:
            meta, tokens, data = read_state(path)
            if meta.get("fingerprint") != self.fingerprint:
                raise StateError("saved under other settings")
            if meta.get("conversation_id") != conversation_id:
                raise StateError("belongs to another conversation")
        except StateError as exc:
            self.discard(path, str(exc))
            return None
        touch(path)
        return tokens, meta, data

    def discard(self, path: Path, why: str) -> None:
        """Delete an unusable state file, saying why."""
        log.warning("discarded saved state %s: %s", path.name, why)
        path.unlink(missing_ok=True)

    def save(self, ctx: Any, conversation_id: str, tokens: list[int], model_name: str,
             extra: dict[str, Any] | None = None) -> None:
        """Copy sequence 0 out of llama.cpp now; write it to disk in the background.

        ``extra``: more header fields (the position map, with Self-Extend)."""
        lc = llama()
        size = int(lc.llama_state_seq_get_size(ctx, 0))
        if size <= 0 or size > self.budget:
            return
        buf = (ctypes.c_uint8 * size)()
        written = int(lc.llama_state_seq_get_data(ctx, buf, size, 0))
        if written <= 0:
            log.warning("llama.cpp could not copy the KV state; not saved")
            return
        meta = {**(extra or {}), "conversation_id": conversation_id,
                "fingerprint": self.fingerprint, "model_name": model_name}
        path = self.path(conversation_id)
        self.flush()
        self._pending = self._writer.submit(self._write, path, meta, list(tokens),
                                            memoryview(buf)[:written])

    def _write(self, path: Path, meta: dict[str, Any], tokens: list[int], data: Any) -> None:
        try:
            write_state(path, meta, tokens, data,
                        before_replace=lambda: self.faults.crash_point("save"))
            enforce_budget(self.folder, self.budget, keep=path)
        except OSError as exc:
            log.warning("could not save the KV state to %s: %s", path.parent, exc)

    def close(self) -> None:
        """Finish pending writes."""
        self._writer.shutdown(wait=True)
