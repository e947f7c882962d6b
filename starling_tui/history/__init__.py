"""Persistent conversation history in SQLite (see :mod:`starling_tui.history.store`)."""

from starling_tui.errors import HistoryError
from starling_tui.history.records import Conversation, Message, SearchHit
from starling_tui.history.reply import ReplyWriter
from starling_tui.history.store import HistoryStore

__all__ = ["Conversation", "HistoryError", "HistoryStore", "Message", "ReplyWriter", "SearchHit"]
