"""The arithmetic of llama.cpp's ``llama-perplexity``, over numpy arrays.

The method: tokenize the whole text with BOS; cut it into ``n_chunk = n_tokens // n_ctx``
chunks of ``n_ctx`` tokens; put BOS over each chunk's first token (when the vocabulary adds
one); score only the second half of each chunk (the logits at positions ``n_ctx/2 ..
n_ctx-2`` predict the tokens after them), so every scored token has at least half a context
before it. llama-perplexity refuses texts shorter than ``2 * n_ctx`` tokens; so does this.
"""

from __future__ import annotations

import numpy as np

from starling_tui.quality.errors import QualityError


def chunk_count(n_tokens: int, n_ctx: int, limit: int | None = None) -> int:
    """How many chunks a text of ``n_tokens`` gives (at most ``limit``); QualityError if none."""
    if n_tokens < 2 * n_ctx:
        raise QualityError(f"the text is too short: {n_tokens} tokens, a context of {n_ctx} "
                           f"needs at least {2 * n_ctx} (use a longer --text or a smaller --ctx)")
    count = n_tokens // n_ctx
    return min(count, limit) if limit else count


def scored_range(n_ctx: int) -> tuple[int, int]:
    """First and last position whose logits are scored (each predicts the next token)."""
    return n_ctx // 2, n_ctx - 2


def chunk_tokens(tokens: list[int], index: int, n_ctx: int, bos: int | None) -> list[int]:
    """Chunk ``index`` of ``tokens``, its first token replaced by ``bos`` (if not None)."""
    chunk = tokens[index * n_ctx:(index + 1) * n_ctx]
    if bos is not None:
        chunk[0] = bos
    return chunk


def token_nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Negative log-likelihood of ``targets`` under each row of ``logits`` (float64)."""
    top = logits.max(axis=1, keepdims=True)
    sums = np.exp(logits - top).sum(axis=1, dtype=np.float64)
    picked = logits[np.arange(len(targets)), targets].astype(np.float64)
    return top[:, 0].astype(np.float64) + np.log(sums) - picked


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities, in float64 (KL divergences of near-equal models are tiny)."""
    wide = logits.astype(np.float64)
    wide -= wide.max(axis=1, keepdims=True)
    wide -= np.log(np.exp(wide).sum(axis=1, keepdims=True))
    return wide


def kl_divergence(reference_logits: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Per row, KL(P_reference || P_model) in nats."""
    ref = log_softmax(reference_logits)
    mine = log_softmax(logits)
    return (np.exp(ref) * (ref - mine)).sum(axis=1)
