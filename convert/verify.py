"""Check a freshly written GGUF before it is moved into place.

The tensor-info table is read back from the file (names, shapes, types) with the core's one
header reader (:mod:`starling_tui.models.gguf_reader`, which skips the tokenizer arrays gguf's
``GGUFReader`` would decode first; a test checks both readers agree) and the vocabulary is
loaded by llama.cpp itself (``vocab_only``).
"""

from __future__ import annotations

import struct
from pathlib import Path

from starling_tui.models.file_types import tensor_type_name
from starling_tui.models.gguf_reader import read_gguf_header

from .architectures.base import PlannedTensor
from .errors import ConvertError


def verify_gguf(path: Path, plan: list[PlannedTensor], n_vocab: int, *, exact_types: bool) -> None:
    """Raise ConvertError when ``path`` does not hold exactly the planned tensors and vocab."""
    _check_tensors(path, plan, exact_types)
    _check_vocab(path, n_vocab)


def read_tensor_infos(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """GGUF tensor name → (row-major shape, GGML type name), read from the file's header."""
    header = read_gguf_header(path)
    infos = {}
    for tensor in header.tensors:
        type_name = tensor_type_name(tensor.type_id)
        if type_name is None:
            raise ValueError(f"unknown tensor type {tensor.type_id}")
        infos[tensor.name] = (tensor.shape, type_name)
    return infos


def _check_tensors(path: Path, plan: list[PlannedTensor], exact_types: bool) -> None:
    try:
        found = read_tensor_infos(path)
    except (OSError, ValueError, struct.error) as exc:
        raise ConvertError(f"verification failed: cannot read back the GGUF ({exc})") from None
    if set(found) != {t.gguf_name for t in plan}:
        missing = sorted({t.gguf_name for t in plan} ^ set(found))
        raise ConvertError(f"verification failed: tensors differ from the plan ({missing[:3]})")
    for t in plan:
        shape, ggml_type = found[t.gguf_name]
        if shape != t.shape:
            raise ConvertError(f"verification failed: {t.gguf_name} has shape {list(shape)}, "
                               f"expected {list(t.shape)}")
        if exact_types and ggml_type != t.ggml_type:
            raise ConvertError(f"verification failed: {t.gguf_name} is {ggml_type}, "
                               f"expected {t.ggml_type}")
        if len(t.shape) == 1 and ggml_type != "F32":
            raise ConvertError(f"verification failed: {t.gguf_name} should be F32")


def _check_vocab(path: Path, n_vocab: int) -> None:
    from starling_tui.llama.backend import load_model, model_params

    try:
        model = load_model(path, model_params(vocab_only=True))
    except ValueError:
        raise ConvertError("verification failed: llama.cpp cannot load the vocabulary") from None
    try:
        if model.n_vocab() != n_vocab:
            raise ConvertError(f"verification failed: llama.cpp sees {model.n_vocab()} tokens, "
                               f"expected {n_vocab}")
    finally:
        model.close()
