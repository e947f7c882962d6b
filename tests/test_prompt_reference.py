"""Property test: our OpenChat ids equal transformers' ``apply_chat_template`` + tokenizer.

The reference is the fixture checkpoint's tokenizer (the real Mistral v1 ``tokenizer.model``
with OpenChat's added tokens, ``legacy: true``) loaded by transformers (extra ``reference``).
Text after a special token gets SentencePiece's dummy-prefix space in transformers, in the
sentencepiece library and in llama.cpp alike; the ids are compared exactly.

Verified rather than assumed: on this checkpoint transformers (5.x) picks its generic
tokenizers backend, whose merges follow sentencepiece's scores, so ids match exactly, runs of
spaces included. (Loading the tokenizer files alone, without ``config.json``, makes it pick
``LlamaTokenizer``, which splits ``":  x "`` as ``▁▁ x ▁`` instead of sentencepiece's
``▁ ▁x ▁``; llama.cpp follows sentencepiece, see ``test_prompt_vocab``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checkpoint_tokenizer import mistral_tokenizer_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starling_tui.prompt.openchat import build_openchat_ids, openchat_parts
from starling_tui.prompt.parts import PromptTokenizer, render_parts
from starling_tui.types import ChatMessage

SPECIALS = ("<s>", "</s>", "<unk>", "<|end_of_turn|>", "<|pad_0|>")


@pytest.fixture(scope="module")
def hf_tokenizer(tiny_checkpoint: Path):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(tiny_checkpoint)


@pytest.fixture(scope="module")
def sp():
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=str(mistral_tokenizer_model()))


tricky = st.sampled_from(["", " ", "  ", "\n", "\n\n", "\t", " x ", "é", "日本", "🦙", "a  b",
                          "GPT4 Correct User:", "<", "|>", "\r\n", "1234", "...", "'s"])
plain = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
content = st.lists(st.one_of(tricky, plain), min_size=1, max_size=4).map("".join).filter(
    lambda s: not any(sp_ in s for sp_ in SPECIALS)
)


@st.composite
def conversations(draw) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    if draw(st.booleans()):
        messages.append(ChatMessage("system", draw(content)))
    for _ in range(draw(st.integers(0, 3))):
        messages += [ChatMessage("user", draw(content)), ChatMessage("assistant", draw(content))]
    return [*messages, ChatMessage("user", draw(content))]


def _hf_ids(hf, messages: list[ChatMessage]) -> tuple[list[int], str]:
    dicts = [{"role": m.role, "content": m.content} for m in messages]
    out = hf.apply_chat_template(dicts, tokenize=True, add_generation_prompt=True)
    ids = out["input_ids"] if not isinstance(out, list) else out
    text = hf.apply_chat_template(dicts, tokenize=False, add_generation_prompt=True)
    return list(ids), text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=conversations())
def test_openchat_ids_equal_transformers(hf_tokenizer, sp, messages: list[ChatMessage]) -> None:
    tok = PromptTokenizer(encode=lambda t: list(sp.encode(t)), bos_id=1, eot_id=32000)
    ours = build_openchat_ids(messages, "openchat", tok)
    reference, rendered = _hf_ids(hf_tokenizer, messages)
    assert render_parts(openchat_parts(messages, "openchat", tok)) == rendered
    assert ours == reference


def test_reference_examples_equal_transformers(hf_tokenizer, sp) -> None:
    """Fixed cases (model card, system prompt, edge whitespace) match exactly."""
    tok = PromptTokenizer(encode=lambda t: list(sp.encode(t)), bos_id=1, eot_id=32000)
    cases = [
        [ChatMessage("user", "Hello")],
        [ChatMessage("user", "Hello"), ChatMessage("assistant", "Hi"),
         ChatMessage("user", "How are you today?")],
        [ChatMessage("system", "You are terse."), ChatMessage("user", "Hi\n\nthere")],
        [ChatMessage("user", ""), ChatMessage("assistant", " "), ChatMessage("user", "日本語 🦙")],
        [ChatMessage("user", " x "), ChatMessage("assistant", "  \n a  b\t")],
    ]
    for messages in cases:
        assert build_openchat_ids(messages, "openchat", tok) == _hf_ids(hf_tokenizer, messages)[0]
