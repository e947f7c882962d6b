"""Context-overflow trimming: oldest turns go first, system prompt and newest turn stay."""

from __future__ import annotations

import pytest

from starling_tui.prompt.fit import PromptTooLong, fit_messages, turn_starts
from starling_tui.types import ChatMessage


def words(messages) -> list[int]:
    """A toy tokenizer: one id per word plus two per message."""
    ids: list[int] = []
    for m in messages:
        ids += [7, 8] + [len(w) for w in m.content.split()]
    return ids


def convo(n_turns: int, system: bool = True) -> list[ChatMessage]:
    messages = [ChatMessage("system", "be nice")] if system else []
    for i in range(n_turns):
        messages += [ChatMessage("user", f"question {i} " + "x " * 5),
                     ChatMessage("assistant", f"answer {i} " + "y " * 5)]
    return [*messages, ChatMessage("user", "last question")]


def test_fits_untouched() -> None:
    messages = convo(2)
    fitted = fit_messages(messages, words, budget=1000)
    assert fitted.messages == tuple(messages) and fitted.dropped_messages == 0


def test_drops_oldest_turns_keeps_system_and_newest() -> None:
    messages = convo(5)
    fitted = fit_messages(messages, words, budget=40)
    assert len(fitted.ids) <= 40
    assert fitted.messages[0].role == "system"
    assert fitted.messages[-1].content == "last question"
    assert fitted.dropped_messages == len(messages) - len(fitted.messages) > 0
    # What is kept is a contiguous tail of whole turns.
    assert fitted.messages[1:] == tuple(messages[-(len(fitted.messages) - 1):])
    assert fitted.messages[1].role == "user"
    # And it is the longest tail that fits: one more turn would not.
    longer = [messages[0], *messages[-(len(fitted.messages) + 1):]]
    assert len(words(longer)) > 40


def test_drops_system_only_as_last_resort() -> None:
    messages = [ChatMessage("system", "s " * 30), ChatMessage("user", "hi there")]
    fitted = fit_messages(messages, words, budget=10)
    assert fitted.messages == (messages[-1],) and fitted.dropped_messages == 1


def test_message_too_long_for_context_is_a_clear_error() -> None:
    with pytest.raises(PromptTooLong, match="last message needs"):
        fit_messages(convo(1), lambda m: list(range(100 * len(m))), budget=50)


def test_turn_starts() -> None:
    messages = convo(2)
    assert turn_starts(messages) == [1, 3, 5]
