"""Check a freshly written GGUF before it is moved into place.

The tensor-info table is read back from the file (names, shapes, types) and the vocabulary is
loaded by llama.cpp itself (``vocab_only``). The table is parsed here rather than with gguf's
``GGUFReader``, which decodes every key/value (32k tokens three times over: seconds per file)
before it reaches the tensors; a test checks both readers agree.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from convert.architectures.base import PlannedTensor
from convert.errors import ConvertError

_GGUF_MAGIC = b"GGUF"
# GGUF value types: sizes of the fixed-width ones (8 = string, 9 = array)
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def verify_gguf(path: Path, plan: list[PlannedTensor], n_vocab: int, *, exact_types: bool) -> None:
    """Raise ConvertError when ``path`` does not hold exactly the planned tensors and vocab."""
    _check_tensors(path, plan, exact_types)
    _check_vocab(path, n_vocab)


def read_tensor_infos(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """GGUF tensor name → (row-major shape, GGML type name), read from the file's header."""
    import gguf

    with open(path, "rb") as f:
        magic, _version, n_tensors, n_kv = struct.unpack("<4sIQQ", _read(f, 24))
        if magic != _GGUF_MAGIC:
            raise ValueError("not a GGUF file")
        for _ in range(n_kv):
            _skip_string(f)
            _skip_value(f, struct.unpack("<I", _read(f, 4))[0])
        infos = {}
        for _ in range(n_tensors):
            name = _read(f, struct.unpack("<Q", _read(f, 8))[0]).decode("utf-8")
            (n_dims,) = struct.unpack("<I", _read(f, 4))
            dims = struct.unpack(f"<{n_dims}Q", _read(f, 8 * n_dims))
            ggml_type, _offset = struct.unpack("<IQ", _read(f, 12))
            infos[name] = (tuple(reversed(dims)), gguf.GGMLQuantizationType(ggml_type).name)
    return infos


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError("file ends inside the GGUF header")
    return data


def _skip_string(f: BinaryIO) -> None:
    (length,) = struct.unpack("<Q", _read(f, 8))
    f.seek(length, 1)


def _skip_value(f: BinaryIO, vtype: int) -> None:
    if vtype in _FIXED:
        f.seek(_FIXED[vtype], 1)
    elif vtype == _STRING:
        _skip_string(f)
    elif vtype == _ARRAY:
        item_type, count = struct.unpack("<IQ", _read(f, 12))
        if item_type in _FIXED:
            f.seek(_FIXED[item_type] * count, 1)
        else:
            for _ in range(count):
                _skip_value(f, item_type)
    else:
        raise ValueError(f"unknown GGUF value type {vtype}")


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
    from starling_tui.engine.worker.llama_backend import load_model, model_params

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
