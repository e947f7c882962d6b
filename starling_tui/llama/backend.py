"""The one place that loads models into llama.cpp (through llama-cpp-python).

Everything that opens a GGUF with llama.cpp (the engine worker, the converter's verification,
tests and benchmarks) goes through :func:`load_model`, so the workaround for the AMX crash lives
in exactly one place: on CPUs with Intel AMX, llama.cpp's AMX matmul (an "extra buffer type" used
for weight repacking) segfaults as soon as a quantized model evaluates a batch of two or more
tokens (upstream llama.cpp issue 20824). Loading with ``use_extra_bufts = false`` avoids it at no
measured decode cost, so that is the default there.

``llama_cpp`` is imported lazily: it is a heavy import and must not slow ``--help`` or startup.
"""

from __future__ import annotations

import collections
import functools
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import _internals

EXTRA_BUFTS_ENV = "STARLING_TUI_EXTRA_BUFTS"
LLAMA_LOG_ENV = "STARLING_TUI_LLAMA_LOG"  # set: llama.cpp's own log goes to stderr


@functools.cache
def cpu_has_amx() -> bool:
    """True when this CPU advertises Intel AMX tiles (Linux ``/proc/cpuinfo``)."""
    try:
        return cpuinfo_has_amx(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return False


def cpuinfo_has_amx(cpuinfo: str) -> bool:
    """True when a ``/proc/cpuinfo`` text lists the ``amx_tile`` flag."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return "amx_tile" in line.split()
    return False


def default_extra_bufts() -> bool:
    """Whether to enable llama.cpp's extra buffer types unless the user said otherwise.

    ``STARLING_TUI_EXTRA_BUFTS=1`` / ``0`` forces the choice; otherwise they are off on AMX CPUs.
    """
    forced = os.environ.get(EXTRA_BUFTS_ENV, "").strip().lower()
    if forced in {"1", "true", "yes", "on"}:
        return True
    if forced in {"0", "false", "no", "off"}:
        return False
    return not cpu_has_amx()


@functools.cache
def llama() -> Any:
    """Import llama_cpp once; its native logging is silenced unless ``STARLING_TUI_LLAMA_LOG``."""
    import llama_cpp

    if not os.environ.get(LLAMA_LOG_ENV):
        _silence_native_logs(llama_cpp)
    llama_cpp.llama_backend_init()
    return llama_cpp


_LOG_CALLBACK: Any = None  # kept alive for as long as llama.cpp may call it
_GGML_LOG_LEVEL_ERROR = 4
_RECENT_ERRORS: collections.deque[str] = collections.deque(maxlen=8)


def recent_errors() -> list[str]:
    """llama.cpp's latest error lines (kept while its logging is silenced), oldest first."""
    return list(_RECENT_ERRORS)


def clear_recent_errors() -> None:
    """Forget earlier error lines (before a load, so its message names only its own errors)."""
    _RECENT_ERRORS.clear()


def _silence_native_logs(llama_cpp: Any) -> None:
    global _LOG_CALLBACK

    @llama_cpp.llama_log_callback
    def _drop(level: int, text: bytes, user_data: Any) -> None:
        # Errors are kept so a failed load can say why in one line.
        if level == _GGML_LOG_LEVEL_ERROR and text.strip():
            _RECENT_ERRORS.append(text.decode("utf-8", "replace").strip())
        return None

    _LOG_CALLBACK = _drop
    llama_cpp.llama_log_set(_LOG_CALLBACK, None)


def watch_log(listener: Callable[[str], None]) -> None:
    """Hand every later llama.cpp log line to ``listener`` too (the converter reads a count the
    quantizer logs); the lines still go where they went before (kept errors, or stderr)."""
    global _LOG_CALLBACK
    lc = llama()
    previous = _LOG_CALLBACK

    @lc.llama_log_callback
    def _log(level: int, text: bytes, user_data: Any) -> None:
        line = text.decode("utf-8", "replace")
        listener(line)
        if previous is not None:
            previous(level, text, user_data)
        else:
            sys.stderr.write(line)

    _LOG_CALLBACK = _log
    lc.llama_log_set(_LOG_CALLBACK, None)


def library_dir() -> Path | None:
    """The folder of the native libraries llama-cpp-python ships (libllama, libggml-*), found
    without importing it; None when it is not installed."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "lib"


def gpu_offload_supported() -> bool:
    """True when this llama.cpp build has a GPU backend that can take layers."""
    return bool(llama().llama_supports_gpu_offload())


def model_params(
    *,
    n_gpu_layers: int = 0,
    use_mmap: bool = True,
    use_mlock: bool = False,
    vocab_only: bool = False,
    extra_bufts: bool | None = None,
) -> Any:
    """Build ``llama_model_params`` with the AMX-safe default for extra buffer types."""
    lc = llama()
    params = lc.llama_model_default_params()
    params.n_gpu_layers = n_gpu_layers
    params.vocab_only = vocab_only
    params.use_extra_bufts = default_extra_bufts() if extra_bufts is None else extra_bufts
    if hasattr(params, "load_mode"):
        params.load_mode = _load_mode(lc, use_mmap, use_mlock)
    else:  # older bindings: separate flags
        params.use_mmap = use_mmap
        params.use_mlock = use_mlock
    return params


def _load_mode(lc: Any, use_mmap: bool, use_mlock: bool) -> int:
    if use_mmap and use_mlock:
        return int(lc.LLAMA_LOAD_MODE_MMAP_MLOCK)
    if use_mlock:
        return int(lc.LLAMA_LOAD_MODE_MLOCK)
    if use_mmap:
        return int(lc.LLAMA_LOAD_MODE_MMAP)
    return int(lc.LLAMA_LOAD_MODE_NONE)


def load_model(path: str | os.PathLike[str], params: Any | None = None) -> _internals.LlamaModel:
    """Load a GGUF into llama.cpp; raises ``ValueError`` when llama.cpp refuses the file."""
    from starling_tui.llama.internals import new_model

    return new_model(path, params or model_params())
