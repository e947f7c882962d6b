"""Starling's OpenChat prompt format, built at token level.

``<s>GPT4 Correct User: {text}<|end_of_turn|>GPT4 Correct Assistant: {reply}<|end_of_turn|>…
GPT4 Correct Assistant:`` and the coding mode with ``Code User:`` / ``Code Assistant:``. A
system message renders the way the model's own chat template renders any message,
``'GPT4 Correct ' + role.title() + ': ' + content + '<|end_of_turn|>'``, i.e.
``GPT4 Correct System: …`` (in both modes: the template knows no "Code System").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from starling_tui.prompt.attachments import turn_text
from starling_tui.prompt.parts import Part, PromptTokenizer, encode_parts
from starling_tui.types import ChatMessage

OpenChatMode = Literal["openchat", "code"]

_PREFIX = {"openchat": "GPT4 Correct", "code": "Code"}


def role_prefix(role: str, mode: OpenChatMode) -> str:
    """``GPT4 Correct User:``-style prefix of a message of ``role`` in ``mode``."""
    family = "GPT4 Correct" if role == "system" else _PREFIX[mode]
    return f"{family} {role.title()}:"


def openchat_parts(
    messages: Iterable[ChatMessage], mode: OpenChatMode, tok: PromptTokenizer
) -> list[Part]:
    """The prompt as parts: BOS, each message and its end-of-turn, the assistant cue."""
    parts: list[Part] = [tok.bos]
    for message in messages:
        parts.append(f"{role_prefix(message.role, mode)} {turn_text(message)}")
        parts.append(tok.eot)
    parts.append(role_prefix("assistant", mode))
    return parts


def build_openchat_ids(
    messages: Sequence[ChatMessage], mode: OpenChatMode, tok: PromptTokenizer
) -> list[int]:
    """Token ids of an OpenChat prompt for ``messages``, ending with the assistant cue."""
    return encode_parts(openchat_parts(messages, mode, tok), tok.encode)
