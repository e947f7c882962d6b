"""What this machine offers, read when a setting is checked: logical CPU cores, free memory.

The settings table bounds ``threads`` by :func:`logical_cores`, and the load-time check of the
context size (:mod:`starling_tui.models.capacity`) compares the KV cache with
:func:`available_memory`. Both are read when asked, never at import, so a changed CPU affinity
(``taskset``) or memory use is seen.
"""

from __future__ import annotations

import os
from pathlib import Path

MEMINFO = Path("/proc/meminfo")


def logical_cores() -> int:
    """The logical CPU cores this process may run on (its affinity mask where known)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def available_memory(meminfo: Path = MEMINFO) -> int | None:
    """Bytes of memory a new allocation can get without swapping (Linux ``MemAvailable``);
    None where the system does not say."""
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
