"""The special tokens of the local GGUF's vocabulary, read from its header (no llama.cpp).

A text-only server tokenizes the prompt with special-token parsing on, so every control or
user-defined token string (``<|im_start|>``, ``<|end_of_turn|>``, ``<s>``…) that appears in
message text would become a control token there. This reads those strings, the BOS token's
text and whether the model adds BOS, from the same GGUF the prompt is built with, using the
project's header cursor (:mod:`starling_tui.models.gguf_reader`).
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starling_tui.errors import EngineError
from starling_tui.models.gguf_reader import MAX_KEY, Cursor

_ARRAY, _STRING = 9, 8
_UNKNOWN, _CONTROL, _USER_DEFINED = 2, 3, 4
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")
_WANTED = {"tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
           "tokenizer.ggml.bos_token_id", "tokenizer.ggml.add_bos_token"}


@dataclass(frozen=True)
class VocabSpecials:
    """What a text prompt must respect: special strings, and the BOS the server adds."""

    specials: tuple[str, ...]  # longest first
    bos_text: str
    add_bos: bool


def read_specials(path: str | Path) -> VocabSpecials:
    """The special-token strings of the GGUF at ``path``; EngineError when unreadable."""
    try:
        with open(path, "rb") as handle, mmap.mmap(
            handle.fileno(), 0, access=mmap.ACCESS_READ
        ) as buffer:
            meta = _read_tokenizer_keys(Cursor(buffer))
    except (OSError, ValueError, struct.error) as exc:
        raise EngineError(f"cannot read the vocabulary of {Path(path).name}: {exc}") from None
    tokens: list[str] = meta.get("tokenizer.ggml.tokens") or []
    types: list[int] = meta.get("tokenizer.ggml.token_type") or []
    special = {
        text for text, kind in zip(tokens, types, strict=False)
        if text and kind in (_UNKNOWN, _CONTROL, _USER_DEFINED) and not _BYTE_PIECE.fullmatch(text)
    }
    bos_id = meta.get("tokenizer.ggml.bos_token_id")
    bos_text = tokens[bos_id] if isinstance(bos_id, int) and 0 <= bos_id < len(tokens) else ""
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", True)) and bool(bos_text)
    return VocabSpecials(tuple(sorted(special, key=len, reverse=True)), bos_text, add_bos)


def _read_tokenizer_keys(cursor: Cursor) -> dict[str, Any]:
    if bytes(cursor.buffer[:4]) != b"GGUF":
        raise ValueError("not a GGUF file")
    cursor.offset = 4
    cursor.scalar("<I")  # version
    cursor.count()  # tensor count
    n_kv = cursor.count()
    found: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cursor.string(MAX_KEY)
        value_type = int(cursor.scalar("<I"))
        if key in _WANTED and value_type == _ARRAY:
            found[key] = _read_array(cursor)
        else:
            found[key] = cursor.value(value_type)
        if found.keys() >= _WANTED:
            break
    return found


def _read_array(cursor: Cursor) -> list[Any]:
    item_type = int(cursor.scalar("<I"))
    count = cursor.count()
    if item_type == _STRING:
        return [cursor.string() for _ in range(count)]
    if item_type == _ARRAY:
        raise ValueError("nested arrays in the tokenizer")
    return [cursor.value(item_type) for _ in range(count)]
