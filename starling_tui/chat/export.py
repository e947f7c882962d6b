"""The one export of a conversation: Markdown, JSON and the plain text of ``history show``.

Every form shows the active branch (the messages the app shows) of one conversation.

- Markdown (``history export``, the app's F8): the title, a short list of facts (id, created,
  model, mode), the system prompt, then each message under ``## You`` / ``## Assistant`` (a
  reply that did not end normally is marked, e.g. ``## Assistant _(cancelled)_``), its files
  after its text: a ``**File:**`` line (name, size) and the text in a fenced block.
- JSON (``history export --format json``): every stored field of the conversation and of each
  message, under a format name and version; a message's files are ``attachments``, each with
  its name, size, SHA-256 and text.
- Text (``history show``): a header line, then each message under ``[role]``, each file after
  a ``--- file: NAME (SIZE bytes) ---`` line.

Files are written through :mod:`starling_tui.atomic` (temp file in the target folder, fsync,
rename).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starling_tui.history.records import Conversation, Message
from starling_tui.history.store import HistoryStore
from starling_tui.prompt.attachments import fence_for, fence_language, shown_name
from starling_tui.types import Attachment

EXPORT_FORMAT_VERSION = 1
_SPEAKERS = {"user": "You", "assistant": "Assistant", "system": "System"}


def timestamp(seconds: float) -> str:
    """Local time as ``YYYY-MM-DD HH:MM``."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _unfinished(message: Message) -> str | None:
    """The finish reason worth showing: None for a normal end (or a user message)."""
    reason = message.finish_reason
    return None if reason in (None, "stop") else reason


def _heading(message: Message) -> str:
    who = _SPEAKERS.get(message.role, message.role.title())
    reason = _unfinished(message)
    return f"## {who} _({reason})_" if reason else f"## {who}"


def to_markdown(conversation: Conversation, path: Sequence[Message]) -> str:
    """The conversation and the messages of ``path`` as a Markdown document."""
    lines = [f"# {conversation.title or 'Untitled conversation'}", ""]
    lines.append(f"- id: `{conversation.id}`")
    lines.append(f"- created: {timestamp(conversation.created_at)}")
    if conversation.model:
        lines.append(f"- model: {conversation.model}")
    if conversation.mode != "auto":
        lines.append(f"- mode: {conversation.mode}")
    if conversation.system_prompt:
        lines += ["", "## System", "", conversation.system_prompt]
    for message in path:
        lines += ["", _heading(message), "", message.content]
        for attachment in message.attachments:
            lines += ["", *_markdown_file(attachment)]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_file(attachment: Attachment) -> list[str]:
    """A file as Markdown: its name and size, then its text in a fence it cannot close."""
    fence = fence_for(attachment.text)
    return [
        f"**File:** {shown_name(attachment.name)} ({attachment.size:,} bytes)",
        "",
        fence + fence_language(attachment.name),
        attachment.text.removesuffix("\n"),
        fence,
    ]


def _file_record(attachment: Attachment) -> dict[str, Any]:
    return {"name": attachment.name, "size": attachment.size, "sha256": attachment.sha256,
            "text": attachment.text}


def to_json(conversation: Conversation, path: Sequence[Message]) -> str:
    """The conversation and the messages of ``path`` as JSON (every stored field)."""
    document: dict[str, Any] = {
        "format": "starling-tui-conversation",
        "version": EXPORT_FORMAT_VERSION,
        "conversation": asdict(conversation),
        "messages": [
            {**asdict(m), "attachments": [_file_record(a) for a in m.attachments]} for m in path
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_text(conversation: Conversation, path: Sequence[Message]) -> str:
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
    for message in path:
        reason = _unfinished(message)
        status = f" ({reason})" if reason else ""
        lines += ["", f"[{message.role}]{status}", message.content]
        for attachment in message.attachments:
            name = shown_name(attachment.name)
            lines += [f"--- file: {name} ({attachment.size:,} bytes) ---",
                      attachment.text.removesuffix("\n")]
    return "\n".join(lines).rstrip() + "\n"


FORMATS = {"md": to_markdown, "json": to_json, "text": to_text}


def render(store: HistoryStore, conversation_id: str, form: str = "md") -> str:
    """The active branch of a conversation (an id or unique id prefix) in ``form``."""
    conversation = store.get_conversation(conversation_id)
    return FORMATS[form](conversation, store.active_path(conversation.id))


def conversation_markdown(store: HistoryStore, conversation_id: str) -> str:
    """The conversation's active branch as Markdown (an id or unique id prefix)."""
    return render(store, conversation_id, "md")


def file_name(conversation: Conversation, suffix: str = "md") -> str:
    """``<title-slug>-<id>.<suffix>``: readable, and unique per conversation."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in conversation.title.lower()).strip("-")
    return f"{slug[:40].strip('-') or 'chat'}-{conversation.id}.{suffix}"


def write(target: Path, text: str) -> Path:
    """Write ``text`` to ``target`` atomically (a folder is refused with one line)."""
    from starling_tui.atomic import write_text

    return write_text(target, text)
