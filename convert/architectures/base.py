"""The base model converter: the steps every architecture goes through, each overridable.

A converter checks the checkpoint's tensors against ``config.json``, maps HF tensor names to
GGUF names, says which rows need permuting, writes hyper-parameters and vocabulary, and plans
the output type of each tensor. The streaming writer does the rest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..encode import tensor_nbytes
from ..errors import ConvertError
from ..weights import TensorRef

_SKIPPED_SUFFIXES = ("rotary_emb.inv_freq",)  # recomputed by llama.cpp, never stored in GGUF
_REQUIRED: Any = object()


@dataclass(frozen=True)
class PlannedTensor:
    """One output tensor: its source, GGUF name, shape (row-major), type and byte size."""

    ref: TensorRef
    gguf_name: str
    shape: tuple[int, ...]
    ggml_type: str
    nbytes: int
    head_dim: int | None  # rows are permuted within groups of this many rows


class ModelConverter:
    """Base class: subclasses set the class attributes and implement the abstract steps."""

    hf_architectures: ClassVar[tuple[str, ...]] = ()
    gguf_arch: ClassVar[str] = ""

    def __init__(self, folder: Path, config: dict[str, Any], weights: dict[str, TensorRef]) -> None:
        self.folder = folder
        self.config = config
        self.weights = weights

    # -- hyper-parameters -------------------------------------------------------------------
    def param(self, *keys: str, default: Any = _REQUIRED) -> Any:
        """The first of ``keys`` set in config.json; a one-line error if required and absent."""
        for key in keys:
            if self.config.get(key) is not None:
                return self.config[key]
        if default is _REQUIRED:
            raise ConvertError(f"config.json has no {keys[0]}")
        return default

    def add_hparams(self, writer: Any) -> None:
        """Write the architecture's hyper-parameters into the GGUF key/value section."""
        raise NotImplementedError

    # -- tensors ----------------------------------------------------------------------------
    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """HF tensor name → shape implied by config.json, for every tensor the model needs."""
        raise NotImplementedError

    def optional_tensors(self) -> set[str]:
        """Expected tensors that may be absent (e.g. a tied output head)."""
        return set()

    @functools.cached_property
    def tensor_name_map(self) -> Any:
        """gguf's TensorNameMap for this architecture (built once: it spells out every layer)."""
        import gguf

        arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == self.gguf_arch)
        return gguf.get_tensor_name_map(arch, int(self.param("num_hidden_layers")))

    def gguf_tensor_name(self, hf_name: str) -> str:
        """The GGUF name of an HF tensor (via gguf's TensorNameMap)."""
        name = self.tensor_name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ConvertError(f"tensor {hf_name} has no GGUF equivalent for {self.gguf_arch}")
        return name

    def permute_head_dim(self, hf_name: str) -> int | None:
        """Row-group size for tensors whose rows must be permuted per head, else None."""
        return None

    def check_tensors(self) -> None:
        """Raise a one-line error for a missing, unexpected or wrongly shaped tensor."""
        expected = self.expected_shapes()
        for name, shape in expected.items():
            ref = self.weights.get(name)
            if ref is None:
                if name in self.optional_tensors():
                    continue
                raise ConvertError(f"tensor {name} is missing from the checkpoint")
            if ref.shape != shape:
                raise ConvertError(f"tensor {name} has shape {list(ref.shape)} but config.json "
                                   f"implies {list(shape)}")
        for name in self.weights:
            if name not in expected and not name.endswith(_SKIPPED_SUFFIXES):
                raise ConvertError(f"unexpected tensor {name} for {self.hf_architectures[0]}")

    def tensor_type(self, ref: TensorRef, weight_type: str) -> str:
        """The output type of one tensor: 1-D (norms) stay F32; Q8_0 needs 32-wide rows."""
        if len(ref.shape) < 2:
            return "F32"
        if weight_type == "Q8_0" and ref.row_elements % 32:
            return "F16"
        return weight_type

    def plan(self, weight_type: str) -> list[PlannedTensor]:
        """Every output tensor in GGUF order (the order of ``expected_shapes``)."""
        planned = []
        for name in self.expected_shapes():
            ref = self.weights.get(name)
            if ref is None:
                continue
            ggml_type = self.tensor_type(ref, weight_type)
            planned.append(PlannedTensor(ref, self.gguf_tensor_name(name), ref.shape, ggml_type,
                                         tensor_nbytes(ref.shape, ggml_type),
                                         self.permute_head_dim(name)))
        return planned

    # -- vocabulary -------------------------------------------------------------------------
    def load_vocab(self) -> Any:
        """Read the tokenizer (sentencepiece by default); errors are one line."""
        from ..vocab import load_sentencepiece_vocab

        return load_sentencepiece_vocab(self.folder, int(self.param("vocab_size")))
