"""``starling-tui eval``'s figures against an independent llama-perplexity, and KLD sanity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from starling_tui.quality.evaluate import evaluate
from starling_tui.quality.text import default_text, default_text_path

CTX = 256
CHUNKS = 3
TEXT = default_text()[:40_000]  # about 10k tokens: enough for 3 chunks of 256


def independent_perplexity(path: Path, text: str, n_ctx: int, n_chunks: int) -> float:
    """llama-perplexity's method written out again over llama-cpp-python's raw logits."""
    from llama_cpp import _internals

    from starling_tui.llama.backend import llama, load_model, model_params

    lc = llama()
    model = load_model(path, model_params())
    params = lc.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
    params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=n_ctx, embd=0, n_seq_max=1, verbose=False)
    tokens = model.tokenize(text.encode(), add_bos=True, special=False)
    nlls = []
    try:
        for i in range(n_chunks):
            chunk = tokens[i * n_ctx:(i + 1) * n_ctx]
            if model.add_bos_token():
                chunk[0] = model.token_bos()
            lc.llama_memory_clear(lc.llama_get_memory(ctx.ctx), True)
            batch.set_batch(chunk, n_past=0, logits_all=True)
            ctx.decode(batch)
            for pos in range(n_ctx // 2, n_ctx - 1):
                row = np.ctypeslib.as_array(ctx.get_logits_ith(pos), shape=(model.n_vocab(),))
                row = row.astype(np.float64)
                log_z = row.max() + np.log(np.exp(row - row.max()).sum())
                nlls.append(log_z - row[tokens[i * n_ctx + pos + 1]])
    finally:
        batch.close()
        ctx.close()
        model.close()
    return float(np.exp(np.mean(nlls)))


@pytest.fixture(params=["tiny-f16", "smollm2"])
def eval_model(request: pytest.FixtureRequest) -> Path:
    """A model with BOS (the tiny Starling F16) and one without (SmolLM2, trained weights)."""
    name = "starling_f16_gguf" if request.param == "tiny-f16" else "smollm2_gguf"
    return Path(request.getfixturevalue(name))


@pytest.mark.slow
def test_perplexity_equals_an_independent_llama_perplexity(eval_model: Path) -> None:
    result = evaluate(eval_model, TEXT, n_ctx=CTX, max_chunks=CHUNKS)
    expected = independent_perplexity(eval_model, TEXT, CTX, CHUNKS)
    assert result.chunks == CHUNKS and result.ctx == CTX
    assert result.tokens == CHUNKS * (CTX // 2 - 1)
    assert result.ppl == pytest.approx(expected, rel=1e-4)


@pytest.mark.slow
def test_smollm2_perplexity_on_the_shipped_text_is_that_of_a_language_model(
        smollm2_gguf: Path) -> None:
    result = evaluate(smollm2_gguf, TEXT, n_ctx=CTX, max_chunks=2)
    assert 3 < result.ppl < 60  # a uniform guess over 49,152 tokens would be 49,152


@pytest.mark.slow
def test_kld_of_a_model_against_itself_is_zero(starling_q4km_gguf: Path) -> None:
    result = evaluate(starling_q4km_gguf, TEXT, n_ctx=CTX, max_chunks=2,
                      reference=starling_q4km_gguf)
    div = result.divergence
    assert div is not None
    assert div.kld_mean == pytest.approx(0, abs=1e-9) and div.kld_max == pytest.approx(0, abs=1e-9)
    assert div.same_top1 == 1.0 and div.ppl_ratio == pytest.approx(1.0, rel=1e-9)


@pytest.mark.slow
def test_kld_of_a_quantized_model_against_its_f16_is_small_but_not_zero(
        starling_q4km_gguf: Path, starling_f16_gguf: Path) -> None:
    result = evaluate(starling_q4km_gguf, TEXT, n_ctx=CTX, max_chunks=2,
                      reference=starling_f16_gguf)
    div = result.divergence
    assert div is not None
    assert 0 < div.kld_mean <= div.kld_p99 <= div.kld_max < 1
    assert 0 < div.same_top1 < 1
    alone = evaluate(starling_f16_gguf, TEXT, n_ctx=CTX, max_chunks=2)
    assert div.ppl_reference == pytest.approx(alone.ppl, rel=1e-9)
    assert div.ppl_ratio == pytest.approx(result.ppl / alone.ppl, rel=1e-9)


def test_the_shipped_text_is_long_enough_and_plain() -> None:
    text = default_text()
    assert default_text_path().is_file()
    assert text.startswith("PRIDE AND PREJUDICE") and text.isascii()
    assert len(text.split()) > 30_000  # about 52k Mistral tokens; at least 20k are required
