"""The llama-cpp-python releases this code is verified against, checked before llama.cpp loads.

The layer relies on parts of llama-cpp-python that carry no compatibility promise: its private
``_internals`` wrappers (:mod:`.internals`), a ctypes mirror of ggml's ``struct ggml_tensor``
(:mod:`.ggml_tensor`) and a workaround for the ``llama_memory_seq_div`` of the llama.cpp it
vendors (:mod:`.memory`). Any release may change them, so :data:`SUPPORTED` names the range the
test suite passed with; ``pyproject.toml`` declares the same range (a test keeps the two equal).
The engine worker and the converter call :func:`check_version` when they start: it reads the
installed version from the package metadata and never imports llama_cpp.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import metadata

from starling_tui.errors import EngineError

DISTRIBUTION = "llama-cpp-python"
MINIMUM = (0, 3, 36)  # the first release verified
BELOW = (0, 3, 37)  # the first release not verified yet
SUPPORTED = ">=0.3.36,<0.3.37"  # the same range, as pip writes it

_RELEASE = re.compile(r"\d+(?:\.\d+)*")


class UnsupportedLlamaVersion(EngineError):
    """llama-cpp-python is missing or outside :data:`SUPPORTED` (the message is one line)."""


def installed_version() -> str | None:
    """The installed llama-cpp-python version from its package metadata, None if absent."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def release(version: str) -> tuple[int, ...] | None:
    """The release numbers of a version (``0.3.36+cu124`` → ``(0, 3, 36)``), None if unreadable."""
    found = _RELEASE.match(version.strip().removeprefix("v"))
    return tuple(int(part) for part in found.group(0).split(".")) if found else None


def version_problem(version: str | None) -> str | None:
    """What is wrong with ``version`` of llama-cpp-python (None: it is a supported one)."""
    if version is None:
        return f"{DISTRIBUTION} is not installed (this build needs {DISTRIBUTION}{SUPPORTED})"
    numbers = release(version)
    if numbers is not None and MINIMUM <= _padded(numbers) < BELOW:
        return None
    return (f"{DISTRIBUTION} {version} is installed, but this build is verified only with "
            f"{DISTRIBUTION}{SUPPORTED}: install a version in that range")


def _padded(numbers: tuple[int, ...]) -> tuple[int, ...]:
    """``(0, 3)`` compares as ``(0, 3, 0)``, as pip compares releases."""
    width = max(len(MINIMUM), len(numbers))
    return numbers + (0,) * (width - len(numbers))


def check_version(read_version: Callable[[], str | None] = installed_version) -> None:
    """Raise :class:`UnsupportedLlamaVersion` unless the installed llama-cpp-python is in the
    supported range (``read_version`` tells the installed version; tests hand in their own)."""
    problem = version_problem(read_version())
    if problem is not None:
        raise UnsupportedLlamaVersion(problem)
