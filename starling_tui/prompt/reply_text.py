"""Where a reply's text starts: the space a prompt format writes before the reply is not its own.

OpenChat prompts end ``GPT4 Correct Assistant:`` and the format writes ``': ' + reply``, so a
SentencePiece model's first reply token (``▁Hello``: the Mistral v1 tokenizer Starling uses,
Gemma's…) carries a space that belongs to the format. The reply is kept without it: the next
turn's prompt, rendered from the saved text, then has the very ids the model saw, and every
engine (the local one, a remote server streaming the same tokens) saves the same text for the
same tokens. Which formats write that space:
:func:`starling_tui.prompt.formats.strips_reply_space`.
"""

from __future__ import annotations


class ReplyStart:
    """Feed it a reply's text pieces in order; with ``strip`` it drops the format's space."""

    def __init__(self, strip: bool) -> None:
        self._at_start = strip

    def text(self, piece: str) -> str:
        """``piece`` as the reply's text (the first non-empty piece loses one leading space)."""
        if self._at_start and piece:
            piece = piece[1:] if piece.startswith(" ") else piece
            self._at_start = not piece
        return piece
