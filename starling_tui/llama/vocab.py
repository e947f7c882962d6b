"""A loaded model's token tables (plain-text encoding, special tokens, the end of a turn)
and the bytes each token stands for.

Text is tokenized with special parsing off and no BOS. One catch: llama.cpp still matches
USER_DEFINED tokens in plain text with special parsing off (it pre-splits on them the way HF
tokenizers do), and gguf-py's ``SentencePieceVocab`` writes OpenChat's ``<|end_of_turn|>`` as
USER_DEFINED. Such special-looking tokens found in user text are replaced by the byte tokens of
their characters, so they stay plain text whatever the converter wrote. The prompt builders'
view of it is :func:`starling_tui.engine.worker.tokenizer.prompt_tokenizer`.
"""

from __future__ import annotations

import ctypes
import re
from typing import Any

from starling_tui.llama.backend import llama

_LOOKS_SPECIAL = re.compile(r"<[^<>\s]+>")
_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")
PIECE_BUFFER = 256  # bytes: room for nearly every token's text; a longer one is asked again


def token_piece(vocab: Any, token: int) -> bytes:
    """The bytes ``token`` stands for in generated text (control tokens: none), however long.

    ``vocab`` is a loaded model's ``llama_vocab`` pointer (``LlamaModel.vocab``).
    """
    lc = llama()
    buf = ctypes.create_string_buffer(PIECE_BUFFER)
    n = lc.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
    if n < 0:  # too small: llama.cpp answers minus the size it needs
        buf = ctypes.create_string_buffer(-n)
        n = lc.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
    return buf.raw[: max(n, 0)]


class LlamaVocab:
    """Token tables of one llama.cpp model, built once per load."""

    def __init__(self, model: Any) -> None:
        lc = llama()
        self.model = model
        self.special_ids: dict[str, int] = {}
        self.protected: set[int] = set()
        self.byte_ids: dict[int, int] = {}
        special_mask = (
            lc.LLAMA_TOKEN_ATTR_CONTROL
            | lc.LLAMA_TOKEN_ATTR_USER_DEFINED
            | lc.LLAMA_TOKEN_ATTR_UNKNOWN
        )
        for token in range(model.n_vocab()):
            attr = lc.llama_vocab_get_attr(model.vocab, token)
            if not attr & (special_mask | lc.LLAMA_TOKEN_ATTR_BYTE):
                continue
            text = lc.llama_vocab_get_text(model.vocab, token).decode("utf-8", "replace")
            if attr & lc.LLAMA_TOKEN_ATTR_BYTE and (m := _BYTE_TOKEN.fullmatch(text)):
                self.byte_ids[int(m.group(1), 16)] = token
            if attr & special_mask and text:
                self.special_ids.setdefault(text, token)
            if attr & lc.LLAMA_TOKEN_ATTR_USER_DEFINED and _LOOKS_SPECIAL.fullmatch(text):
                self.protected.add(token)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` as plain text: special parsing off, no BOS."""
        ids = self.model.tokenize(text.encode("utf-8"), False, False)
        if not self.protected or self.protected.isdisjoint(ids):
            return list(ids)
        out: list[int] = []
        for token in ids:
            out.extend(self._plain(token) if token in self.protected else [token])
        return out

    def _plain(self, token: int) -> list[int]:
        """A special-looking token spelled out as plain-text tokens."""
        raw = self.model.token_get_text(token).encode("utf-8")
        if self.byte_ids and all(b in self.byte_ids for b in raw):
            return [self.byte_ids[b] for b in raw]
        # No byte tokens (BPE vocab, no space prefix): one character at a time.
        return [t for ch in raw.decode() for t in self.model.tokenize(ch.encode(), False, False)]

    def token_text(self, token: int) -> str:
        """The vocabulary text of ``token`` (``<s>``, ``<|end_of_turn|>``…)."""
        return str(self.model.token_get_text(token))

    def boundary_ids(self) -> frozenset[int]:
        """Tokens a turn ends or begins with (control and special tokens, BOS, EOS, EOT):
        Self-Extend never groups across them
        (:mod:`starling_tui.engine.worker.positions`)."""
        ends = (int(self.model.token_bos()), int(self.model.token_eos()), self.eot_id())
        return frozenset(self.special_ids.values()) | {t for t in ends if t >= 0}

    def eot_id(self) -> int:
        """The end-of-turn token: ``<|end_of_turn|>`` for OpenChat, else EOT or EOS."""
        if "<|end_of_turn|>" in self.special_ids:
            return self.special_ids["<|end_of_turn|>"]
        eot = int(self.model.token_eot())
        return eot if eot >= 0 else int(self.model.token_eos())
