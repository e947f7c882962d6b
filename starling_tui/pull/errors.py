"""The one exception ``pull`` raises for problems the user can act on."""

from __future__ import annotations

from starling_tui.errors import UserError


class PullError(UserError):
    """A pull failed; the message is one line, shown as-is by the CLI."""

    def __init__(self, message: str) -> None:
        # The CLI prints messages on one line, so collapse newlines from library errors here.
        super().__init__(" ".join(str(message).split()))
