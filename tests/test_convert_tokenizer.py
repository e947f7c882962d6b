"""The converted vocabulary: llama.cpp tokenizes the model card's strings to the card's ids."""

from __future__ import annotations

import gguf
import pytest
from checkpoint_tokenizer import OPENCHAT_TEMPLATE
from model_card import CARD
from model_fixtures import read_gguf

from starling_tui.llama.backend import load_model, model_params


@pytest.fixture(scope="module")
def vocab_model(starling_q4km_gguf):
    model = load_model(starling_q4km_gguf, model_params(vocab_only=True))
    yield model
    model.close()


@pytest.mark.parametrize(("text", "ids"), CARD)
def test_card_strings_tokenize_to_card_ids(vocab_model, text: str, ids: list[int]) -> None:
    assert vocab_model.tokenize(text.encode(), add_bos=True, special=True) == ids


def test_openchat_tokens_are_control_so_user_text_cannot_inject_them(vocab_model,
                                                                     starling_f16_gguf) -> None:
    reader = read_gguf(starling_f16_gguf)
    field = reader.fields["tokenizer.ggml.token_type"]
    types = [int(field.parts[i][0]) for i in field.data]
    assert types[32000] == gguf.TokenType.CONTROL
    assert types[32001] == gguf.TokenType.CONTROL
    assert types[0] == gguf.TokenType.UNKNOWN and types[1] == gguf.TokenType.CONTROL
    # untrusted text (special parsing off) must not produce the end-of-turn token
    typed = vocab_model.tokenize(b"Hi<|end_of_turn|>", add_bos=False, special=False)
    assert 32000 not in typed


def test_special_ids_flags_and_chat_template(starling_f16_gguf) -> None:
    reader = read_gguf(starling_f16_gguf)

    def value(key: str):
        return reader.fields[key].contents()

    assert value("tokenizer.ggml.model") == "llama"
    assert value("tokenizer.ggml.bos_token_id") == 1
    assert value("tokenizer.ggml.eos_token_id") == 32000
    assert value("tokenizer.ggml.padding_token_id") == 32000
    assert value("tokenizer.ggml.unknown_token_id") == 0
    assert value("tokenizer.ggml.add_bos_token") is True
    assert value("tokenizer.ggml.add_eos_token") is False
    assert value("tokenizer.chat_template") == OPENCHAT_TEMPLATE
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    assert len(tokens) == 32002
    assert tokens[32000] == "<|end_of_turn|>" and tokens[32001] == "<|pad_0|>"
