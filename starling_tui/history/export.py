"""Conversations as text: the JSON export and the plain view of ``history show``.

The Markdown export is the chat core's (:mod:`starling_tui.chat.export`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from starling_tui.history.records import Conversation, Message

EXPORT_FORMAT_VERSION = 1


def timestamp(seconds: float) -> str:
    """Local time as ``YYYY-MM-DD HH:MM``."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _status(message: Message) -> str:
    reason = message.finish_reason
    return f" ({reason})" if reason not in (None, "stop") else ""


def to_json(conversation: Conversation, messages: list[Message]) -> str:
    """The conversation and its active path as JSON (every stored field)."""
    document: dict[str, Any] = {
        "format": "starling-tui-conversation",
        "version": EXPORT_FORMAT_VERSION,
        "conversation": asdict(conversation),
        "messages": [asdict(m) for m in messages],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_text(conversation: Conversation, messages: list[Message]) -> str:
    """A plain terminal view: a header, then each message under its role."""
    header = f"{conversation.id}  {conversation.title or '(untitled)'}"
    details = [
        f"created {timestamp(conversation.created_at)}",
        f"updated {timestamp(conversation.updated_at)}",
    ]
    if conversation.model:
        details.append(f"model {conversation.model}")
    if conversation.mode != "auto":
        details.append(f"mode {conversation.mode}")
    lines = [header, "  ".join(details)]
    if conversation.system_prompt:
        lines += ["", "[system]", conversation.system_prompt]
    for message in messages:
        lines += ["", f"[{message.role}]{_status(message)}", message.content]
    return "\n".join(lines).rstrip() + "\n"
