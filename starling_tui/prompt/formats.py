"""Prompt formats for a model without a chat template, and which one such a model gets.

A GGUF without ``tokenizer.chat_template`` (a base model, a bare conversion) says nothing about
how a conversation should look. The ``chat_format`` setting chooses: one of llama.cpp's named
built-in templates that this module renders exactly as ``llama_chat_apply_template`` does
(``tests/test_prompt_formats.py`` compares the two), Starling's OpenChat, or ``auto``:

1. a vocabulary with Starling's ``<|end_of_turn|>`` token: OpenChat, the model's own;
2. the usual format of the GGUF architecture (``gemma3`` → gemma's turns, ``qwen2`` → ChatML…);
3. a format whose turn tokens the vocabulary has (``<|im_start|>`` → ChatML…);
4. else OpenChat, with a note saying that the model may not follow it.

Every choice but the first comes with a note (:attr:`FormatChoice.note`) that the CLI prints and
the app shows: the model did not say, so the user should know what was picked and how to change
it. As in :mod:`.chat_template`, message contents stay plain text: only the format's own text is
matched against the vocabulary's special tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starling_tui.prompt.attachments import turn_text
from starling_tui.prompt.chat_template import split_specials
from starling_tui.prompt.parts import Part, PromptTokenizer
from starling_tui.types import CHAT_FORMATS, ChatFormat, ChatMessage

OPENCHAT_EOT = "<|end_of_turn|>"
BUILTIN_FORMATS: tuple[ChatFormat, ...] = tuple(f for f in CHAT_FORMATS
                                                if f not in ("auto", "openchat"))

# The format each architecture's instruction-tuned models use.
ARCHITECTURE_FORMATS: dict[str, ChatFormat] = {
    "gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "gemma3n": "gemma",
    "qwen2": "chatml", "qwen2moe": "chatml", "qwen3": "chatml", "qwen3moe": "chatml",
    "phi3": "phi3",
}
# Turn tokens that name a format when the vocabulary has all of them (first match wins).
VOCABULARY_MARKERS: tuple[tuple[tuple[str, ...], ChatFormat], ...] = (
    (("<|im_start|>", "<|im_end|>"), "chatml"),
    (("<start_of_turn>", "<end_of_turn>"), "gemma"),
    (("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"), "llama3"),
    (("[SYSTEM_PROMPT]", "[INST]", "[/INST]"), "mistral-v7"),
    (("[INST]", "[/INST]"), "mistral-v3"),
    (("<|user|>", "<|assistant|>", "<|end|>"), "phi3"),
)


@dataclass(frozen=True)
class FormatChoice:
    """The format of a model's prompts in ``auto`` mode, chosen once at load."""

    format: str  # "openchat", "chat_template" (the model's own) or a built-in format's name
    note: str = ""  # set when the model has no chat template: what was chosen and why


def choose_format(
    tok: PromptTokenizer, template: str | None, architecture: str, chat_format: ChatFormat
) -> FormatChoice:
    """The format for a model with this vocabulary, embedded template and architecture.

    ``chat_format`` applies only to a model without a template (see the module's docstring).
    """
    specials = tok.special_ids or {}
    if OPENCHAT_EOT in specials:
        return FormatChoice("openchat")  # Starling's vocabulary: its own format, whatever else
    if template:
        return FormatChoice("chat_template")
    absent = "no chat template in the model"
    if chat_format != "auto":
        return FormatChoice(chat_format, f"{absent}: {chat_format} format, as chat_format says")
    if architecture in ARCHITECTURE_FORMATS:
        fmt = ARCHITECTURE_FORMATS[architecture]
        return FormatChoice(fmt, f"{absent}: {fmt} format, the usual one for its architecture "
                                 f"({architecture}); set chat_format to change it")
    for markers, fmt in VOCABULARY_MARKERS:
        if all(marker in specials for marker in markers):
            return FormatChoice(fmt, f"{absent}: {fmt} format, whose turn tokens its vocabulary "
                                     "has; set chat_format to change it")
    return FormatChoice("openchat", f"{absent} and no known format for its architecture "
                                    f"({architecture or 'unknown'}): Starling's OpenChat format, "
                                    "which it may not follow; set chat_format to choose one")


def strips_reply_space(fmt: str) -> bool:
    """Whether the format writes ``cue + " " + reply``: the reply's leading space is the
    format's, not the model's text (OpenChat's ``Assistant:``, Vicuna's, Mistral's)."""
    return fmt in ("openchat", "code", "vicuna", "mistral-v1", "mistral-v3", "mistral-v7")


