"""One model opened for evaluation: tokenize a text, run one chunk, hand back its logits.

The context is made for whole chunks: ``n_batch`` is the chunk size (one ``llama_decode`` per
chunk, split by llama.cpp into ``n_ubatch`` pieces) and logits are kept only for the positions
that are scored, so memory stays at one chunk's scored logits. llama.cpp rounds a small context
up (to 256 tokens), and ``llama-perplexity`` then uses the rounded size as its chunk size; so
does :attr:`EvalModel.n_ctx`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from starling_tui.quality.errors import QualityError

MAX_UBATCH = 512  # llama.cpp's default micro-batch: larger ones only cost memory on the CPU


def check_model_file(path: Path) -> None:
    """Raise QualityError (one line) unless ``path`` is a readable file that starts like a GGUF."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise QualityError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic != b"GGUF":
        raise QualityError(f"{path} is not a GGUF file")


@dataclass
class EvalModel:
    """A loaded model with a context sized for one chunk; close it when done."""

    path: Path
    model: Any
    ctx: Any
    batch: Any
    n_ctx: int
    n_vocab: int

    @classmethod
    def open(cls, path: Path, n_ctx: int, *, cb_eval: Any = None) -> EvalModel:
        """Load ``path`` through the AMX-safe loader with a ``n_ctx``-token context.

        ``cb_eval`` is llama.cpp's eval callback (``ggml_backend_sched_eval_callback``), used to
        collect an importance matrix; the caller keeps it alive.
        """
        from starling_tui.errors import EngineError
        from starling_tui.llama.backend import clear_recent_errors, load_model, model_params
        from starling_tui.llama.context import (
            ContextParams,
            context_size,
            create_context,
            default_threads,
            load_failure,
            resolve_gpu_layers,
        )
        from starling_tui.llama.internals import new_batch

        check_model_file(path)
        layers, _note = resolve_gpu_layers("auto")
        clear_recent_errors()
        try:
            model = load_model(path, model_params(n_gpu_layers=layers))
        except ValueError:
            raise QualityError(load_failure(str(path), layers)) from None
        threads, threads_batch = default_threads()
        params = ContextParams(
            n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=min(n_ctx, MAX_UBATCH),
            n_threads=threads, n_threads_batch=threads_batch,
            # the CPU flash-attention kernel is the slower one (as in the engine)
            flash_attn=False if layers == 0 else None,
            cb_eval=cb_eval,
        )
        try:
            ctx = create_context(model, params, layers)
        except EngineError as exc:
            model.close()
            raise QualityError(f"{path.name}: {exc}") from None
        real_ctx = context_size(ctx)
        batch = new_batch(real_ctx)
        return cls(path, model, ctx, batch, real_ctx, int(model.n_vocab()))

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as llama-perplexity makes them (BOS when the vocab adds one)."""
        return list(self.model.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    @property
    def bos(self) -> int | None:
        """The BOS id put at the start of every chunk, or None when the vocab adds no BOS."""
        return int(self.model.token_bos()) if self.model.add_bos_token() else None

    def run_chunk(self, tokens: list[int], first: int, last: int) -> np.ndarray:
        """Decode ``tokens`` from an empty cache; logits of positions ``first..last`` (copied)."""
        from starling_tui.llama.backend import llama

        self.decode_chunk(tokens, first, last)
        logits = llama().llama_get_logits(self.ctx.ctx)
        return np.ctypeslib.as_array(logits, shape=(last - first + 1, self.n_vocab)).copy()

    def decode_chunk(self, tokens: list[int], first: int, last: int) -> None:
        """Decode ``tokens`` from an empty cache, with outputs at positions ``first..last``."""
        from starling_tui.llama.backend import llama

        lc = llama()
        lc.llama_memory_clear(lc.llama_get_memory(self.ctx.ctx), True)
        self.batch.set_batch(tokens, n_past=0, logits_all=True)
        flags = self.batch.batch.logits
        for i in range(len(tokens)):
            flags[i] = first <= i <= last
        self.ctx.decode(self.batch)

    def close(self) -> None:
        """Free the batch, the context and the model."""
        self.batch.close()
        self.ctx.close()
        self.model.close()

    def __enter__(self) -> EvalModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
