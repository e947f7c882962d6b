"""Test-only crash injection for the worker process.

Setting ``STARLING_TUI_TEST_CRASH=<point>:<how>`` in the environment makes the worker die at
``point`` (``load``, ``prompt`` or ``token`` — after the first generated token) the way a
llama.cpp failure would: ``abort`` (SIGABRT, like a GGML_ASSERT), ``segv`` (a real invalid
memory read) or ``kill`` (SIGKILL, like the kernel's OOM killer). Tests use it to prove that
the parent survives and reports :class:`~starling_tui.engine.base.EngineCrashed`.

``STARLING_TUI_TEST_TOKEN_DELAY=<seconds>`` slows every generated token down, so tests of
cancellation timing do not depend on how busy the machine is.

``STARLING_TUI_TEST_UNCAPPED_BATCH=1`` brings back an old defect on purpose (see
:func:`uncapped_batch`) so that llama.cpp itself aborts.
"""

from __future__ import annotations

import ctypes
import os
import signal

CRASH_ENV = "STARLING_TUI_TEST_CRASH"
DELAY_ENV = "STARLING_TUI_TEST_TOKEN_DELAY"
UNCAPPED_BATCH_ENV = "STARLING_TUI_TEST_UNCAPPED_BATCH"


def uncapped_batch() -> bool:
    """Whether a test asks to chunk prompts by the requested ``n_batch``, not llama.cpp's.

    That is the old defect: a chunk above the context's real batch makes llama.cpp abort with
    a ``GGML_ASSERT`` — a genuine llama.cpp crash for tests of how crashes are reported.
    """
    return os.environ.get(UNCAPPED_BATCH_ENV, "") == "1"


def token_delay() -> float:
    """Seconds to wait after each generated token (0 unless a test asks)."""
    try:
        return max(float(os.environ.get(DELAY_ENV, "0") or 0), 0.0)
    except ValueError:
        return 0.0


def crash_point(point: str) -> None:
    """Die here if the environment asks for a crash at ``point``; otherwise do nothing."""
    spec = os.environ.get(CRASH_ENV, "")
    if not spec:
        return
    where, _, how = spec.partition(":")
    if where != point:
        return
    if how == "segv":
        ctypes.string_at(0)  # reads address 0: a genuine segmentation fault
    elif how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        os.abort()
