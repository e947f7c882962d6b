"""Which turns the model sees once a conversation outgrows the window (``context_overflow``).

- ``drop``: the fewest oldest turns are left out (:func:`~.fit.fit_messages`); the engine
  re-evaluates whatever no longer matches its KV cache exactly.
- ``shift``: oldest turns are left out in chunks that free ``free_tokens`` of the window at
  once, so the first kept turn moves rarely and the engine can move its KV cache down instead
  of re-evaluating (:mod:`starling_tui.engine.worker.context_shift`).
- ``error``: a conversation that does not fit is refused with one line.

The choice is a pure function of the messages, the tokenizer and the window — never of what
some cache happens to hold — so a vocabulary-only preview (``tokens``, the F7 inspector) shows
the very ids that ``generate`` evaluates. For ``shift`` it replays the conversation turn by turn
as a chat would have grown: whenever the prompt passes the budget, whole oldest turns go until
``free_tokens`` are free. Turn sizes are measured one turn at a time (tokenizing each message
once); the final prompt is built for real and checked against the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

from starling_tui.prompt.fit import FittedPrompt, PromptTooLong, fit_messages, turn_starts
from starling_tui.types import ChatMessage, OverflowPolicy

Build = Callable[[Sequence[ChatMessage]], list[int]]


def fit_window(
    messages: Sequence[ChatMessage], build: Build, budget: int, *,
    policy: OverflowPolicy = "drop", free_tokens: int = 0,
) -> FittedPrompt:
    """The prompt for ``messages`` under ``policy`` (``budget``: tokens the prompt may use)."""
    ids = build(messages)
    if len(ids) <= budget:
        return FittedPrompt(tuple(messages), ids, 0)
    if policy == "error":
        raise PromptTooLong(
            f"the conversation needs {len(ids)} tokens but only {budget} fit in the context "
            "(context_overflow = error): start a new conversation or use a larger --ctx"
        )
    if policy == "shift":
        shifted = fit_in_chunks(messages, build, budget, free_tokens)
        if shifted is not None:
            return shifted
    return fit_messages(messages, build, budget)


def turn_sizes(messages: Sequence[ChatMessage], build: Build) -> tuple[int, list[int]]:
    """Tokens of the prompt without turns (system prompt, cue) and of each turn alone."""
    starts = turn_starts(messages)
    head = list(messages[: starts[0]])
    try:
        base = len(build(head))
    except ValueError:  # a template that cannot render without a user message
        base = 0
    bounds = [*starts, len(messages)]
    sizes = [len(build(head + list(messages[a:b]))) - base for a, b in pairwise(bounds)]
    return base, sizes


def first_kept_turn(base: int, sizes: Sequence[int], budget: int, free_tokens: int) -> int:
    """Replay the turns in order; when the prompt passes ``budget``, drop whole oldest turns
    until ``free_tokens`` are free (the newest turn always stays). Returns the first kept."""
    first, total = 0, base
    for newest, size in enumerate(sizes):
        total += size
        if total <= budget:
            continue
        while first < newest and total > budget - free_tokens:
            total -= sizes[first]
            first += 1
    return first


def fit_in_chunks(
    messages: Sequence[ChatMessage], build: Build, budget: int, free_tokens: int
) -> FittedPrompt | None:
    """The ``shift`` policy's prompt, or None when only dropping the system prompt would fit."""
    starts = turn_starts(messages)
    if len(starts) < 2:
        return None
    base, sizes = turn_sizes(messages, build)
    first = first_kept_turn(base, sizes, budget, free_tokens)
    head = list(messages[: starts[0]])
    for kept_from in range(first, len(starts)):  # the estimate was short: drop one more
        kept = head + list(messages[starts[kept_from] :])
        ids = build(kept)
        if len(ids) <= budget:
            return FittedPrompt(tuple(kept), ids, len(messages) - len(kept))
    return None
