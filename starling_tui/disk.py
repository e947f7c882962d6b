"""The one free-disk check, used by ``pull`` and by the converter before anything large is written.

Needs are grouped by file system, because the Hugging Face cache, the models folder and a
converter's output may live on different disks — or on the same one, where their needs add up.
The free-space probe is a parameter (:data:`FreeSpace`): callers pass :func:`disk_free`, tests
pass their own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from starling_tui.errors import UserError

FreeSpace = Callable[[Path], int]  # bytes free on the file system holding an existing folder


class DiskSpaceError(UserError):
    """Not enough free disk space for what is about to be written."""


def human(n: float) -> str:
    """Bytes in decimal units, the way the Hub shows file sizes: ``14.5 GB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def existing_ancestor(path: Path) -> Path:
    """The nearest folder of ``path`` that exists (targets are often created later)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_free(folder: Path) -> int:
    """Free bytes on the file system holding ``folder`` (the real probe)."""
    return shutil.disk_usage(folder).free


def check_free_space(
    needs: Mapping[Path, tuple[int, str]], free: FreeSpace = disk_free, *, margin: int = 0
) -> None:
    """Raise :class:`DiskSpaceError` unless every file system has room for what lands on it.

    ``needs`` maps a target folder (which may not exist yet) to (bytes, what they are for:
    "to download", or "" to leave it unnamed). ``margin`` bytes are added per file system.
    """
    by_device: dict[int, list[tuple[Path, int, str]]] = {}
    for folder, (size, what) in needs.items():
        anchor = existing_ancestor(folder)
        by_device.setdefault(os.stat(anchor).st_dev, []).append((anchor, size, what))
    for entries in by_device.values():
        wanted = sum(size for _, size, _ in entries) + margin
        available = free(entries[0][0])
        if wanted > available:
            named = [(size, what) for _, size, what in entries if size and what]
            parts = " + ".join(f"{human(size)} {what}" for size, what in named)
            detail = f" ({parts})" if parts else ""
            raise DiskSpaceError(
                f"not enough free disk space in {entries[0][0]}: need {human(wanted)}{detail}, "
                f"{human(available)} free"
            )
