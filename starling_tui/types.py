"""The value types every layer shares: messages, attachments, requests, sampling, policies.

This is the leaf of the package: it imports nothing from ``starling_tui``, so the engine, the
prompt builder, the history store and the settings table can all use the same types without
importing each other. User-facing defaults live in the settings table
(:mod:`starling_tui.config.settings`); the defaults written here are the sampler's neutral
values (greedy, no filtering, no limit), which a test keeps equal to the table's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal, get_args

Role = Literal["system", "user", "assistant"]
TemplateMode = Literal["openchat", "code", "auto"]
FinishReason = Literal["stop", "length", "cancelled", "error", "incomplete", "repetition"]
OverflowPolicy = Literal["shift", "drop", "error"]
GpuLayers = int | Literal["auto", "all"]
# The prompt format of a model without a chat template: "auto" (from its vocabulary or
# architecture), Starling's OpenChat, or one of llama.cpp's built-in templates by its name.
ChatFormat = Literal["auto", "openchat", "chatml", "gemma", "llama3", "mistral-v1", "mistral-v3",
                     "mistral-v7", "phi3", "vicuna", "zephyr"]

OVERFLOW_POLICIES: tuple[OverflowPolicy, ...] = get_args(OverflowPolicy)
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)
CHAT_FORMATS: tuple[ChatFormat, ...] = get_args(ChatFormat)


def overflow_policy(value: str) -> OverflowPolicy:
    """``value`` as an :data:`OverflowPolicy`; ``ValueError`` for anything else."""
    for policy in OVERFLOW_POLICIES:
        if value == policy:
            return policy
    raise ValueError(f"unknown context overflow policy {value!r}; use one of "
                     + ", ".join(OVERFLOW_POLICIES))


@dataclass(frozen=True)
class Attachment:
    """A text file attached to a user message: the name shown to the model and its exact text."""

    name: str
    text: str

    @property
    def size(self) -> int:
        """The text's size in bytes (UTF-8)."""
        return len(self.text.encode("utf-8"))

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the UTF-8 text: the key a file is stored under once."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, as the engine sees it (files only on user messages)."""

    role: Role
    content: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SamplingOptions:
    """How to pick tokens. Temperature 0 (greedy) is the model card's advice."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    seed: int = 0
    max_tokens: int | None = None  # None: until end of turn or the context is full
    loop_guard: bool = True  # stop a reply that keeps repeating the same span ("repetition")


@dataclass(frozen=True)
class ChatRequest:
    """A whole conversation to continue: the engine renders and tokenizes it."""

    messages: tuple[ChatMessage, ...]
    mode: TemplateMode = "auto"  # auto: OpenChat for Starling, else the model's own template
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    conversation_id: str | None = None  # lets the engine key saved KV states
