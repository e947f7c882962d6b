"""Logits parity: GGUF files run by llama.cpp against transformers' MistralForCausalLM.

Both run the same tiny bf16 checkpoint on the same >= 16-token prompt. The F32 GGUF holds the
bf16 weights exactly, so llama.cpp (F32 KV cache, flash attention off) must agree with
transformers in float32 to float tolerance (1e-5 of the largest logit). Stated looser
tolerances, relative to the largest logit magnitude (about 3.8 here):
- F16: 2e-3 max / 3e-4 mean. The weights are exact, but llama.cpp's F16 dot product rounds
  activations to F16 (measured 6e-4 / 9e-5).
- BF16: 1.5e-2 max / 2e-3 mean; activations are rounded to bf16 (measured 5.4e-3 / 7.7e-4).
- Q8_0: 5e-2 max / 1e-2 mean and the same top token at >= 90% of positions (measured
  3.1e-2 / 4.3e-3, 96%).
"""

from __future__ import annotations

import numpy as np
import pytest
from model_fixtures import eval_logits

torch = pytest.importorskip("torch", reason="torch (the 'reference' extra) is not installed")
transformers = pytest.importorskip("transformers",
                                   reason="transformers (the 'reference' extra) is not installed")

PROMPT = [1, 420, 6316, 28781, 3198, 3123, 1247, 28747, 22557, 32000, 420, 6316, 28781, 3198,
          3123, 21631, 28747, 15359, 32000, 420, 6316, 28781, 3198, 3123, 1247, 28747]


@pytest.fixture(scope="module")
def reference_logits(tiny_checkpoint) -> np.ndarray:
    model = transformers.MistralForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor([PROMPT])).logits[0].numpy()


def _relative_errors(converted_gguf, outtype: str, reference: np.ndarray):
    logits = eval_logits(converted_gguf(outtype), PROMPT)
    assert logits.shape == reference.shape
    scale = float(np.abs(reference).max())
    diff = np.abs(logits - reference) / scale
    top1 = float((logits.argmax(axis=1) == reference.argmax(axis=1)).mean())
    return float(diff.max()), float(diff.mean()), top1


def test_prompt_is_long_enough() -> None:
    assert len(PROMPT) >= 16


@pytest.mark.slow
def test_f32_matches_transformers_to_float_tolerance(converted_gguf, reference_logits) -> None:
    worst, mean, top1 = _relative_errors(converted_gguf, "f32", reference_logits)
    assert worst < 1e-5, (worst, mean)
    assert top1 == 1.0


@pytest.mark.slow
def test_bf16_within_stated_tolerance(converted_gguf, reference_logits) -> None:
    worst, mean, top1 = _relative_errors(converted_gguf, "bf16", reference_logits)
    assert worst < 1.5e-2 and mean < 2e-3, (worst, mean)
    assert top1 == 1.0


@pytest.mark.slow
def test_f16_within_stated_tolerance(converted_gguf, reference_logits) -> None:
    worst, mean, top1 = _relative_errors(converted_gguf, "f16", reference_logits)
    assert worst < 2e-3 and mean < 3e-4, (worst, mean)
    assert top1 == 1.0


@pytest.mark.slow
def test_q8_0_within_stated_tolerance(converted_gguf, reference_logits) -> None:
    worst, mean, top1 = _relative_errors(converted_gguf, "q8_0", reference_logits)
    assert worst < 0.05 and mean < 0.01, (worst, mean)
    assert top1 >= 0.9
