"""Registry of model converters, keyed on the Hugging Face architecture name.

Each architecture lives in its own module that decorates its converter class with
:func:`register`; adding an architecture is adding a module and naming it in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import ConvertError

if TYPE_CHECKING:
    from .base import ModelConverter

_MODULES = (".llama",)  # relative: the package installs as starling_convert
_REGISTRY: dict[str, type[ModelConverter]] = {}


def register(cls: type[ModelConverter]) -> type[ModelConverter]:
    """Class decorator: make ``cls`` the converter for each of its ``hf_architectures``."""
    for name in cls.hf_architectures:
        _REGISTRY[name] = cls
    return cls


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module, __package__)


def supported_architectures() -> list[str]:
    """Every HF architecture name some converter handles, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def converter_for(architecture: str) -> type[ModelConverter]:
    """The converter class for ``architecture`` or a one-line error naming the supported ones."""
    _load_all()
    found = _REGISTRY.get(architecture)
    if found is None:
        raise ConvertError(f"unsupported architecture {architecture!r} "
                           f"(supported: {', '.join(supported_architectures())})")
    return found
