"""Collecting an importance matrix through llama.cpp's eval callback, checked from first principles.

The input of ``blk.0.attn_q`` is the RMS-normed token embedding times ``attn_norm``: that is
recomputed here in numpy from the GGUF's own tensors and compared with what the callback summed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_fixtures import read_gguf

from starling_tui.quality.errors import QualityError
from starling_tui.quality.imatrix_collect import (
    ActivationCollector,
    collect_imatrix,
    weight_name,
)
from starling_tui.quality.model_run import EvalModel
from starling_tui.quality.scoring import chunk_tokens
from starling_tui.quality.text import default_text

CTX, CHUNKS = 256, 3
TEXT = default_text()[:20_000]
MATMULS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


@pytest.fixture(scope="module")
def collected(starling_f16_gguf: Path):  # type: ignore[no-untyped-def]
    return collect_imatrix(starling_f16_gguf, TEXT, dataset="sample.txt", n_ctx=CTX,
                           max_chunks=CHUNKS)


def test_every_block_matmul_weight_is_collected_with_its_width_and_count(collected) -> None:
    expected = {f"blk.{layer}.{m}.weight" for layer in (0, 1) for m in MATMULS}
    assert set(collected.entries) == expected  # no output head, no token embeddings
    for name, entry in collected.entries.items():
        width = 512 if "ffn_down" in name else 256  # the tiny model: hidden 256, FFN 512
        assert entry.sums.shape == (1, width), name
        assert entry.counts.tolist() == [CHUNKS * CTX], name
        assert (entry.sums > 0).all() and np.isfinite(entry.sums).all()
    assert (collected.datasets, collected.chunk_count, collected.chunk_size) == (
        ["sample.txt"], CHUNKS, CTX)


def test_weights_sharing_an_input_get_the_same_sums(collected) -> None:
    q, k, v = (collected.entries[f"blk.1.attn_{x}.weight"].sums for x in "qkv")
    np.testing.assert_array_equal(q, k)
    np.testing.assert_array_equal(q, v)
    np.testing.assert_array_equal(collected.entries["blk.0.ffn_gate.weight"].sums,
                                  collected.entries["blk.0.ffn_up.weight"].sums)


def test_layer_0_sums_equal_the_normed_embeddings_squared(collected, starling_f16_gguf) -> None:
    reader = read_gguf(starling_f16_gguf)
    tensors = {t.name: t for t in reader.tensors}
    embeddings = np.asarray(tensors["token_embd.weight"].data, dtype=np.float64)
    norm = np.asarray(tensors["blk.0.attn_norm.weight"].data, dtype=np.float64)
    eps = float(reader.fields["llama.attention.layer_norm_rms_epsilon"].contents())
    with EvalModel.open(starling_f16_gguf, CTX) as model:
        tokens, bos = model.tokenize(TEXT), model.bos
    ids = [t for i in range(CHUNKS) for t in chunk_tokens(tokens, i, CTX, bos)]
    x = embeddings[ids]
    normed = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps) * norm
    expected = (normed * normed).sum(axis=0)
    np.testing.assert_allclose(collected.entries["blk.0.attn_q.weight"].sums[0], expected,
                               rtol=2e-3)


def test_copied_tensor_names_are_unwrapped() -> None:
    assert weight_name(b"blk.3.ffn_up.weight") == "blk.3.ffn_up.weight"
    assert weight_name(b"CUDA0#blk.3.ffn_up.weight#0") == "blk.3.ffn_up.weight"


def test_a_text_shorter_than_two_chunks_is_refused(starling_f16_gguf: Path) -> None:
    with pytest.raises(QualityError, match="too short"):
        collect_imatrix(starling_f16_gguf, "Only a few words.", dataset="x", n_ctx=CTX)


class InterruptedCollector(ActivationCollector):
    """Ctrl-C landing while llama.cpp is inside the callback (the 5th collected matmul)."""

    def _collect(self, address: int) -> bool:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 5:
            raise KeyboardInterrupt
        return super()._collect(address)


def test_ctrl_c_inside_the_callback_stops_the_collection(starling_f16_gguf: Path) -> None:
    collector = InterruptedCollector()
    with pytest.raises(KeyboardInterrupt):
        collect_imatrix(starling_f16_gguf, TEXT, dataset="x", n_ctx=CTX, max_chunks=CHUNKS,
                        collector=collector)
    assert collector.calls == 5  # the graph stopped at the failing node
