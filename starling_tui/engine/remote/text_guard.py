"""Keep message text from becoming control tokens on a server that only takes text.

Such a server tokenizes the whole prompt with special-token parsing on (so does vLLM's
tokenizer, even for plain text), so ``<|im_start|>`` typed in a message would open a new turn
there. Every special-token string of the vocabulary found in a message is neutralised by a
zero-width space after its first character: the text still reads the same, the tokenizer no
longer matches the token. The caller shows a note naming what was changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from starling_tui.types import ChatMessage

ZERO_WIDTH_SPACE = "\u200b"


def neutralise(text: str, specials: Sequence[str]) -> tuple[str, list[str]]:
    """``text`` with each special string broken up, and the strings that were found."""
    names = [s for s in specials if len(s) > 1]
    if not names or not any(s in text for s in names):
        return text, []
    pattern = re.compile("|".join(re.escape(s) for s in names))  # longest first: caller sorts
    found: list[str] = []

    def breakup(match: re.Match[str]) -> str:
        token = match.group()
        if token not in found:
            found.append(token)
        return token[0] + ZERO_WIDTH_SPACE + token[1:]

    return pattern.sub(breakup, text), found


def neutralise_messages(
    messages: Sequence[ChatMessage], specials: Sequence[str]
) -> tuple[tuple[ChatMessage, ...], list[str]]:
    """Every message and attached file neutralised; the special strings found in any."""
    found: list[str] = []
    out: list[ChatMessage] = []
    for message in messages:
        text, hits = neutralise(message.content, specials)
        files = []
        for attachment in message.attachments:
            file_text, file_hits = neutralise(attachment.text, specials)
            hits = [*hits, *file_hits]
            files.append(replace(attachment, text=file_text) if file_hits else attachment)
        found.extend(h for h in hits if h not in found)
        out.append(replace(message, content=text, attachments=tuple(files)) if hits else message)
    return tuple(out), found


def note_for(found: Sequence[str], server: str = "this text-only server") -> str:
    """The visible note for neutralised strings (``server``: whose tokenizer would misread them)."""
    listed = ", ".join(found[:3]) + (" …" if len(found) > 3 else "")
    return (f"note: {listed} in the conversation would be control tokens on {server}; sent "
            "with a zero-width space inside so they stay plain text")
