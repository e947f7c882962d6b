"""Sentencepiece vocabularies with added tokens, special token ids and the chat template.

The base vocabulary comes from gguf's ``SentencePieceVocab``. Added tokens are typed from
``tokenizer_config.json``'s ``added_tokens_decoder``: the ones it marks ``special`` become
CONTROL tokens. (gguf marks every added token USER_DEFINED, which llama.cpp parses even in
untrusted text - a user could then type ``<|end_of_turn|>`` and end the assistant's turn.)
Special ids, add_bos/add_eos and the chat template come from gguf's ``SpecialVocab``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConvertError

_SPECIAL_TYPES = ("bos", "eos", "unk", "pad")


@dataclass
class Vocab:
    """Token texts, scores and types, plus gguf's SpecialVocab for ids/flags/template."""

    tokens: list[bytes] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    types: list[int] = field(default_factory=list)
    special: Any = None

    def add_to_gguf(self, writer: Any) -> None:
        """Write the tokenizer keys into the GGUF key/value section."""
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(self.tokens)
        writer.add_token_scores(self.scores)
        writer.add_token_types(self.types)
        self.special.add_to_gguf(writer, quiet=True)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, {} when absent; a one-line error when unreadable."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConvertError(f"cannot read {path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise ConvertError(f"{path.name} is not a JSON object")
    return data


def load_sentencepiece_vocab(folder: Path, vocab_size: int) -> Vocab:
    """Build the full vocabulary of ``vocab_size`` tokens from the checkpoint's tokenizer files."""
    import gguf

    if not (folder / "tokenizer.model").is_file():
        raise ConvertError(f"no tokenizer: {folder} has no sentencepiece tokenizer.model")
    try:
        spm = gguf.SentencePieceVocab(folder)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConvertError(f"cannot load tokenizer.model: {exc}") from None
    vocab = Vocab()
    for text, score, toktype in spm.sentencepiece_tokens():
        vocab.tokens.append(text)
        vocab.scores.append(score)
        vocab.types.append(int(toktype))
    tokenizer_config = read_json(folder / "tokenizer_config.json")
    for token_id, (content, special) in sorted(_added_tokens(folder, tokenizer_config).items()):
        _place_added_token(vocab, token_id, content, special)
    if len(vocab.tokens) > vocab_size:
        raise ConvertError(f"the tokenizer has {len(vocab.tokens)} tokens but config.json "
                           f"vocab_size is {vocab_size}")
    _pad_to(vocab, vocab_size)
    vocab.special = gguf.SpecialVocab(folder, n_vocab=vocab_size)
    _fill_special_ids(vocab, tokenizer_config)
    return vocab


def _added_tokens(folder: Path, tokenizer_config: dict[str, Any]) -> dict[int, tuple[str, bool]]:
    """id → (content, is_special) from added_tokens.json, refined by added_tokens_decoder."""
    added = {int(i): (str(c), False) for c, i in read_json(folder / "added_tokens.json").items()}
    for token_id, entry in (tokenizer_config.get("added_tokens_decoder") or {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("content"), str):
            added[int(token_id)] = (entry["content"], bool(entry.get("special")))
    return added


def _place_added_token(vocab: Vocab, token_id: int, content: str, special: bool) -> None:
    import gguf

    text = content.encode("utf-8")
    if token_id < len(vocab.tokens) and vocab.tokens[token_id] == text:
        return  # already in the sentencepiece model (<unk>, <s>, </s>) with its proper type
    _pad_to(vocab, token_id)
    if special:
        toktype = gguf.TokenType.CONTROL
    else:
        toktype = gguf.TokenType.USER_DEFINED
        text = content.replace("\u2581", " ").encode("utf-8")  # llama.cpp matches raw text
    entry = (text, -1000.0, int(toktype))
    if token_id < len(vocab.tokens):
        vocab.tokens[token_id], vocab.scores[token_id], vocab.types[token_id] = entry
    else:
        vocab.tokens.append(entry[0])
        vocab.scores.append(entry[1])
        vocab.types.append(entry[2])


def _pad_to(vocab: Vocab, size: int) -> None:
    """Fill ids up to ``size`` with unused placeholder tokens (as llama.cpp's converter does)."""
    import gguf

    while len(vocab.tokens) < size:
        vocab.tokens.append(f"[PAD{len(vocab.tokens)}]".encode())
        vocab.scores.append(-1000.0)
        vocab.types.append(int(gguf.TokenType.UNUSED))


def _fill_special_ids(vocab: Vocab, tokenizer_config: dict[str, Any]) -> None:
    """Resolve special ids that SpecialVocab could not (it needs tokenizer.json for that)."""
    ids = {text: i for i, text in enumerate(vocab.tokens)}
    for typ in _SPECIAL_TYPES:
        if typ in vocab.special.special_token_ids:
            continue
        entry = tokenizer_config.get(f"{typ}_token")
        content = entry.get("content") if isinstance(entry, dict) else entry
        if isinstance(content, str) and content.encode("utf-8") in ids:
            vocab.special.special_token_ids[typ] = ids[content.encode("utf-8")]
