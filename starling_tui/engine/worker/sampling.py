"""Sampler chains and streaming text decoding for the worker (llama.cpp side).

The sampler chain follows llama.cpp's common order (penalties, top-k, top-p, min-p,
temperature, then a seeded draw); temperature 0 is plain greedy. Token pieces are turned into
text with an incremental UTF-8 decoder, so a character split across tokens is never emitted
half-way.
"""

from __future__ import annotations

import codecs
from typing import Any

from starling_tui.llama.internals import new_sampler
from starling_tui.llama.vocab import token_piece
from starling_tui.types import SamplingOptions


def build_sampler(sampling: SamplingOptions, n_vocab: int) -> Any:
    """A llama.cpp sampler chain for ``sampling``."""
    chain = new_sampler()
    if sampling.repeat_penalty != 1.0:
        chain.add_penalties(n_vocab, 64, sampling.repeat_penalty, 0.0, 0.0)
    if sampling.temperature <= 0:
        chain.add_greedy()
        return chain
    if sampling.top_k > 0:
        chain.add_top_k(sampling.top_k)
    if sampling.top_p < 1.0:
        chain.add_top_p(sampling.top_p, 1)
    if sampling.min_p > 0:
        chain.add_min_p(sampling.min_p, 1)
    chain.add_temp(sampling.temperature)
    chain.add_dist(sampling.seed & 0xFFFFFFFF)
    return chain


class PieceDecoder:
    """Token ids to text, caching each token's bytes and never splitting a UTF-8 character."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        self._cache: dict[int, bytes] = {}
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (control tokens: none)."""
        cached = self._cache.get(token)
        if cached is None:
            cached = self._cache[token] = token_piece(self._vocab, token)
        return cached

    def text(self, token: int) -> str:
        """The text completed by ``token`` (may be empty mid-character)."""
        return str(self._utf8.decode(self.piece(token)))

    def flush(self) -> str:
        """Whatever is left at the end of the reply (an incomplete character becomes U+FFFD)."""
        return str(self._utf8.decode(b"", final=True))
