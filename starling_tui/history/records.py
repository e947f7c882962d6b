"""Plain records returned by the history store (no SQLite types leak out)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from starling_tui.types import Attachment


@dataclass(frozen=True)
class Conversation:
    """One conversation: its settings and the leaf of the branch being shown."""

    id: str
    title: str
    created_at: float
    updated_at: float
    model: str = ""
    mode: str = "auto"
    system_prompt: str = ""
    sampling: dict[str, Any] = field(default_factory=dict)
    current_leaf_id: int | None = None
    message_count: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Conversation:
        """Build from a ``conversations`` row (``message_count`` when the query has it)."""
        keys = row.keys()
        return cls(
            id=row["id"],
            title=row["title"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            model=row["model"],
            mode=row["mode"],
            system_prompt=row["system_prompt"],
            sampling=json.loads(row["sampling_json"] or "{}"),
            current_leaf_id=row["current_leaf_id"],
            message_count=row["message_count"] if "message_count" in keys else 0,
        )


@dataclass(frozen=True)
class Message:
    """One message; ``parent_id`` links it into the conversation's tree of branches."""

    id: int
    conversation_id: str
    parent_id: int | None
    role: str
    content: str
    created_at: float
    updated_at: float
    depth: int = 0  # 0 for the first message of a path; equals its index in the active path
    finish_reason: str | None = None  # assistant replies: stop/length/cancelled/error/incomplete
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    evaluated_tokens: int | None = None
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()  # files attached to it, in the order given

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Message:
        """Build from a ``messages`` row (its files are added by the store)."""
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            parent_id=row["parent_id"],
            role=row["role"],
            content=row["content"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            depth=row["depth"],
            finish_reason=row["finish_reason"],
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            evaluated_tokens=row["evaluated_tokens"],
            ttft_s=row["ttft_s"],
            tokens_per_s=row["tokens_per_s"],
            stats=json.loads(row["stats_json"] or "{}"),
        )


@dataclass(frozen=True)
class SearchHit:
    """A message matching a full-text search, with a highlighted excerpt."""

    conversation_id: str
    conversation_title: str
    message_id: int
    role: str
    snippet: str
    updated_at: float
    file_name: str = ""  # the attached file the match is in ('': the message's own text)
