"""Perplexity of a model on a text, and its divergence from a reference model, chunk by chunk.

With a reference, both models are open side by side and every chunk runs through the
reference and then the model; only those two chunks' scored logits are in memory at once
(never a file of all logits). KL divergence is KL(reference || model) at every scored
position, computed exactly (llama-perplexity stores the reference's log-probabilities as
16-bit values and skips probabilities below e^-16; this does neither).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from starling_tui.quality.errors import QualityError
from starling_tui.quality.model_run import EvalModel
from starling_tui.quality.scoring import (
    chunk_count,
    chunk_tokens,
    kl_divergence,
    scored_range,
    token_nll,
)

DEFAULT_CTX = 512
ChunkCallback = Callable[[int, int], None]  # (chunks done, chunks in all)


@dataclass(frozen=True)
class Divergence:
    """How far the model's next-token distributions are from the reference's."""

    ppl_reference: float
    ppl_ratio: float
    kld_mean: float
    kld_p99: float
    kld_max: float
    same_top1: float


@dataclass(frozen=True)
class EvalResult:
    """Perplexity over ``tokens`` scored tokens in ``chunks`` chunks of ``ctx`` tokens."""

    ppl: float
    tokens: int
    chunks: int
    ctx: int
    divergence: Divergence | None = None

    def to_json(self) -> dict[str, Any]:
        """The figures as one flat JSON object (divergence keys only with a reference)."""
        flat = {"ppl": self.ppl, "tokens": self.tokens, "chunks": self.chunks, "ctx": self.ctx}
        if self.divergence is not None:
            flat.update(asdict(self.divergence))
        return flat


def evaluate(model_path: Path, text: str, *, n_ctx: int = DEFAULT_CTX,
             reference: Path | None = None, max_chunks: int | None = None,
             on_chunk: ChunkCallback | None = None) -> EvalResult:
    """Score ``text`` with ``model_path`` exactly as llama-perplexity does.

    ``reference`` adds the divergence figures; ``max_chunks`` stops early (like
    llama-perplexity's ``--chunks``). Raises :class:`QualityError` on bad input.
    """
    with ExitStack() as stack:
        model = stack.enter_context(EvalModel.open(Path(model_path), n_ctx))
        base = None
        if reference is not None:
            base = stack.enter_context(EvalModel.open(Path(reference), n_ctx))
        tokens = model.tokenize(text)
        if base is not None:
            _check_same_vocab(model, base, tokens, text)
        chunks = chunk_count(len(tokens), model.n_ctx, max_chunks)
        return _score(model, base, tokens, chunks, on_chunk)


def _check_same_vocab(model: EvalModel, base: EvalModel, tokens: list[int], text: str) -> None:
    if model.n_vocab != base.n_vocab or base.tokenize(text) != tokens or model.bos != base.bos:
        raise QualityError(f"{base.path.name} has another vocabulary than {model.path.name} "
                           f"({base.n_vocab} vs {model.n_vocab} tokens, or other token ids): "
                           "a reference must share the model's tokenizer")


def _score(model: EvalModel, base: EvalModel | None, tokens: list[int], chunks: int,
           on_chunk: ChunkCallback | None) -> EvalResult:
    n_ctx = model.n_ctx
    first, last = scored_range(n_ctx)
    nll = base_nll = 0.0
    klds: list[np.ndarray] = []
    same_top = count = 0
    for index in range(chunks):
        chunk = chunk_tokens(tokens, index, n_ctx, model.bos)
        targets = np.asarray(tokens[index * n_ctx + first + 1:index * n_ctx + last + 2])
        reference_logits = base.run_chunk(chunk, first, last) if base is not None else None
        logits = model.run_chunk(chunk, first, last)
        nll += float(token_nll(logits, targets).sum())
        count += len(targets)
        if reference_logits is not None:
            base_nll += float(token_nll(reference_logits, targets).sum())
            klds.append(kl_divergence(reference_logits, logits))
            same_top += int((reference_logits.argmax(1) == logits.argmax(1)).sum())
        if on_chunk is not None:
            on_chunk(index + 1, chunks)
    ppl = float(np.exp(nll / count))
    divergence = None
    if base is not None:
        divergence = _divergence(ppl, float(np.exp(base_nll / count)), np.concatenate(klds),
                                 same_top / count)
    return EvalResult(ppl, count, chunks, n_ctx, divergence)


def _divergence(ppl: float, ppl_reference: float, klds: np.ndarray,
                same_top1: float) -> Divergence:
    return Divergence(
        ppl_reference=ppl_reference,
        ppl_ratio=ppl / ppl_reference,
        kld_mean=float(klds.mean()),
        kld_p99=float(np.percentile(klds, 99)),  # linear interpolation, as llama.cpp's
        kld_max=float(klds.max()),
        same_top1=same_top1,
    )
