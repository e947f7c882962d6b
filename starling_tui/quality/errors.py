"""The one error type of the quality package: its message is a complete one-line explanation."""

from __future__ import annotations


class QualityError(Exception):
    """Bad input to an evaluation or an importance-matrix step (shown as one line, exit 1)."""
