"""From a stored conversation to the engine's request.

A conversation's *path* is the chain of messages from its root to one message (normally the
active branch's leaf). The engine sees the conversation's system prompt, then every non-empty
user and assistant message of the path, in the conversation's template mode.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling_tui.history.records import Conversation, Message
from starling_tui.types import ChatMessage, ChatRequest, Role, SamplingOptions, TemplateMode

_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant"}


def template_mode(conversation: Conversation | None, mode: str | None = None) -> TemplateMode:
    """The prompt format: ``mode`` when given, else the conversation's (``code`` or ``auto``)."""
    chosen = mode if mode is not None else (conversation.mode if conversation else "auto")
    return "code" if chosen == "code" else "auto"


def engine_messages(system_prompt: str, path: Sequence[Message]) -> tuple[ChatMessage, ...]:
    """The system prompt (when set), then the path's non-empty user and assistant messages.

    An empty message (a reply that failed before any text) would only show the model an
    empty turn, so it is left out.
    """
    messages = [ChatMessage("system", system_prompt)] if system_prompt else []
    for message in path:
        role = _ROLES.get(message.role)
        if role is not None and message.content:
            messages.append(ChatMessage(role, message.content))
    return tuple(messages)


def build_request(
    conversation: Conversation | None,
    path: Sequence[Message],
    sampling: SamplingOptions,
    *,
    system_prompt: str = "",
    unsent: str | None = None,
    mode: str | None = None,
) -> ChatRequest:
    """The request continuing ``path``, with an ``unsent`` user message appended when given.

    ``system_prompt`` is used when there is no conversation yet (a new chat's first message).
    """
    system = conversation.system_prompt if conversation is not None else system_prompt
    messages = engine_messages(system, path)
    if unsent is not None and unsent:
        messages = (*messages, ChatMessage("user", unsent))
    return ChatRequest(
        messages,
        mode=template_mode(conversation, mode),
        sampling=sampling,
        conversation_id=conversation.id if conversation is not None else None,
    )
