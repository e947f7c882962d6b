"""The one error type of the quality package: its message is a complete one-line explanation."""

from __future__ import annotations

from starling_tui.errors import UserError


class QualityError(UserError):
    """Bad input to an evaluation or an importance-matrix step (shown as one line, exit 1)."""