def builtin_parts(
    fmt: str, messages: Sequence[ChatMessage], tok: PromptTokenizer
) -> list[Part]:
    """The prompt of ``messages`` in built-in format ``fmt``, as llama.cpp renders it (then
    BOS where the vocabulary adds one, as llama.cpp's tokenizer does)."""
    writer = _Writer(tok.special_ids or {})
    _RENDERERS[fmt](writer, messages)
    parts = writer.parts
    if tok.add_bos and not (parts and parts[0] == tok.bos):
        parts.insert(0, tok.bos)
    return parts


class _Writer:
    """Collects a prompt: the format's text (special tokens recognised) and plain contents."""

    def __init__(self, specials: dict[str, int]) -> None:
        self.specials = specials
        self.parts: list[Part] = []

    def text(self, text: str) -> None:
        """The format's own text: special-token strings in it become those tokens."""
        self.parts.extend(split_specials(text, self.specials))

    def content(self, text: str) -> None:
        """A message's content: plain text, whatever it contains."""
        if text:
            self.parts.append(text)


def _trim(text: str) -> str:
    """llama.cpp's ``trim``: C ``isspace`` characters off both ends."""
    return text.strip(" \t\n\v\f\r")


def _chatml(w: _Writer, messages: Sequence[ChatMessage]) -> None:
    for m in messages:
        w.text(f"<|im_start|>{m.role}\n")
        w.content(turn_text(m))
        w.text("<|im_end|>\n")
    w.text("<|im_start|>assistant\n")


def _gemma(w: _Writer, messages: Sequence[ChatMessage]) -> None:
    system = ""  # gemma has no system turn: it opens the next user turn
    for m in messages:
        if m.role == "system":
            system += _trim(turn_text(m))
            continue
        role = "model" if m.role == "assistant" else m.role
        w.text(f"<start_of_turn>{role}\n")
        if system and role != "model":
            w.content(system + "\n\n")
            system = ""
        w.content(_trim(turn_text(m)))
        w.text("<end_of_turn>\n")
    w.text("<start_of_turn>model\n")


def _llama3(w: _Writer, messages: Sequence[ChatMessage]) -> None:
    for m in messages:
        w.text(f"<|start_header_id|>{m.role}<|end_header_id|>\n\n")
        w.content(_trim(turn_text(m)))
        w.text("<|eot_id|>")
    w.text("<|start_header_id|>assistant<|end_header_id|>\n\n")


def _mistral(leading: str, trailing: str, trim_reply: bool) -> Callable[..., None]:
    def render(w: _Writer, messages: Sequence[ChatMessage]) -> None:
        inside = False
        for m in messages:
            if not inside:
                w.text(f"{leading}[INST]{trailing}")
                inside = True
            if m.role == "system":
                w.content(turn_text(m) + "\n\n")
            elif m.role == "user":
                w.content(turn_text(m))
                w.text(f"{leading}[/INST]")
            else:
                w.text(trailing)
                w.content(_trim(turn_text(m)) if trim_reply else turn_text(m))
                w.text("</s>")
                inside = False

    return render


def _mistral_v7(w: _Writer, messages: Sequence[ChatMessage]) -> None:
    for m in messages:
        if m.role == "system":
            w.text("[SYSTEM_PROMPT] ")
            w.content(turn_text(m))
            w.text("[/SYSTEM_PROMPT]")
        elif m.role == "user":
            w.text("[INST] ")
            w.content(turn_text(m))
            w.text("[/INST]")
        else:
            w.text(" ")
            w.content(turn_text(m))
            w.text("</s>")


def _phi3(w: _Writer, messages: Sequence[ChatMessage]) -> None:
    for m in messages:
        w.text(f"<|{m.role}|>\n")
        w.content(turn_text(m))
        w.text("<|end|>\n")
    w.text("<|assistant|>\n")


def _vicuna(w: _Writer, messages: Sequence[ChatMessage]) -> None:
    for m in messages:
        if m.role == "system":
            w.content(turn_text(m) + "\n\n")
        elif m.role == "user":
            w.text("USER: ")
            w.content(turn_text(m))
            w.text("\n")
        else:
            w.text("ASSISTANT: ")
            w.content(turn_text(m))
            w.text("</s>\n")
    w.text("ASSISTANT:")


def _zephyr(w: _Writer, messages: Sequence[ChatMessage]) -> None:
    for m in messages:
        w.text(f"<|{m.role}|>\n")
        w.content(turn_text(m))
        w.text("<|endoftext|>\n")
    w.text("<|assistant|>\n")


_RENDERERS: dict[str, Callable[[_Writer, Sequence[ChatMessage]], None]] = {
    "chatml": _chatml,
    "gemma": _gemma,
    "llama3": _llama3,
    "mistral-v1": _mistral(" ", " ", trim_reply=False),
    "mistral-v3": _mistral("", " ", trim_reply=True),
    "mistral-v7": _mistral_v7,
    "phi3": _phi3,
    "vicuna": _vicuna,
    "zephyr": _zephyr,
}
