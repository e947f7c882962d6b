"""After a reply the engine evaluates the next user turn's header in the idle time, so a
follow-up pays only for the user's own text and the assistant header (engine/next_turn.py).

The session runs in this process here, so "idle time" is a plain call; the worker process
makes that call after answering and interrupts it with the next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from checkpoint_tokenizer import mistral_tokenizer_model
from model_card import HELLO_IDS

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.worker.session import Session
from starling_tui.llama.backend import llama
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow

# From the model card's "Hello" ids: <|end_of_turn|> then "GPT4 Correct User:"
NEXT_USER_HEADER = [32000, *HELLO_IDS[1:8]]
# ...and the assistant header that ends every prompt: <|end_of_turn|>GPT4 Correct Assistant:
ASSISTANT_HEADER = HELLO_IDS[9:]


def sentencepiece_ids(text: str) -> list[int]:
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(mistral_tokenizer_model()))
    return list(processor.encode(text))


def req(*messages: ChatMessage) -> ChatRequest:
    return ChatRequest(messages, sampling=SamplingOptions(max_tokens=8))


def answer(session: Session, request: ChatRequest) -> str:
    pieces: list[str] = []
    session.generate(request, pieces.append, lambda: False)
    return "".join(pieces)


def kv_positions(session: Session) -> int:
    assert session.kv is not None
    return int(llama().llama_memory_seq_pos_max(session.kv.ctx.memory, 0)) + 1


@pytest.fixture(scope="module")
def session(starling_q4km_gguf: Path) -> Iterator[Session]:
    live = Session(EngineOptions(model_path=str(starling_q4km_gguf), n_ctx=1024, n_threads=2))
    yield live
    live.close()


def test_follow_up_evaluates_only_the_users_text_and_the_assistant_header(
    session: Session,
) -> None:
    first = req(ChatMessage("user", "Tell me a story about a starling."))
    reply = answer(session, first)
    evaluated = session.prefill_next_turn(lambda: False)
    # at least the header; more when the reply's text re-tokenizes differently from the
    # tokens sampled (the last of which is never decoded)
    assert evaluated >= len(NEXT_USER_HEADER)
    assert session.tokens[-len(NEXT_USER_HEADER):] == NEXT_USER_HEADER
    prefilled = len(session.tokens)
    assert kv_positions(session) == len(session.tokens)  # llama.cpp holds what we think
    assert session.prefill_next_turn(lambda: False) == 0  # once per reply

    follow = req(*first.messages, ChatMessage("assistant", reply), ChatMessage("user", "Why?"))
    ids = list(session.preview(follow).token_ids)
    assert ids[:prefilled] == session.tokens  # the cache is a prefix of the follow-up's prompt
    why = sentencepiece_ids("Why?")  # the real Mistral tokenizer, independently of llama.cpp
    assert ids[prefilled:] == [*why, *ASSISTANT_HEADER]
    stats = session.generate(follow, lambda _: None, lambda: False)
    assert stats.evaluated_tokens == len(why) + len(ASSISTANT_HEADER)
    assert session.counters()["n_p_eval"] == stats.evaluated_tokens  # llama.cpp's own count


def test_a_waiting_request_interrupts_the_prefill(session: Session) -> None:
    first = req(ChatMessage("user", "Name a bird."))
    answer(session, first)
    after_reply = list(session.tokens)
    assert session.prefill_next_turn(lambda: True) == 0
    assert session.tokens == after_reply[: len(session.tokens)]
    assert kv_positions(session) == len(session.tokens)
    assert session.prefill_next_turn(lambda: False) == 0  # that reply's chance is gone


def test_cancelled_replies_are_not_prefilled(session: Session) -> None:
    first = req(ChatMessage("user", "Count to ten."))
    calls = iter(range(1000))
    stats = session.generate(first, lambda _: None, lambda: next(calls) > 2)
    assert stats.finish_reason == "cancelled"
    assert session.prefill_next_turn(lambda: False) == 0


def test_the_header_is_found_in_any_chat_template(smollm2_gguf: Path) -> None:
    """SmolLM2's ChatML: the reply's end and the next user header, found from the template."""
    chatml = Session(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024, n_threads=2))
    try:
        first = req(ChatMessage("user", "What is the capital of France?"))
        reply = answer(chatml, first)
        assert chatml.prefill_next_turn(lambda: False) > 0
        tail = "".join(chatml.vocab.token_text(t) for t in chatml.tokens[-5:])
        assert tail.endswith("<|im_end|>Ċ<|im_start|>userĊ"), tail  # Ċ: GPT-2 BPE's newline
        prefilled = len(chatml.tokens)
        follow = req(*first.messages, ChatMessage("assistant", reply),
                     ChatMessage("user", "And of Italy?"))
        ids = list(chatml.preview(follow).token_ids)
        assert ids[:prefilled] == chatml.tokens
        stats = chatml.generate(follow, lambda _: None, lambda: False)
        assert stats.evaluated_tokens == len(ids) - prefilled
    finally:
        chatml.close()
