"""The one table of GGUF file-type names: gguf-py's ``LlamaFileType``, without its prefixes.

``general.file_type`` holds a llama.cpp ``LLAMA_FTYPE`` number; people know the names
(``Q4_K_M``, ``F16``). The engine's status line and ``models`` listings both name files this way.
"""

from __future__ import annotations


def file_type_name(file_type: int) -> str | None:
    """``"Q4_K_M"``, ``"F32"``…, or None when gguf-py does not know the number."""
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(file_type).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def tensor_type_name(type_id: int) -> str | None:
    """A GGML tensor type's name (``"Q4_K"``, ``"F32"``…), or None for an unknown number."""
    from gguf.constants import GGMLQuantizationType

    try:
        return GGMLQuantizationType(type_id).name
    except ValueError:
        return None
