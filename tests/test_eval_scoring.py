"""The llama-perplexity arithmetic on small arrays (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from starling_tui.quality.errors import QualityError
from starling_tui.quality.scoring import (
    chunk_count,
    chunk_tokens,
    kl_divergence,
    scored_range,
    token_nll,
)


def test_llama_perplexity_needs_two_contexts_of_tokens() -> None:
    with pytest.raises(QualityError, match="too short: 1023 tokens"):
        chunk_count(1023, 512)
    assert chunk_count(1024, 512) == 2
    assert chunk_count(5000, 512) == 9 and chunk_count(5000, 512, limit=3) == 3


def test_chunks_start_with_bos_and_the_second_half_is_scored() -> None:
    tokens = list(range(100, 140))
    assert chunk_tokens(tokens, 1, 8, bos=1) == [1, *range(109, 116)]
    assert chunk_tokens(tokens, 1, 8, bos=None) == list(range(108, 116))
    assert tokens[8] == 108  # the text itself is left alone
    assert scored_range(512) == (256, 510)  # 255 scored tokens per chunk


def test_token_nll_is_minus_log_softmax_at_the_target() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 11)).astype(np.float32) * 4
    targets = np.array([0, 3, 10, 7, 7])
    probs = np.exp(logits.astype(np.float64))
    probs /= probs.sum(axis=1, keepdims=True)
    expected = -np.log(probs[np.arange(5), targets])
    np.testing.assert_allclose(token_nll(logits, targets), expected, rtol=1e-6)


def test_kl_divergence_is_zero_for_equal_rows_and_matches_the_definition() -> None:
    rng = np.random.default_rng(4)
    p_logits = rng.normal(size=(3, 7)).astype(np.float32)
    q_logits = p_logits + rng.normal(size=(3, 7)).astype(np.float32)
    assert np.all(kl_divergence(p_logits, p_logits) == 0)
    p = np.exp(p_logits.astype(np.float64))
    p /= p.sum(axis=1, keepdims=True)
    q = np.exp(q_logits.astype(np.float64))
    q /= q.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(kl_divergence(p_logits, q_logits),
                               (p * np.log(p / q)).sum(axis=1), rtol=1e-9)
