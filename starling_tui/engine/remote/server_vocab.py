"""The server's own tokenizer as the prompt builders need it: exact ids with no local GGUF.

Servers that take token ids also tokenize on request: llama-server's ``/tokenize`` (special-
token parsing on or off, BOS on request, each token's piece) and ``/detokenize``, vLLM's
``/tokenize`` and ``/detokenize`` (special tokens always parsed). From them this builds the
same :class:`~starling_tui.prompt.parts.PromptTokenizer` the local engine builds from its
vocabulary, so the one prompt builder (:func:`starling_tui.prompt.plan.plan_prompt`) renders,
fits and tokenizes the conversation in this process, exactly as the local engine would:

- *Special tokens* are the marker strings of the model's chat template (``<|im_start|>``,
  ``<start_of_turn>``, ``[INST]``…), BOS, EOS and OpenChat's ``<|end_of_turn|>``, each
  checked to be ONE token with special parsing on. A template marker that is not a single token
  is refused: the prompt would not mean what the template says.
- *Message text* is tokenized with special parsing off, so ``<|im_end|>`` typed by a user stays
  text. llama.cpp still matches user-defined tokens (Starling's ``<|end_of_turn|>``) in plain
  text; like the local vocabulary (:mod:`starling_tui.llama.vocab`), such a token found
  in message text is spelled out with byte tokens (a SentencePiece vocabulary) or character by
  character. vLLM cannot turn special parsing off: there the caller sends message text with
  special strings broken up (:mod:`.text_guard`) and says so.
- Each text's ids are remembered for the engine's lifetime: a follow-up costs one request per
  new message. What was learnt about the vocabulary is cached per server and model
  (:mod:`.probe_cache`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from starling_tui.engine.remote.transport import Transport
from starling_tui.errors import EngineError
from starling_tui.prompt.parts import PromptTokenizer

OPENCHAT_EOT = "<|end_of_turn|>"
# Marker-like strings a chat template may write as special tokens.
_MARKER = re.compile(r"<[^<>\s]{1,64}>|\[/?[A-Za-z_]{2,32}\]")
_LOOKS_SPECIAL = re.compile(r"<[^<>\s]+>")
_SPM = 1  # llama.cpp's LLAMA_VOCAB_TYPE_SPM: byte tokens <0x00>…<0xFF> in a row
_BYTE_FALLBACK_PROBE = "\ue000"  # a private-use character: no vocabulary has it as a token
_MEMO_SIZE = 4096


class TokenizerCalls(Protocol):
    """A server's tokenize/detokenize endpoints."""

    kind: str
    parses_special_always: bool  # True: special strings in text become specials (vLLM)

    def tokenize(self, text: str, *, special: bool, bos: bool = False) -> list[int]: ...
    def pieces(self, text: str) -> list[tuple[int, str | list[int]]]: ...
    def detokenize(self, ids: list[int]) -> str: ...


class LlamaServerCalls:
    """llama-server's ``/tokenize`` and ``/detokenize`` (at the server's root)."""

    kind = "llama-server"
    parses_special_always = False

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _tokenize(self, body: dict[str, Any]) -> list[Any]:
        path = self.transport.endpoint.path("/tokenize", api=False)
        reply = self.transport.call("POST", path, body)
        tokens = reply.get("tokens") if isinstance(reply, dict) else None
        if not isinstance(tokens, list):
            raise EngineError(f"{self.transport.endpoint.address}{path} returned no tokens")
        return tokens

    def tokenize(self, text: str, *, special: bool, bos: bool = False) -> list[int]:
        """Ids of ``text``; ``special``: parse special-token strings; ``bos``: add BOS."""
        tokens = self._tokenize({"content": text, "add_special": bos, "parse_special": special})
        return [int(t) for t in tokens]

    def pieces(self, text: str) -> list[tuple[int, str | list[int]]]:
        """(id, piece) of ``text`` as plain text; a piece that is no valid UTF-8 is its bytes."""
        tokens = self._tokenize({"content": text, "parse_special": False, "with_pieces": True})
        if not all(isinstance(t, dict) and "id" in t and "piece" in t for t in tokens):
            return []  # a build without pieces: byte tokens are then not used
        return [(int(t["id"]), t["piece"]) for t in tokens]

    def detokenize(self, ids: list[int]) -> str:
        """The text of ``ids``."""
        path = self.transport.endpoint.path("/detokenize", api=False)
        reply = self.transport.call("POST", path, {"tokens": ids})
        return str(reply.get("content", "")) if isinstance(reply, dict) else ""


class VllmCalls:
    """vLLM's ``/tokenize`` and ``/detokenize`` (special tokens are always parsed)."""

    kind = "vllm"
    parses_special_always = True

    def __init__(self, transport: Transport, model: str) -> None:
        self.transport = transport
        self.model = model

    def tokenize(self, text: str, *, special: bool, bos: bool = False) -> list[int]:
        """Ids of ``text`` (``special`` cannot be turned off here); ``bos``: add BOS."""
        path = self.transport.endpoint.path("/tokenize", api=False)
        reply = self.transport.call("POST", path, {"model": self.model, "prompt": text,
                                                   "add_special_tokens": bos})
        tokens = reply.get("tokens") if isinstance(reply, dict) else None
        if not isinstance(tokens, list):
            raise EngineError(f"{self.transport.endpoint.address}{path} returned no tokens")
        return [int(t) for t in tokens]

    def pieces(self, text: str) -> list[tuple[int, str | list[int]]]:
        """Not offered by vLLM: no pieces (byte tokens are then not used)."""
        return []

    def detokenize(self, ids: list[int]) -> str:
        """The text of ``ids``."""
        path = self.transport.endpoint.path("/detokenize", api=False)
        reply = self.transport.call("POST", path, {"model": self.model, "tokens": ids})
        return str(reply.get("prompt", "")) if isinstance(reply, dict) else ""


