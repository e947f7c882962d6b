"""Free-disk check before a pull writes anything large.

Needs are grouped by filesystem, because the Hugging Face cache and the models folder may live
on different disks, or on the same one, in which case their needs add up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from starling_tui.pull.errors import PullError

DiskUsage = Callable[[Path], int]


def human(n: float) -> str:
    """Bytes in decimal units, the way the Hub shows file sizes: ``14.5 GB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def existing_ancestor(path: Path) -> Path:
    """The nearest folder of ``path`` that exists (targets are created later)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def check_free_space(needs: dict[Path, tuple[int, str]], free: DiskUsage = _free_bytes) -> None:
    """Raise :class:`PullError` unless every filesystem has room for what lands on it.

    ``needs`` maps a target folder to (bytes, what they are for).
    """
    by_device: dict[int, list[tuple[Path, int, str]]] = {}
    for folder, (size, what) in needs.items():
        anchor = existing_ancestor(folder)
        by_device.setdefault(os.stat(anchor).st_dev, []).append((anchor, size, what))
    for entries in by_device.values():
        wanted = sum(size for _, size, _ in entries)
        available = free(entries[0][0])
        if wanted > available:
            parts = " + ".join(f"{human(size)} {what}" for _, size, what in entries if size)
            raise PullError(
                f"not enough free disk space in {entries[0][0]}: need {human(wanted)} "
                f"({parts}), {human(available)} free"
            )
