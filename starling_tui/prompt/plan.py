"""A request's prompt: its format, the turns that fit the window, and their ids.

The one place that turns a :class:`~starling_tui.types.ChatRequest` into prompt ids, for
``generate`` and ``preview`` alike (the engine worker calls it with the loaded vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence

from starling_tui.prompt.builder import PromptFormat, build_parts, resolve_format
from starling_tui.prompt.fit import FittedPrompt
from starling_tui.prompt.parts import PromptTokenizer, encode_parts
from starling_tui.prompt.window import fit_window
from starling_tui.types import ChatMessage, ChatRequest, OverflowPolicy

DEFAULT_REPLY_ROOM = 512  # tokens kept free for a reply without max_tokens


def reply_room(max_tokens: int | None, n_ctx: int) -> int:
    """Tokens the prompt leaves free for the reply (at most half the window)."""
    return min(max_tokens if max_tokens else DEFAULT_REPLY_ROOM, n_ctx // 2)


def plan_prompt(
    request: ChatRequest, tok: PromptTokenizer, template: str | None, n_ctx: int, *,
    policy: OverflowPolicy, shift_share: float, room: int | None = None,
    without_template: PromptFormat = "openchat",
) -> tuple[FittedPrompt, PromptFormat]:
    """The fitted prompt of ``request`` in a window of ``n_ctx`` tokens, and its format.

    ``room``: tokens to keep free after the prompt (default: :func:`reply_room`);
    ``without_template``: the format chosen at load for a model without a chat template.
    Raises ``PromptTooLong`` (the conversation cannot fit) or ``ValueError`` (a chat template
    that failed to render).
    """
    fmt = resolve_format(request.mode, tok, template, without_template)

    def build(messages: Sequence[ChatMessage]) -> list[int]:
        return encode_parts(build_parts(messages, fmt, tok, template), tok.encode)

    if room is None:
        room = reply_room(request.sampling.max_tokens, n_ctx)
    budget = max(n_ctx - room, 1)
    fitted = fit_window(request.messages, build, budget, policy=policy,
                        free_tokens=int(shift_share * n_ctx))
    return fitted, fmt
