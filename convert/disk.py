"""Free-disk check before converting, with a test-only override of the free-space probe."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from convert.errors import ConvertError

# Test-only hook: pretend the output file system has this many free bytes.
FREE_BYTES_ENV = "STARLING_CONVERT_TEST_FREE_BYTES"
_MARGIN = 64 * 1024 * 1024


def free_bytes(folder: Path) -> int:
    """Free bytes on the file system holding ``folder``."""
    forced = os.environ.get(FREE_BYTES_ENV)
    if forced:
        return int(forced)
    return shutil.disk_usage(folder).free


def check_free_space(folder: Path, needed: int) -> None:
    """Raise a one-line error when ``folder``'s file system cannot hold ``needed`` bytes."""
    free = free_bytes(folder)
    if free < needed + _MARGIN:
        raise ConvertError(f"not enough free disk space in {folder}: "
                           f"need {human(needed + _MARGIN)}, {human(free)} free")


def human(n: float) -> str:
    """Bytes as a short human string (``1.4 GB``)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
