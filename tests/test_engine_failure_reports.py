"""Failure reports: what the user reads is one line, what a maintainer needs is in the log.

- An unexpected exception in the worker is answered with one line, and its traceback is in
  the engine log (the worker's stderr file).
- A context llama.cpp refuses says llama.cpp's own reason, and "not enough memory" only when
  memory is what ran out.
- A token whose text is longer than the first buffer comes out whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import FaultPlan
from starling_tui.errors import EngineError
from starling_tui.llama.context import context_failure
from starling_tui.types import ChatMessage, ChatRequest

LONG_TEXT = "long" * 100  # 400 bytes, past the 256-byte first buffer


class FailingSession:
    """A worker session whose replies fail with an exception no code path expects."""

    def __init__(self, options: EngineOptions, *, vocab_only: bool, faults: FaultPlan) -> None:
        pass

    def info(self) -> ModelInfo:
        return ModelInfo(path="p", name="failing", quant="Q", n_ctx_train=1, n_ctx=1,
                         n_layers=1, n_gpu_layers=0, backend="CPU", template="openchat")

    def generate(self, request: ChatRequest, emit: Any, cancelled: Any,
                 **more: Any) -> GenerationStats:
        return unexpected_failure()

    def close(self) -> None:
        pass


def unexpected_failure() -> GenerationStats:
    raise RuntimeError("first line\nsecond line")


@pytest.mark.slow
def test_an_unexpected_exception_is_one_line_and_its_traceback_is_logged(
    smollm2_gguf: Path,
) -> None:
    from starling_tui.paths import app_paths

    engine = ProcessEngine(session_factory=FailingSession)
    try:
        engine.load(EngineOptions(model_path=str(smollm2_gguf)))
        for _ in range(2):  # the worker lives on: the next request is answered the same way
            with pytest.raises(EngineError) as caught:
                "".join(engine.generate(ChatRequest((ChatMessage("user", "hi"),))))
            assert type(caught.value) is EngineError  # answered, not crashed
            assert str(caught.value) == "RuntimeError: first line"
    finally:
        engine.close()
    log = (app_paths().cache_dir / "engine-logs" / f"engine-{os.getpid()}.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert "in unexpected_failure" in log and "second line" in log


@pytest.mark.parametrize(("errors", "expected"), [
    (["llama_init_from_model: quantized V cache requires flash_attn to be enabled"],
     "llama.cpp could not create a 512-token context: quantized V cache requires flash_attn "
     "to be enabled"),
    (["ggml_aligned_malloc: insufficient memory (attempted to allocate 2197265.62 MB)",
      "llama_init_from_model: failed to initialize the context: failed to allocate buffer for "
      "kv cache"],
     "not enough memory for a 512-token context with 3 layers on the GPU: try a smaller --ctx "
     "or fewer --n-gpu-layers"),
    ([], "not enough memory for a 512-token context with 3 layers on the GPU: try a smaller "
         "--ctx or fewer --n-gpu-layers"),
    (["a line first", "llama_init_from_model: failed to initialize the context: no backend"],
     "llama.cpp could not create a 512-token context: failed to initialize the context: no "
     "backend"),
    (["not a function name: kept whole"], "llama.cpp could not create a 512-token context: "
                                          "not a function name: kept whole"),
])
def test_a_refused_context_says_llama_cpps_reason(errors: list[str], expected: str) -> None:
    assert context_failure(512, 3, errors) == expected


@pytest.mark.slow
def test_a_quantized_v_cache_without_flash_attention_is_not_called_a_memory_error(
    smollm2_gguf: Path,
) -> None:
    from starling_tui.engine.worker.session import Session

    options = EngineOptions(model_path=str(smollm2_gguf), n_ctx=256, flash_attn=False,
                            kv_cache_type="q8_0", state_cache=False)
    with pytest.raises(EngineError) as caught:
        Session(options)
    assert str(caught.value) == ("llama.cpp could not create a 256-token context: quantized V "
                                 "cache requires flash_attn to be enabled")


def long_token_gguf(path: Path) -> tuple[Path, int]:
    """A vocabulary-only GGUF: Starling's tokens plus one ordinary token ``▁`` + LONG_TEXT
    (its id is returned)."""
    import gguf
    from checkpoint_tokenizer import OPENCHAT_TEMPLATE
    from test_prompt_vocab import starling_vocab

    tokens, scores, types = starling_vocab()
    tokens.append(("▁" + LONG_TEXT).encode())
    scores.append(-1000.0)
    types.append(int(gguf.TokenType.NORMAL))
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("long-token")
    writer.add_context_length(4096)
    writer.add_embedding_length(256)
    writer.add_block_count(2)
    writer.add_feed_forward_length(512)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(32000)
    writer.add_unk_token_id(0)
    writer.add_chat_template(OPENCHAT_TEMPLATE)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, len(tokens) - 1


@pytest.mark.slow
def test_a_token_longer_than_the_first_buffer_comes_out_whole(tmp_path: Path) -> None:
    from starling_tui.engine.worker.sampling import PieceDecoder
    from starling_tui.llama.backend import load_model, model_params
    from starling_tui.llama.vocab import token_piece

    path, token = long_token_gguf(tmp_path / "long-token.gguf")
    model = load_model(path, model_params(vocab_only=True))
    try:
        assert token_piece(model.vocab, token) == (" " + LONG_TEXT).encode()
        assert PieceDecoder(model.vocab).text(token) == " " + LONG_TEXT
    finally:
        model.close()
