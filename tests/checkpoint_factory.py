"""Tiny (or full-size) Mistral-shaped Hugging Face checkpoints for tests and benchmarks.

One factory for every test: random weights in the exact tensor layout of
``MistralForCausalLM``, sharded into several safetensors files with a
``model.safetensors.index.json``, a transformers-4 style ``config.json`` (top-level
``rope_theta``), the real Mistral v1 sentencepiece ``tokenizer.model`` from the
``mistral-common`` wheel, and OpenChat's added tokens and chat template exactly as the
Starling-LM-7B-beta repository ships them.

Weights are written tensor by tensor, chunk by chunk, so the same code produces the 14 GB
7B-shaped checkpoint of the converter benchmark without holding it in memory. The
safetensors format is written by hand because numpy has no bfloat16; a test checks that
the ``safetensors`` library reads the result back.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from checkpoint_tokenizer import (
    write_tokenizer_files,
)

_DTYPE_BYTES = {"BF16": 2, "F16": 2, "F32": 4}


@dataclass(frozen=True)
class Shape:
    """Model dimensions; the defaults are tiny but K-quant friendly (rows of 256)."""

    hidden: int = 256
    intermediate: int = 512
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    vocab: int = 32002
    context: int = 4096

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


SEVEN_B = Shape(hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, context=32768)


@dataclass(frozen=True)
class CheckpointSpec:
    """What to write: shape, storage dtype, shard size, seed and config variations."""

    shape: Shape = field(default_factory=Shape)
    dtype: str = "BF16"
    shard_bytes: int = 8 * 1024 * 1024
    seed: int = 1234
    architecture: str = "MistralForCausalLM"
    rope_style: str = "transformers4"  # or "rope_parameters" (transformers 5)
    rope_scaling: dict | None = None
    fast_fill: bool = False  # benchmarks: tile one random block instead of drawing every value


def tensor_shapes(shape: Shape) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Yield (name, shape) of every MistralForCausalLM tensor, in HF order."""
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_heads * shape.head_dim
    yield "model.embed_tokens.weight", (shape.vocab, h)
    for n in range(shape.layers):
        p = f"model.layers.{n}"
        yield f"{p}.input_layernorm.weight", (h,)
        yield f"{p}.self_attn.q_proj.weight", (h, h)
        yield f"{p}.self_attn.k_proj.weight", (kv, h)
        yield f"{p}.self_attn.v_proj.weight", (kv, h)
        yield f"{p}.self_attn.o_proj.weight", (h, h)
        yield f"{p}.post_attention_layernorm.weight", (h,)
        yield f"{p}.mlp.gate_proj.weight", (i, h)
        yield f"{p}.mlp.up_proj.weight", (i, h)
        yield f"{p}.mlp.down_proj.weight", (h, i)
    yield "model.norm.weight", (h,)
    yield "lm_head.weight", (shape.vocab, h)


def _encode(values: np.ndarray, dtype: str) -> bytes:
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    if dtype == "F16":
        return values.astype("<f2").tobytes()
    # bfloat16: round-to-nearest-even on the upper 16 bits of float32
    bits = values.astype("<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2").tobytes()


def _tensor_bytes(name: str, dims: tuple[int, ...], spec: CheckpointSpec, rng) -> Iterator[bytes]:
    """Random values, a row block at a time; norms near 1, weights with std 0.02-ish."""
    rows = dims[0]
    cols = int(np.prod(dims[1:])) if len(dims) > 1 else 1
    step = max(1, (4 * 1024 * 1024) // max(cols, 1))
    tile = None
    for start in range(0, rows, step):
        n = min(step, rows - start)
        if spec.fast_fill and len(dims) > 1:
            # Drawing 7 billion normals costs minutes; converters see the same work either way.
            if tile is None:
                tile = _encode(
                    rng.standard_normal((step, cols), dtype=np.float32) * np.float32(0.05),
                    spec.dtype,
                )
            yield tile[: n * cols * _DTYPE_BYTES[spec.dtype]]
            continue
        if len(dims) == 1:
            block = 1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)
        else:
            block = rng.standard_normal((n, cols), dtype=np.float32) * np.float32(0.05)
        yield _encode(block, spec.dtype)


def _plan_shards(spec: CheckpointSpec) -> list[list[tuple[str, tuple[int, ...]]]]:
    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, dims in tensor_shapes(spec.shape):
        nbytes = int(np.prod(dims)) * _DTYPE_BYTES[spec.dtype]
        if shards[-1] and size + nbytes > spec.shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append((name, dims))
        size += nbytes
    return shards


def _write_shard(path: Path, tensors, spec: CheckpointSpec, rng) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dims in tensors:
        nbytes = int(np.prod(dims)) * _DTYPE_BYTES[spec.dtype]
        header[name] = {
            "dtype": spec.dtype,
            "shape": list(dims),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, dims in tensors:
            for chunk in _tensor_bytes(name, dims, spec, rng):
                f.write(chunk)


def _config(spec: CheckpointSpec) -> dict:
    s = spec.shape
    config: dict = {
        "architectures": [spec.architecture],
        "model_type": "mistral" if spec.architecture.startswith("Mistral") else "llama",
        "hidden_size": s.hidden,
        "intermediate_size": s.intermediate,
        "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads,
        "num_key_value_heads": s.kv_heads,
        "max_position_embeddings": s.context,
        "rms_norm_eps": 1e-5,
        "vocab_size": s.vocab,
        "bos_token_id": 1,
        "eos_token_id": 32000,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[spec.dtype],
        "transformers_version": "4.39.0",
        "use_cache": True,
    }
    rope: dict = {"rope_type": "default", "rope_theta": 10000.0}
    if spec.rope_scaling:
        rope.update(spec.rope_scaling)
    if spec.rope_style == "rope_parameters":
        config["rope_parameters"] = rope
    else:
        config["rope_theta"] = rope["rope_theta"]
        if spec.rope_scaling:
            config["rope_scaling"] = spec.rope_scaling
    return config


def write_checkpoint(folder: Path, spec: CheckpointSpec | None = None) -> Path:
    """Write a complete checkpoint folder and return it."""
    spec = spec or CheckpointSpec()
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    shards = _plan_shards(spec)
    weight_map: dict[str, str] = {}
    total = 0
    for index, tensors in enumerate(shards, start=1):
        fname = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        _write_shard(folder / fname, tensors, spec, rng)
        for name, dims in tensors:
            weight_map[name] = fname
            total += int(np.prod(dims)) * _DTYPE_BYTES[spec.dtype]
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    )
    (folder / "config.json").write_text(json.dumps(_config(spec), indent=2))
    (folder / "generation_config.json").write_text(
        json.dumps({"bos_token_id": 1, "eos_token_id": 32000})
    )
    (folder / "README.md").write_text(
        "---\nlicense: apache-2.0\n---\n# tiny-starling\nTest fixture.\n"
    )
    write_tokenizer_files(folder)
    return folder


def with_spec(**changes) -> CheckpointSpec:
    """A default spec with some fields changed."""
    return replace(CheckpointSpec(), **changes)
