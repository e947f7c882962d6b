"""Pytest plugin: GGUF files converted from the tiny checkpoint (owned by the converter tests).

``converted_gguf(outtype)`` converts the session's ``tiny_checkpoint`` once per output type and
returns the cached path on later calls. Files live in a session temp folder, not under
``STARLING_TUI_HOME`` (that one is per test). Treat the files as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def converted_gguf(
    tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """A callable ``outtype -> Path`` converting the tiny checkpoint once per outtype."""
    from convert.api import convert_checkpoint
    from convert.outtypes import lookup

    folder = tmp_path_factory.mktemp("gguf")
    cache: dict[str, Path] = {}

    def convert(outtype: str) -> Path:
        kind = lookup(outtype)
        if kind.name not in cache:
            target = folder / f"tiny-starling-{kind.label}.gguf"
            cache[kind.name] = convert_checkpoint(tiny_checkpoint, kind.name, target, quiet=True)
        return cache[kind.name]

    return convert


@pytest.fixture(scope="session")
def starling_f16_gguf(converted_gguf: Callable[[str], Path]) -> Path:
    """The tiny Starling-shaped checkpoint as an F16 GGUF (OpenChat tokens, chat template)."""
    return converted_gguf("f16")


@pytest.fixture(scope="session")
def starling_q4km_gguf(converted_gguf: Callable[[str], Path]) -> Path:
    """The tiny Starling-shaped checkpoint as a Q4_K_M GGUF."""
    return converted_gguf("q4_k_m")
