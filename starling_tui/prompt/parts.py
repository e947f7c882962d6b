"""Prompt parts (text or special token ids) and how they become token ids.

Adjacent text parts are joined before tokenizing, so a role prefix and the message after it
tokenize exactly as the model's reference tokenizer splits the rendered prompt: on special
tokens only. Text is encoded with special parsing off; special tokens are inserted as ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SpecialToken:
    """A special token inserted by id (BOS, ``<|end_of_turn|>``, ``<|im_start|>``…)."""

    id: int
    text: str


Part = str | SpecialToken


@dataclass(frozen=True)
class PromptTokenizer:
    """The tokenizer as the prompt builders need it, injected as plain callables.

    ``encode`` turns text into ids with special-token parsing OFF and no BOS; it must add the
    tokenizer's usual leading-space handling (SentencePiece's dummy prefix at the start of a
    text run). ``special_ids`` maps the text of every special token to its id, for templates.
    """

    encode: Callable[[str], list[int]]
    bos_id: int
    eot_id: int
    bos_text: str = "<s>"
    eot_text: str = "<|end_of_turn|>"
    eos_text: str = "</s>"
    add_bos: bool = True
    special_ids: dict[str, int] | None = None

    @property
    def bos(self) -> SpecialToken:
        """The beginning-of-sequence token as a part."""
        return SpecialToken(self.bos_id, self.bos_text)

    @property
    def eot(self) -> SpecialToken:
        """The end-of-turn token as a part."""
        return SpecialToken(self.eot_id, self.eot_text)


def merge_text(parts: Sequence[Part]) -> list[Part]:
    """Join runs of adjacent text parts; drop empty text."""
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + part
                continue
        merged.append(part)
    return merged


def encode_parts(parts: Sequence[Part], encode: Callable[[str], list[int]]) -> list[int]:
    """Token ids of ``parts``: each text run encoded (special parsing off), specials as ids."""
    ids: list[int] = []
    for part in merge_text(parts):
        if isinstance(part, SpecialToken):
            ids.append(part.id)
        else:
            ids.extend(encode(part))
    return ids


def render_parts(parts: Sequence[Part]) -> str:
    """The prompt as text, special tokens written out (``<s>``, ``<|end_of_turn|>``)."""
    return "".join(p.text if isinstance(p, SpecialToken) else p for p in parts)
