"""What the chat screen's widgets show, read from the history store (blocking; no Textual).

Thread workers call these to turn store records into widget data: pages of the active branch
with each message's branch position, sidebar rows, the context meter's figure and where the
model's view of the conversation begins. Requests, sampling and export are the chat core's.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling_tui.history.records import Message
from starling_tui.history.store import HistoryStore
from starling_tui.ui.widgets.chat_log import PAGE_SIZE, MessageEntry
from starling_tui.ui.widgets.sidebar import ConversationRow


def entry_for(store: HistoryStore, message: Message) -> MessageEntry:
    """A message with its position among its sibling branches."""
    ids = [s.id for s in store.siblings(message.id)]
    position = ids.index(message.id) + 1 if message.id in ids else 1
    return MessageEntry(
        message.id, message.role, message.content, message.finish_reason,
        (position, max(len(ids), 1)), message.attachments,
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


def last_reply(store: HistoryStore, conversation_id: str) -> Message | None:
    """The newest assistant message of the active branch, if it is among the last two."""
    for message in reversed(store.load_page(conversation_id, limit=2)):
        if message.role == "assistant":
            return message
    return None


def ended_by_itself(reply: Message | None) -> bool:
    """Did ``reply`` end on its own (end of turn, a token limit, the loop guard), rather than
    being stopped, cut by an error or left unfinished?"""
    return reply is not None and reply.finish_reason not in (None, "cancelled", "error",
                                                             "incomplete")


def context_in_use(reply: Message | None) -> int:
    """Tokens the conversation filled at ``reply`` (prompt + reply), 0 if unknown."""
    if reply is None or reply.prompt_tokens is None:
        return 0
    return reply.prompt_tokens + (reply.completion_tokens or 0)


def first_seen_id(path: Sequence[Message], dropped: int) -> int | None:
    """The oldest message the model still saw when ``dropped`` turns were left out of the
    request built from ``path`` (the reply's parent path), or None when nothing was dropped.

    The request holds the path's non-empty user and assistant messages (the chat core's rule),
    and the engine drops the oldest of those first.
    """
    if dropped <= 0:
        return None
    sent = [m for m in path if m.role in ("user", "assistant") and m.content]
    return sent[dropped].id if dropped < len(sent) else None


def view_start(store: HistoryStore, reply: Message | None) -> tuple[int | None, int]:
    """Where the model's view began for ``reply``: (first message it saw, turns left out)."""
    if reply is None or reply.parent_id is None:
        return None, 0
    dropped = int(reply.stats.get("dropped_messages") or 0)
    if dropped <= 0:
        return None, 0
    return first_seen_id(store.path_to(reply.parent_id), dropped), dropped


def span_to(path_ids: Sequence[int], message_id: int, context: int, most: int) -> int | None:
    """How many of the newest messages to show so ``message_id`` is shown with ``context``
    messages above it (at least a page); None when that is more than ``most`` or the message
    is not on the path."""
    if message_id not in path_ids:
        return None
    span = len(path_ids) - path_ids.index(message_id) + context
    return max(span, PAGE_SIZE) if span <= most else None


def recall_prompts(store: HistoryStore, conversation_id: str) -> list[str]:
    """The user prompts of the active branch, oldest first (for Up recall)."""
    return [m.content for m in store.active_path(conversation_id) if m.role == "user"]


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
                hit.conversation_id, hit.conversation_title or "New chat", snippet,
                hit.message_id,
            )
    return list(rows.values())
