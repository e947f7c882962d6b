"""The one Markdown export of a conversation (``history export``, the app's F8).

The document: the title, a short list of facts (id, created, model, mode), the system prompt,
then each message of the active branch under ``## You`` / ``## Assistant`` (a reply that did
not end normally is marked, e.g. ``## Assistant _(cancelled)_``). Files are written through
:mod:`starling_tui.atomic` (temp file in the target folder, fsync, rename).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starling_tui.history.export import timestamp
from starling_tui.history.records import Conversation, Message
from starling_tui.history.store import HistoryStore

_SPEAKERS = {"user": "You", "assistant": "Assistant", "system": "System"}


def _heading(message: Message) -> str:
    who = _SPEAKERS.get(message.role, message.role.title())
    reason = message.finish_reason
    return f"## {who} _({reason})_" if reason not in (None, "stop") else f"## {who}"


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
    return "\n".join(lines).rstrip() + "\n"


def file_name(conversation: Conversation) -> str:
    """``<title-slug>-<id>.md``: readable, and unique per conversation."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in conversation.title.lower()).strip("-")
    return f"{slug[:40].strip('-') or 'chat'}-{conversation.id}.md"


def write(target: Path, text: str) -> Path:
    """Write ``text`` to ``target`` atomically (a folder is refused with one line)."""
    from starling_tui.atomic import write_text

    return write_text(target, text)


def conversation_markdown(store: HistoryStore, conversation_id: str) -> str:
    """The conversation's active branch as Markdown (an id or unique id prefix)."""
    conversation = store.get_conversation(conversation_id)
    return to_markdown(conversation, store.active_path(conversation.id))
