"""The one exception type the converter raises for bad input or failed conversions."""

from __future__ import annotations


class ConvertError(Exception):
    """A conversion failed for a reason the user can act on; the message is one line."""

    def __init__(self, message: str) -> None:
        # Messages are shown as-is on one line by the CLI, so collapse any newlines here.
        super().__init__(" ".join(str(message).split()))
