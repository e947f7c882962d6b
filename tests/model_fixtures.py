"""Pytest plugin: GGUF files converted from the tiny checkpoint (owned by the converter tests).

``converted_gguf(outtype)`` converts the session's ``tiny_checkpoint`` once per output type and
returns the cached path on later calls. Files live in a session temp folder, not under
``STARLING_TUI_HOME`` (that one is per test). Treat the files as read-only.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from checkpoint_factory import CheckpointSpec, Shape, write_checkpoint


@pytest.fixture(scope="session")
def converted_gguf(
    tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """A callable ``outtype -> Path`` converting the tiny checkpoint once per outtype."""
    from starling_convert.api import convert_checkpoint
    from starling_convert.outtypes import lookup

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


@pytest.fixture(scope="session")
def one_layer_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer F32 model: its keys depend only on their token and position, so position
    edits can be checked exactly against a fresh evaluation."""
    from starling_convert.api import convert_checkpoint

    folder = tmp_path_factory.mktemp("one-layer")
    checkpoint = write_checkpoint(folder / "ckpt", CheckpointSpec(shape=Shape(layers=1)))
    return convert_checkpoint(checkpoint, "f32", folder / "one-layer-f32.gguf", quiet=True)


def eval_logits(path: Path, tokens: list[int], *, n_ctx: int = 256) -> np.ndarray:
    """Run ``tokens`` through llama.cpp in one batch; return logits for every position.

    The KV cache is F32 and flash attention off (llama.cpp's CPU flash-attention kernel and
    default KV cache work in F16), so an F32 model is computed at float32 precision.
    Loads through ``starling_tui.llama.backend`` so extra buffer types are off
    on AMX CPUs.
    """
    from llama_cpp import _internals

    from starling_tui.llama.backend import llama, load_model, model_params

    lc = llama()
    model = load_model(path, model_params())
    params = lc.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
    params.n_threads = params.n_threads_batch = 2
    params.type_k = params.type_v = lc.GGML_TYPE_F32
    params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=n_ctx, embd=0, n_seq_max=1, verbose=False)
    try:
        batch.set_batch(tokens, n_past=0, logits_all=True)
        ctx.decode(batch)
        n_vocab = model.n_vocab()
        rows = [np.ctypeslib.as_array(ctx.get_logits_ith(i), shape=(n_vocab,)).copy()
                for i in range(len(tokens))]
        return np.stack(rows)
    finally:
        batch.close()
        ctx.close()
        model.close()


def greedy_generate(path: Path, prompt: list[int], n_new: int) -> list[int]:
    """Greedy-decode ``n_new`` tokens after ``prompt`` with llama.cpp (one token per step)."""
    from llama_cpp import _internals

    from starling_tui.llama.backend import llama, load_model, model_params

    lc = llama()
    model = load_model(path, model_params())
    params = lc.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = 128
    params.n_threads = params.n_threads_batch = 2
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=128, embd=0, n_seq_max=1, verbose=False)
    out: list[int] = []
    try:
        batch.set_batch(prompt, n_past=0, logits_all=False)
        ctx.decode(batch)
        n_vocab, last = model.n_vocab(), len(prompt) - 1
        for step in range(n_new):
            logits = np.ctypeslib.as_array(ctx.get_logits_ith(last), shape=(n_vocab,))
            assert np.isfinite(logits).all(), "llama.cpp produced non-finite logits"
            token = int(np.argmax(logits))
            out.append(token)
            batch.set_batch([token], n_past=len(prompt) + step, logits_all=False)
            ctx.decode(batch)
            last = 0
        return out
    finally:
        batch.close()
        ctx.close()
        model.close()


def run_convert_cli(*args: str, env: dict[str, str] | None = None,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``python -m starling_convert`` in a subprocess (inherits STARLING_TUI_HOME)."""
    return subprocess.run([sys.executable, "-m", "starling_convert", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          cwd=Path(__file__).resolve().parent.parent)


def leftovers(folder: Path) -> list[str]:
    """Every file under ``folder`` (to assert that nothing, not even a temp file, was left)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@functools.cache
def read_gguf(path: Path) -> Any:
    """gguf's GGUFReader for a session GGUF, cached (it decodes every key: ~1 s per file)."""
    import gguf

    return gguf.GGUFReader(path)
