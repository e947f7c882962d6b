"""Typed messages that thread workers post back to the chat screen.

Workers never touch widgets: they do the blocking engine or database work, precompute what the
widgets show, and post one of these. Handlers run in order on the event loop, so a reply's
chunks always land after the conversation view they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from starling_tui.engine.base import GenerationStats, ModelInfo, PromptPreview
from starling_tui.history.records import Conversation
from starling_tui.ui.draft_meter import DraftRoom
from starling_tui.ui.widgets.attachments import PendingFile
from starling_tui.ui.widgets.chat_log import MessageEntry
from starling_tui.ui.widgets.sidebar import ConversationRow


@dataclass
class ModelLoaded(Message):
    """The engine finished loading a model."""

    info: ModelInfo
    default_system: str = ""  # the system prompt the model's template adds by itself


@dataclass
class ModelLoadFailed(Message):
    """Loading a model failed; ``error`` is one line for the user."""

    path: str
    error: str


@dataclass
class SidebarLoaded(Message):
    """Fresh sidebar rows (a listing, or the search results for ``query``)."""

    rows: list[ConversationRow]
    query: str = ""


@dataclass
class ConversationLoaded(Message):
    """A conversation's newest page, ready to show (also after a branch switch)."""

    conversation: Conversation
    entries: list[MessageEntry]
    more_above: bool
    prompts: list[str] = field(default_factory=list)  # user prompts of the branch, for recall
    focus_id: int | None = None  # a message to select once shown
    context_used: int = 0  # tokens the last reply filled, for the context meter
    view_start: int | None = None  # the oldest message the model saw at the last reply
    dropped: int = 0  # turns the last reply's request left out to fit the context
    hit_id: int | None = None  # a search hit to scroll to and highlight


@dataclass
class ConversationDeleted(Message):
    """A conversation was deleted."""

    conversation_id: str


@dataclass
class OlderLoaded(Message):
    """The page above the oldest shown message."""

    conversation_id: str
    entries: list[MessageEntry]
    more_above: bool


@dataclass
class UserMessageAdded(Message):
    """The user's message was saved (in ``conversation``, created if it was new)."""

    conversation: Conversation
    entry: MessageEntry


@dataclass
class ReplyStarted(Message):
    """An empty assistant reply was saved and is about to stream."""

    conversation_id: str
    entry: MessageEntry


@dataclass
class ReplyChunk(Message):
    """New text of the streaming reply, batched by the worker."""

    message_id: int
    text: str


@dataclass
class ReplyFinished(Message):
    """The reply ended (stop, length, repetition, cancelled or error) and was saved."""

    conversation_id: str
    message_id: int
    finish_reason: str
    stats: GenerationStats
    view_start: int | None = None  # the oldest message the model saw (older turns left out)


@dataclass
class PreviewReady(Message):
    """The exact prompt of the next request, for the inspector."""

    preview: PromptPreview
    empty_message: bool = False  # the box was empty: the prompt holds an empty message


@dataclass
class PreviewDeferred(Message):
    """F7 came as a reply started: the inspector waits for the reply to end."""


@dataclass
class DraftCounted(Message):
    """The draft ``text``'s tokens against the room the window leaves it."""

    text: str
    room: DraftRoom


@dataclass
class SendRefused(Message):
    """The message ``text`` was not sent (it cannot fit the window): nothing was saved."""

    text: str
    error: str


@dataclass
class FileAttached(Message):
    """A file was read for the draft (its tokens are counted next)."""

    file: PendingFile


@dataclass
class FilesCounted(Message):
    """Token counts of files (the draft's chips, a shown message's files), by SHA-256."""

    tokens: dict[str, int]


@dataclass
class GreedyRegenerate(Message):
    """Regenerating was not done: at temperature 0 the reply would come out the same."""

    conversation_id: str


@dataclass
class Notice(Message):
    """A one-line notification from a worker (export done, copied…)."""

    text: str
    severity: str = "information"
