"""From a stored conversation to the engine's request.

A conversation's *path* is the chain of messages from its root to one message (normally the
active branch's leaf). The engine sees the conversation's system prompt, then every non-empty
user and assistant message of the path, in the conversation's template mode. A user message
carries its attached files, in the order they were given, exactly as they were saved.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling_tui.history.records import Conversation, Message
from starling_tui.types import (
    Attachment,
    ChatMessage,
    ChatRequest,
    Role,
    SamplingOptions,
    TemplateMode,
)

_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant"}


def template_mode(conversation: Conversation | None, mode: str | None = None) -> TemplateMode:
    """The prompt format: ``mode`` when given, else the conversation's (``code`` or ``auto``)."""
    chosen = mode if mode is not None else (conversation.mode if conversation else "auto")
    return "code" if chosen == "code" else "auto"


def engine_messages(system_prompt: str, path: Sequence[Message]) -> tuple[ChatMessage, ...]:
    """The system prompt (when set), then the path's non-empty user and assistant messages.

    An empty message (a reply that failed before any text) would only show the model an
    empty turn, so it is left out; a user message with files but no text is not empty.
    """
    messages = [ChatMessage("system", system_prompt)] if system_prompt else []
    for message in path:
        role = _ROLES.get(message.role)
        files = tuple(message.attachments) if role == "user" else ()
        if role is not None and (message.content or files):
            messages.append(ChatMessage(role, message.content, files))
    return tuple(messages)


def build_request(
    conversation: Conversation | None,
    path: Sequence[Message],
    sampling: SamplingOptions,
    *,
    system_prompt: str = "",
    unsent: str | None = None,
    mode: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> ChatRequest:
    """The request continuing ``path``, with an ``unsent`` user message appended when given.

    ``attachments`` are the unsent message's files (a message of files alone is sent too).
    ``system_prompt`` is used when there is no conversation yet (a new chat's first message).
    """
    system = conversation.system_prompt if conversation is not None else system_prompt
    messages = engine_messages(system, path)
    if unsent or attachments:
        messages = (*messages, ChatMessage("user", unsent or "", tuple(attachments)))
    return ChatRequest(
        messages,
        mode=template_mode(conversation, mode),
        sampling=sampling,
        conversation_id=conversation.id if conversation is not None else None,
    )
