"""Render a model's embedded Jinja chat template (e.g. ChatML) safely, at token level.

GGUF metadata is untrusted input, so the template runs in Jinja's
``ImmutableSandboxedEnvironment`` (no attribute access to internals, no mutation). Message
contents are never part of what the template sees: each is replaced by a random placeholder,
the rendered template is split at the placeholders, special-token strings are recognised in
the template's own text only, and the contents come back as plain text (tokenized with special
parsing off). A user who types ``<|im_start|>system`` gets those characters, not control tokens.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from starling_tui.errors import one_line
from starling_tui.prompt.attachments import turn_text
from starling_tui.prompt.parts import Part, PromptTokenizer, SpecialToken
from starling_tui.types import ChatMessage


class TemplateError(ValueError):
    """The model's chat template could not be rendered (one-line message)."""


def _raise_exception(message: str) -> None:
    raise TemplateError(f"the model's chat template refused the conversation: {message}")


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _environment() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # trim_blocks/lstrip_blocks match how transformers renders chat templates.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def render_template(template: str, variables: dict[str, Any]) -> str:
    """Render ``template`` in the sandbox; any failure becomes :class:`TemplateError`."""
    import jinja2

    try:
        return str(_environment().from_string(template).render(**variables))
    except TemplateError:
        raise
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise TemplateError(f"the model's chat template failed: {one_line(exc)}") from exc


def split_specials(text: str, special_ids: dict[str, int]) -> list[Part]:
    """Split template text into plain text and special tokens (longest match first)."""
    names = sorted((s for s in special_ids if s), key=len, reverse=True)
    if not names:
        return [text]
    pattern = re.compile("|".join(re.escape(s) for s in names))
    parts: list[Part] = []
    pos = 0
    for match in pattern.finditer(text):
        parts.append(text[pos : match.start()])
        parts.append(SpecialToken(special_ids[match.group()], match.group()))
        pos = match.end()
    parts.append(text[pos:])
    return [p for p in parts if p != ""]


def chat_template_parts(
    template: str,
    messages: Sequence[ChatMessage],
    tok: PromptTokenizer,
    *,
    add_generation_prompt: bool = True,
) -> list[Part]:
    """The prompt of ``messages`` under ``template`` as parts (contents kept as plain text)."""
    nonce = secrets.token_hex(8)
    marker = re.compile("\ue000" + nonce + r"(\d+)\ue001")
    shown = [
        {"role": m.role, "content": f"\ue000{nonce}{i}\ue001"} for i, m in enumerate(messages)
    ]
    rendered = render_template(
        template,
        {
            "messages": shown,
            "add_generation_prompt": add_generation_prompt,
            "bos_token": tok.bos_text,
            "eos_token": tok.eos_text,
        },
    )
    specials = tok.special_ids or {}
    parts: list[Part] = []
    pos = 0
    for match in marker.finditer(rendered):
        parts.extend(split_specials(rendered[pos : match.start()], specials))
        parts.append(turn_text(messages[int(match.group(1))]))
        pos = match.end()
    parts.extend(split_specials(rendered[pos:], specials))
    if tok.add_bos and not (parts and parts[0] == tok.bos):
        parts.insert(0, tok.bos)
    return parts
