"""Text from the user (arguments, stdin, environment) must be UTF-8 before it goes anywhere.

Python hands over argv and stdin bytes that are not UTF-8 as "surrogate escapes" (``b"\\xff"``
becomes ``"\\udcff"``); SQLite and the tokenizer refuse such strings half-way through a job.
Checking up front turns them into one clear line before anything is saved.
"""

from __future__ import annotations

import sys

from starling_tui.errors import UserError

_ESCAPES = range(0xDC80, 0xDD00)  # surrogateescape's stand-ins for the bytes 0x80..0xff


def describe_unicode_error(error: UnicodeError) -> str:
    """Where the bad byte or character is, e.g. ``byte 0xff at character 3``."""
    if isinstance(error, UnicodeDecodeError):
        return f"byte 0x{error.object[error.start]:02x} at byte {error.start}"
    if isinstance(error, UnicodeEncodeError):
        char = error.object[error.start]
        if ord(char) in _ESCAPES:
            return f"byte 0x{ord(char) - 0xDC00:02x} at character {error.start}"
        return f"character U+{ord(char):04X} at character {error.start}"
    return str(error)


def checked_text(text: str, what: str) -> str:
    """``text`` unchanged, or :class:`UserError` saying that ``what`` is not valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise UserError(
            f"{what} is not valid UTF-8 text ({describe_unicode_error(error)})"
        ) from None
    return text


def read_stdin(what: str) -> str:
    """All of stdin as text, checked (whichever error handler stdin was opened with)."""
    try:
        text = sys.stdin.read()
    except UnicodeDecodeError as error:
        raise UserError(
            f"{what} on stdin is not valid UTF-8 text ({describe_unicode_error(error)})"
        ) from None
    return checked_text(text, what)
