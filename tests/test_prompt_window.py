"""The overflow policies' choice of turns, and finding the gap a context shift removes."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import pytest

from starling_tui.engine.worker.context_shift import MIN_KEPT, find_shift, reusable
from starling_tui.prompt.fit import PromptTooLong, fit_messages
from starling_tui.prompt.window import first_kept_turn, fit_window
from starling_tui.types import ChatMessage

SYSTEM = ChatMessage("system", "s" * 10)


def build(messages: Sequence[ChatMessage]) -> list[int]:
    """One token per character, 2 per header, 1 for the cue: additive like a chat template."""
    ids = [0]
    for m in messages:
        ids += [1, 2] + [ord(c) for c in m.content]
    return ids


def chat(turns: int, size: int = 18) -> list[ChatMessage]:
    messages = [SYSTEM]
    for i in range(turns):
        messages += [ChatMessage("user", chr(65 + i % 26) * size),
                     ChatMessage("assistant", "a" * size)]
    return messages


def test_everything_fits_under_every_policy() -> None:
    for policy in ("shift", "drop", "error"):
        fitted = fit_window(chat(2), build, 1000, policy=policy, free_tokens=100)
        assert fitted.dropped_messages == 0 and fitted.ids == build(chat(2))


def test_error_refuses_in_one_line() -> None:
    with pytest.raises(PromptTooLong, match="context_overflow = error") as caught:
        fit_window(chat(10), build, 100, policy="error")
    assert "\n" not in str(caught.value)


def test_drop_is_the_fewest_turns() -> None:
    messages = chat(10)
    assert fit_window(messages, build, 150, policy="drop") == fit_messages(messages, build, 150)


def test_shift_drops_whole_turns_in_chunks_and_keeps_the_system_prompt() -> None:
    budget, free = 200, 100
    seen = []
    messages = [SYSTEM]
    for i in range(30):
        messages.append(ChatMessage("user", chr(65 + i % 26) * 18))
        fitted = fit_window(messages, build, budget, policy="shift", free_tokens=free)
        assert fitted.messages[0] == SYSTEM and len(fitted.ids) <= budget
        assert fitted.messages[1].role == "user" and fitted.messages[-1] == messages[-1]
        seen.append(fitted.dropped_messages)
        messages.append(ChatMessage("assistant", "a" * 18))
    changes = [b - a for a, b in pairwise(seen) if b != a]
    # Each change frees at least `free` tokens (turns of 40 tokens: 3 turns, 6 messages).
    assert changes and all(c >= 6 for c in changes)
    assert sorted(seen) == seen  # the first kept turn only moves forward as the chat grows
    # The drop policy would move the first kept turn at almost every message.
    assert len(changes) < len({fit_window(messages[: i + 1], build, budget).dropped_messages
                               for i in range(len(messages))})


def test_shift_choice_depends_only_on_the_messages() -> None:
    messages = chat(20)
    a = fit_window(messages, build, 300, policy="shift", free_tokens=75)
    b = fit_window(list(messages), build, 300, policy="shift", free_tokens=75)
    assert a == b and a.dropped_messages > 0


def test_first_kept_turn_replays_the_growth() -> None:
    assert first_kept_turn(10, [40] * 5, 100, 50) == 4  # 90 fits, 130 > 100: drop to <= 50
    assert first_kept_turn(10, [40, 40], 100, 50) == 0
    assert first_kept_turn(10, [200], 100, 50) == 0  # the newest turn always stays


def test_find_shift_removes_the_dropped_turns() -> None:
    head, dropped, kept, new = [1, 2, 3], list(range(100, 140)), list(range(200, 260)), [7, 8, 9]
    cached = head + dropped + kept
    shift = find_shift(cached, head + kept + new)
    assert shift is not None and (shift.start, shift.length) == (3, 40)
    assert shift.kept == len(kept) and shift.reused == 3 + len(kept)
    assert reusable(cached, head + kept + new, allow_shift=True) == 63
    assert reusable(cached, head + kept + new, allow_shift=False) == 3


def test_no_shift_for_a_short_accidental_match() -> None:
    cached = [1, 2, 3] + list(range(100, 140)) + [5] * (MIN_KEPT - 1) + [6]
    assert find_shift(cached, [1, 2, 3] + [5] * (MIN_KEPT - 1) + [9, 9]) is None
    assert find_shift([1, 2, 3], [1, 2, 3, 4]) is None  # nothing to remove
