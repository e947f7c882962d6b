"""Fault plans: failures a test asks the worker to stage, handed in (never read from the env).

A :class:`FaultPlan` travels ``ProcessEngine(faults=...)`` → the worker's spawn arguments →
:class:`~starling_tui.engine.worker.session.Session` and the pieces it builds. The product
passes :data:`NO_FAULTS`, whose every check is a no-op. Tests use a plan to:

- die at a point (``load``, ``prompt``, ``token`` — after the first generated token — or
  ``save``, after a KV state was written to its temp file and before it is renamed into place)
  the way a llama.cpp failure would: ``abort`` (SIGABRT, like a GGML_ASSERT), ``segv`` (a real
  invalid memory read) or ``kill`` (SIGKILL, like the kernel's OOM killer);
- slow every generated token down (``token_delay`` seconds), so tests of cancellation timing
  do not depend on how busy the machine is;
- bring back an old defect on purpose (``uncapped_batch``: prompts chunked by the requested
  ``n_batch``, not llama.cpp's real one), so that llama.cpp itself aborts with a GGML_ASSERT.

The plan is a frozen dataclass of plain values, so it pickles across ``multiprocessing`` spawn.
Nothing here imports llama_cpp.
"""

from __future__ import annotations

import ctypes
import os
import signal
from dataclasses import dataclass
from typing import Literal

CrashPoint = Literal["load", "prompt", "token", "save"]
CrashHow = Literal["abort", "segv", "kill"]


@dataclass(frozen=True)
class FaultPlan:
    """Which failure to stage, if any (the default plan stages none)."""

    crash_at: CrashPoint | None = None
    crash_how: CrashHow = "abort"
    token_delay: float = 0.0  # seconds to wait after each generated token
    uncapped_batch: bool = False  # chunk prompts by the requested n_batch (llama.cpp aborts)

    def crash_point(self, point: CrashPoint) -> None:
        """Die here if this plan asks for a crash at ``point``; otherwise do nothing."""
        if self.crash_at != point:
            return
        if self.crash_how == "segv":
            ctypes.string_at(0)  # reads address 0: a genuine segmentation fault
        elif self.crash_how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            os.abort()


NO_FAULTS = FaultPlan()