@dataclass(frozen=True)
class VocabFacts:
    """What the prompt builders need from a vocabulary, learnt from the server."""

    specials: dict[str, int]  # special-token string -> id (template markers, BOS, EOS, EOT)
    protected: tuple[int, ...]  # specials that plain-text tokenization still matches
    bos_id: int
    bos_text: str
    add_bos: bool
    eos_text: str
    eot_id: int
    eot_text: str
    byte_base: int | None  # id of the byte token <0x00>; None: no byte tokens

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the probe cache)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VocabFacts:
        """The facts of :meth:`to_json`; ValueError/TypeError/KeyError when malformed."""
        facts = cls(**{**data, "protected": tuple(data["protected"]),
                       "specials": {str(k): int(v) for k, v in data["specials"].items()}})
        if not isinstance(facts.bos_id, int) or not isinstance(facts.add_bos, bool):
            raise ValueError("malformed vocabulary facts")
        return facts


def marker_candidates(*texts: str) -> list[str]:
    """Marker-like strings (``<…>``, ``[INST]``) found in the template texts, once each."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _MARKER.finditer(text):
            found.setdefault(match.group(), None)
    return list(found)


def learn_vocab(calls: TokenizerCalls, *, template_texts: Iterable[str], bos_text: str,
                eos_text: str, vocab_type: int | None) -> VocabFacts:
    """Ask the server which strings are special tokens and how it adds BOS.

    ``template_texts``: the chat template and a rendering of it, whose markers are checked;
    EngineError names a marker of the template that is not a single token.
    """
    texts = list(template_texts)
    candidates = marker_candidates(*texts)
    extra = [s for s in (bos_text, eos_text, OPENCHAT_EOT) if s and s not in candidates]
    specials: dict[str, int] = {}
    protected: list[int] = []
    for text in candidates + extra:
        ids = calls.tokenize(text, special=True)
        if len(ids) != 1:
            continue
        specials[text] = ids[0]
        if (not calls.parses_special_always and _LOOKS_SPECIAL.fullmatch(text)
                and calls.tokenize(text, special=False) == ids):
            protected.append(ids[0])
    _check_template_markers(texts, specials)
    with_bos = calls.tokenize("", special=False, bos=True)
    add_bos = len(with_bos) == 1
    if not bos_text and add_bos:
        bos_text = calls.detokenize(with_bos)
        specials.setdefault(bos_text, with_bos[0])
    bos_id = with_bos[0] if add_bos else specials.get(bos_text, -1)
    eos_id = specials.get(eos_text, -1)
    eot_text = OPENCHAT_EOT if OPENCHAT_EOT in specials else eos_text
    eot_id = specials.get(eot_text, eos_id)
    byte_base = _byte_base(calls) if protected and vocab_type == _SPM else None
    return VocabFacts(specials, tuple(protected), bos_id, bos_text if bos_id >= 0 else "",
                      add_bos and bos_id >= 0, eos_text, eot_id, eot_text, byte_base)


def _check_template_markers(texts: list[str], specials: dict[str, int]) -> None:
    """A ``<|…|>`` marker the template writes must be a token of this vocabulary."""
    for text in marker_candidates(*texts):
        if text.startswith("<|") and text.endswith("|>") and text not in specials:
            raise EngineError(f"the server's tokenizer has no single token for the template's "
                              f"{text}: the prompt cannot be built with it")


def _byte_base(calls: TokenizerCalls) -> int | None:
    """The id of byte token 0x00 in a SentencePiece vocabulary with byte fallback."""
    pieces = calls.pieces(_BYTE_FALLBACK_PROBE)
    raw = _BYTE_FALLBACK_PROBE.encode("utf-8")
    if len(pieces) != len(raw) or not all(isinstance(p, list) for _, p in pieces):
        return None
    bases = {token - byte for (token, _), byte in zip(pieces, raw, strict=True)}
    return bases.pop() if len(bases) == 1 else None


class ServerVocab:
    """Plain-text tokenization on the server, remembered per text, with specials spelled out."""

    def __init__(self, calls: TokenizerCalls, facts: VocabFacts) -> None:
        self.calls = calls
        self.facts = facts
        self._memo: OrderedDict[str, tuple[int, ...]] = OrderedDict()
        self._protected = set(facts.protected)
        self._text_of = {token: text for text, token in facts.specials.items()}

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` as plain text: special parsing off, no BOS."""
        ids = self._memo.get(text)
        if ids is None:
            found = self.calls.tokenize(text, special=False)
            if not self._protected.isdisjoint(found):
                found = [t for token in found for t in (
                    self._spelled(token) if token in self._protected else [token])]
            ids = tuple(found)
            self._memo[text] = ids
            if len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(text)
        return list(ids)

    def _spelled(self, token: int) -> list[int]:
        """A user-defined special token found in plain text, as plain-text tokens."""
        text = self._text_of[token]
        base = self.facts.byte_base
        if base is not None:
            return [base + byte for byte in text.encode("utf-8")]
        return [t for char in text for t in self.calls.tokenize(char, special=False)]

    def prompt_tokenizer(self) -> PromptTokenizer:
        """The tokenizer the prompt builders take."""
        facts = self.facts
        return PromptTokenizer(
            encode=self.encode, bos_id=facts.bos_id, eot_id=facts.eot_id,
            bos_text=facts.bos_text, eot_text=facts.eot_text, eos_text=facts.eos_text,
            add_bos=facts.add_bos, special_ids=dict(facts.specials),
        )
