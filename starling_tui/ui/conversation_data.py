"""Blocking history helpers the chat screen runs in thread workers (no Textual here).

They turn store records into what the widgets show (pages of the active branch with their
branch positions, sidebar rows) and build the engine request of a conversation.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from starling_tui.engine.base import ChatMessage, ChatRequest, SamplingOptions, TemplateMode
from starling_tui.history.records import Conversation, Message
from starling_tui.history.store import HistoryStore
from starling_tui.ui.widgets.chat_log import PAGE_SIZE, MessageEntry
from starling_tui.ui.widgets.sidebar import ConversationRow

SAMPLING_KEYS = {f.name for f in fields(SamplingOptions)}


def entry_for(store: HistoryStore, message: Message) -> MessageEntry:
    """A message with its position among its sibling branches."""
    siblings = store.siblings(message.id)
    ids = [s.id for s in siblings]
    position = ids.index(message.id) + 1 if message.id in ids else 1
    return MessageEntry(
        message.id, message.role, message.content, message.finish_reason,
        (position, max(len(ids), 1)),
    )


def load_page(
    store: HistoryStore, conversation_id: str, before_id: int | None = None,
    page_size: int = PAGE_SIZE,
) -> tuple[list[MessageEntry], bool]:
    """A page of the active branch (newest, or just above ``before_id``) and whether more exist."""
    messages = store.load_page(conversation_id, limit=page_size + 1, before_id=before_id)
    more_above = len(messages) > page_size
    page = messages[-page_size:] if more_above else messages
    return [entry_for(store, m) for m in page if m.role != "system"], more_above


def count_text(count: int) -> str:
    """``1 message`` / ``5 messages``."""
    return f"{count} message" + ("" if count == 1 else "s")


def context_in_use(store: HistoryStore, conversation_id: str) -> int:
    """Tokens the conversation filled at its last reply (prompt + reply), 0 if unknown."""
    for message in reversed(store.load_page(conversation_id, limit=2)):
        if message.role == "assistant" and message.prompt_tokens is not None:
            return message.prompt_tokens + (message.completion_tokens or 0)
    return 0


def sidebar_rows(store: HistoryStore, query: str = "", limit: int = 200) -> list[ConversationRow]:
    """Newest-first conversations, or one row per conversation matching a full-text search."""
    if not query:
        return [
            ConversationRow(c.id, c.title or "New chat", count_text(c.message_count))
            for c in store.list_conversations(limit=limit)
        ]
    rows: dict[str, ConversationRow] = {}
    for hit in store.search(query, limit=limit):
        if hit.conversation_id not in rows:
            snippet = " ".join(hit.snippet.split())
            rows[hit.conversation_id] = ConversationRow(
                hit.conversation_id, hit.conversation_title or "New chat", snippet
            )
    return list(rows.values())


def sampling_for(conversation: Conversation, defaults: SamplingOptions) -> SamplingOptions:
    """The app's sampling settings with the conversation's overrides applied."""
    overrides = {k: v for k, v in conversation.sampling.items() if k in SAMPLING_KEYS}
    return replace(defaults, **overrides)


def template_mode(conversation: Conversation) -> TemplateMode:
    """The conversation's prompt format (``code`` for coding mode)."""
    return "code" if conversation.mode == "code" else "auto"


def build_request(
    store: HistoryStore, conversation_id: str, defaults: SamplingOptions,
    *, until_id: int | None = None,
) -> ChatRequest:
    """The engine request continuing the active branch (up to ``until_id`` when given)."""
    conversation = store.get_conversation(conversation_id)
    path = store.active_path(conversation_id)
    if until_id is not None:
        ids = [m.id for m in path]
        path = path[: ids.index(until_id) + 1] if until_id in ids else path
    messages: list[ChatMessage] = []
    if conversation.system_prompt:
        messages.append(ChatMessage("system", conversation.system_prompt))
    for m in path:
        if m.role == "assistant" and not m.content:
            continue  # a reply that failed before any text: nothing to show the model
        if m.role in ("user", "assistant"):
            messages.append(ChatMessage(m.role, m.content))  # type: ignore[arg-type]
    return ChatRequest(
        tuple(messages), mode=template_mode(conversation),
        sampling=sampling_for(conversation, defaults), conversation_id=conversation_id,
    )


def conversation_markdown(conversation: Conversation, path: list[Message]) -> str:
    """The active branch of a conversation as a Markdown document."""
    lines = [f"# {conversation.title or 'Untitled chat'}", ""]
    if conversation.system_prompt:
        lines += ["**System:**", "", conversation.system_prompt, ""]
    for m in path:
        who = "You" if m.role == "user" else m.role.title()
        mark = f" _({m.finish_reason})_" if m.finish_reason not in (None, "stop") else ""
        lines += [f"## {who}{mark}", "", m.content, ""]
    return "\n".join(lines).rstrip() + "\n"


def export_markdown(store: HistoryStore, conversation_id: str, folder: Path) -> Path:
    """Write the active branch to ``folder/<title>-<id>.md`` atomically; return the path."""
    conversation = store.get_conversation(conversation_id)
    text = conversation_markdown(conversation, store.active_path(conversation_id))
    slug = "".join(ch if ch.isalnum() else "-" for ch in conversation.title.lower()).strip("-")
    target = folder / f"{slug[:40] or 'chat'}-{conversation.id}.md"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def sampling_overrides(conversation: Conversation) -> dict[str, Any]:
    """The conversation's own sampling values (for the settings form)."""
    return {k: v for k, v in conversation.sampling.items() if k in SAMPLING_KEYS}
