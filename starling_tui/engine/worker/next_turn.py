"""Evaluate the start of the next user turn while the user is still typing it.

After a reply, the KV cache ends with the reply's last generated tokens; the end-of-turn marker
and the next turn's header (``<|end_of_turn|>GPT4 Correct User:`` for OpenChat, the same idea
in any chat template) are known before the user writes a word. Evaluating them in the idle time
after the reply leaves only the user's own text and the assistant header for the follow-up,
which is what its time to first token then pays.

The header is found without knowing the template: the prompts for two different one-letter
follow-ups share exactly the tokens that do not depend on what the user writes. Any later
request interrupts the work (the caller's ``interrupted``), and a follow-up that turns out
different (a regenerate, an edit, another mode) simply reuses less of the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from starling_tui.engine.worker.kv_sequence import KvSequence, common_prefix
from starling_tui.prompt.fit import FittedPrompt
from starling_tui.types import ChatMessage, ChatRequest

# More than this many tokens to evaluate means the cache does not hold this conversation
# (older turns were dropped to fit, or the template renders the reply differently): leave
# that to the real follow-up.
MAX_PREFILL_TOKENS = 64
_PROBES = ("x", "y")


def next_turn_prefix(plan: Callable[[ChatRequest], FittedPrompt], request: ChatRequest,
                     reply: str) -> list[int]:
    """The ids every follow-up to ``request`` answered with ``reply`` starts with."""
    history = (*request.messages, ChatMessage("assistant", reply))
    first, second = (plan(replace(request, messages=(*history, ChatMessage("user", probe)))).ids
                     for probe in _PROBES)
    return first[: common_prefix(first, second)]


def prefill(kv: KvSequence, prefix: list[int], interrupted: Callable[[], bool]) -> int:
    """Evaluate what the cache lacks of ``prefix``; returns the tokens evaluated.

    When the follow-up leaves the oldest turns out, the context shift happens here too, in
    the idle time, rather than in the follow-up's time to first token.
    """
    held = common_prefix(kv.tokens, prefix)
    missing = len(prefix) - (held if held == len(prefix) else max(held, kv.reusable(prefix)))
    if not 0 < missing <= MAX_PREFILL_TOKENS:
        return 0
    reused, was_interrupted = kv.eval_prompt(prefix, interrupted)
    return 0 if was_interrupted else len(prefix) - reused
