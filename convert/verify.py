"""Check a freshly written GGUF before it is moved into place.

The file is read back with gguf's ``GGUFReader`` (tensor names, shapes and, for directly
written files, types) and its vocabulary is loaded by llama.cpp itself (``vocab_only``).
"""

from __future__ import annotations

from pathlib import Path

from convert.architectures.base import PlannedTensor
from convert.errors import ConvertError


def verify_gguf(path: Path, plan: list[PlannedTensor], n_vocab: int, *, exact_types: bool) -> None:
    """Raise ConvertError when ``path`` does not hold exactly the planned tensors and vocab."""
    _check_tensors(path, plan, exact_types)
    _check_vocab(path, n_vocab)


def _check_tensors(path: Path, plan: list[PlannedTensor], exact_types: bool) -> None:
    import gguf

    try:
        reader = gguf.GGUFReader(path)
    except (OSError, ValueError) as exc:
        raise ConvertError(f"verification failed: cannot read back the GGUF ({exc})") from None
    found = {t.name: t for t in reader.tensors}
    if set(found) != {t.gguf_name for t in plan}:
        missing = sorted({t.gguf_name for t in plan} - set(found))
        raise ConvertError(f"verification failed: tensors differ from the plan "
                           f"(missing {missing[:3]})")
    for t in plan:
        got = found[t.gguf_name]
        shape = tuple(int(d) for d in reversed(got.shape.tolist()))
        if shape != t.shape:
            raise ConvertError(f"verification failed: {t.gguf_name} has shape {list(shape)}, "
                               f"expected {list(t.shape)}")
        if exact_types and got.tensor_type.name != t.ggml_type:
            raise ConvertError(f"verification failed: {t.gguf_name} is {got.tensor_type.name}, "
                               f"expected {t.ggml_type}")
        if len(t.shape) == 1 and got.tensor_type.name != "F32":
            raise ConvertError(f"verification failed: {t.gguf_name} should be F32")


def _check_vocab(path: Path, n_vocab: int) -> None:
    from starling_tui.llama_backend import load_model, model_params

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
