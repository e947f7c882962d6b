"""A conversation's own settings and the request of its next message (no engine needed).

:class:`~starling_tui.chat.core.ChatCore` delegates here; ``tokens`` uses the same functions
through it, so what it prints is what ``ask`` and the app send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from starling_tui.chat import sampling
from starling_tui.chat.path import build_request
from starling_tui.config import Settings
from starling_tui.history.records import Conversation, Message
from starling_tui.history.store import HistoryStore
from starling_tui.text import checked_text
from starling_tui.types import Attachment, ChatRequest


def create(
    store: HistoryStore,
    *,
    mode: str,
    model: str,
    system_prompt: str,
    sampling_overrides: Mapping[str, Any],
) -> Conversation:
    """An empty conversation storing only the sampling values the user set for it."""
    return store.create_conversation(
        model=model, mode=mode, system_prompt=system_prompt,
        sampling=sampling.merged_overrides({}, sampling_overrides),
    )


def configure(
    store: HistoryStore,
    conversation_id: str,
    *,
    mode: str | None = None,
    system_prompt: str | None = None,
    model: str | None = None,
    sampling_changes: Mapping[str, Any] | None = None,
    sampling_cleared: tuple[str, ...] = (),
    replace_sampling: bool = False,
) -> Conversation:
    """Change a conversation's own settings; ``None`` leaves a field as it is.

    Sampling stores only what the user changed: ``sampling_changes`` are added to the stored
    overrides (with ``replace_sampling`` they become the only ones), ``sampling_cleared`` keys
    go back to following the settings.
    """
    conversation = store.get_conversation(conversation_id)
    changes: dict[str, Any] = {}
    if mode is not None:
        changes["mode"] = mode
    if system_prompt is not None:
        changes["system_prompt"] = checked_text(system_prompt, "the system prompt")
    if model is not None:
        changes["model"] = model
    if sampling_changes is not None or sampling_cleared or replace_sampling:
        stored = {} if replace_sampling else conversation.sampling
        changes["sampling"] = sampling.merged_overrides(
            stored, sampling_changes or {}, sampling_cleared
        )
    return store.update_conversation(conversation.id, **changes)


def next_request(
    store: HistoryStore,
    settings: Settings,
    conversation_id: str | None,
    text: str | None = None,
    *,
    mode: str | None = None,
    system_prompt: str | None = None,
    sampling_changes: Mapping[str, Any] | None = None,
    attachments: Sequence[Attachment] = (),
) -> ChatRequest:
    """The request continuing the conversation's active path with ``text`` (if any) and the
    files ``attachments`` attached to it.

    ``conversation_id`` None is a new chat; ``mode``, ``system_prompt`` and
    ``sampling_changes`` stand in for changes not saved yet.
    """
    conversation: Conversation | None = None
    path: list[Message] = []
    if conversation_id is not None:
        conversation = store.get_conversation(conversation_id)
        path = store.active_path(conversation.id)
        if system_prompt is not None:
            conversation = replace(conversation, system_prompt=system_prompt)
    overrides = sampling.merged_overrides(
        conversation.sampling if conversation else {}, sampling_changes or {}
    )
    return build_request(
        conversation, path,
        sampling.layered(sampling.sampling_from_settings(settings), overrides),
        system_prompt=settings.system_prompt if system_prompt is None else system_prompt,
        unsent=text, mode=mode, attachments=attachments,
    )
