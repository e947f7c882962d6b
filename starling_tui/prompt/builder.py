"""Choose the prompt format for a model and build a request's prompt parts.

``auto`` means OpenChat for Starling (a vocabulary with ``<|end_of_turn|>``), the model's own
embedded chat template otherwise, and for a model without one the format chosen at load
(:func:`starling_tui.prompt.formats.choose_format`, the ``chat_format`` setting).
"""

from __future__ import annotations

from collections.abc import Sequence

from starling_tui.errors import EngineError
from starling_tui.prompt.chat_template import chat_template_parts
from starling_tui.prompt.formats import BUILTIN_FORMATS, OPENCHAT_EOT, builtin_parts
from starling_tui.prompt.openchat import openchat_parts
from starling_tui.prompt.parts import Part, PromptTokenizer
from starling_tui.types import ChatMessage, TemplateMode

# "openchat", "code", "chat_template" (the model's own) or a built-in format's name ("gemma"…)
PromptFormat = str
CODE_NEEDS_OPENCHAT = (
    "coding mode needs an OpenChat model (Starling); this model uses another prompt format"
)


def resolve_format(
    mode: TemplateMode, tok: PromptTokenizer, template: str | None,
    without_template: PromptFormat = "openchat",
) -> PromptFormat:
    """The concrete format for ``mode`` on a model with this tokenizer and template
    (``without_template``: the format chosen at load for a model that has none).

    ``code`` is OpenChat's coding prompt; on another model's vocabulary its turn separator
    would be plain text and the prompt nonsense, so it is refused with one line.
    """
    specials = tok.special_ids or {}
    if mode == "code" and OPENCHAT_EOT not in specials:
        raise EngineError(CODE_NEEDS_OPENCHAT)
    if mode in ("openchat", "code"):
        return mode
    if OPENCHAT_EOT in specials:
        return "openchat"
    return "chat_template" if template else without_template


def build_parts(
    messages: Sequence[ChatMessage], fmt: PromptFormat, tok: PromptTokenizer, template: str | None
) -> list[Part]:
    """Prompt parts of ``messages`` in format ``fmt`` (ending with the assistant cue)."""
    if fmt == "chat_template":
        return chat_template_parts(template or "", messages, tok)
    if fmt in BUILTIN_FORMATS:
        return builtin_parts(fmt, messages, tok)
    return openchat_parts(messages, "code" if fmt == "code" else "openchat", tok)
