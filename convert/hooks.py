"""What a caller plugs into a conversion: the free-space probe and a progress observer.

:func:`starling_convert.api.convert_checkpoint` and :func:`starling_convert.cli.main` take a
:class:`ConvertHooks`.
The defaults are the real ones (the disk's free space, no observer); tests pass their own — a
probe that reports a nearly full disk, an observer that slows the writing down so a signal can
land mid-conversion, or one that raises ``KeyboardInterrupt`` to stop it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starling_tui.disk import FreeSpace, disk_free

# Called after each block of a phase with (phase label, bytes done, bytes in the phase). An
# exception it raises stops the conversion the way Ctrl-C does: every temp file is removed.
ProgressObserver = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ConvertHooks:
    """The probe and callbacks of one conversion (the defaults are the real ones)."""

    free_space: FreeSpace = disk_free
    observer: ProgressObserver | None = None
