"""Fit a conversation into the context window by dropping its oldest turns.

A turn starts at a user message and runs until the next one. Leading system messages and the
newest turn are always kept; older turns go first. Only when the newest turn alone does not
fit is the system prompt dropped too, and only when even that fails is it an error. The number
of dropped messages is reported so the caller can tell the user.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starling_tui.types import ChatMessage


class PromptTooLong(ValueError):
    """Even the newest message alone does not fit the context."""


@dataclass(frozen=True)
class FittedPrompt:
    """The messages kept, their prompt ids and how many messages were left out."""

    messages: tuple[ChatMessage, ...]
    ids: list[int]
    dropped_messages: int


def turn_starts(messages: Sequence[ChatMessage]) -> list[int]:
    """Indexes where each turn (a user message, or the first non-system message) begins."""
    starts: list[int] = []
    for i, m in enumerate(messages):
        if m.role == "system" and not starts:
            continue
        if not starts or m.role == "user":
            starts.append(i)
    return starts


def fit_messages(
    messages: Sequence[ChatMessage],
    build: Callable[[Sequence[ChatMessage]], list[int]],
    budget: int,
) -> FittedPrompt:
    """Keep as many of the newest turns as fit ``budget`` tokens (binary search on turns)."""
    ids = build(messages)
    if len(ids) <= budget:
        return FittedPrompt(tuple(messages), ids, 0)
    starts = turn_starts(messages)
    head = [m for m in messages[: starts[0]]] if starts else list(messages)
    if not starts:
        raise PromptTooLong(f"the prompt needs {len(ids)} tokens but only {budget} fit")
    # Find the fewest dropped turns (1..len(starts)-1) that fit; fitting is monotonic.
    lo, hi, best = 1, len(starts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        kept = head + list(messages[starts[mid] :])
        candidate = build(kept)
        if len(candidate) <= budget:
            best, hi = (kept, candidate), mid - 1
        else:
            lo = mid + 1
    if best is None:
        newest = list(messages[starts[-1] :])
        candidate = build(newest)
        if len(candidate) > budget:
            raise PromptTooLong(
                f"the last message needs {len(candidate)} tokens but only {budget} fit in the "
                "context (use a larger --ctx or a shorter message)"
            )
        best = (newest, candidate)
    kept, kept_ids = best
    return FittedPrompt(tuple(kept), kept_ids, len(messages) - len(kept))
