"""What to call a reply's ending: the one wording of finish reasons for the app and exports.

A reply cut with finish reason ``length`` stopped either at ``max_tokens`` or because the
context window was full and nothing more could be shifted out; the reply's figures
(``GenerationStats.window_full``, saved in the message's stats) tell which, so the mark says
what happened instead of blaming a limit the user never set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FINISH_MARKS: dict[str, str] = {
    "cancelled": "stopped",
    "incomplete": "incomplete",
    "error": "failed",
    "length": "cut at max tokens",
    "repetition": "cut: repeating itself",  # the loop guard stopped it
}
WINDOW_FULL_MARK = "cut: context window full"


def finish_mark(reason: str | None, stats: Mapping[str, Any] | None = None) -> str | None:
    """The short mark for a reply that ended with ``reason`` (None for a normal end).

    ``stats``: the reply's saved figures (a message's ``stats``, or ``asdict`` of its
    ``GenerationStats``); a ``length`` stop with ``window_full`` is marked as a full window.
    """
    if reason == "length" and stats is not None and stats.get("window_full"):
        return WINDOW_FULL_MARK
    return FINISH_MARKS.get(reason or "")
