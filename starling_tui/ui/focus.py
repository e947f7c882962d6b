"""Move focus before the next key is handled.

Textual's ``Widget.focus()`` defers the move with ``call_later``, so keys already queued
(a fast typist's ctrl+f followed by a word arrives in one terminal read) still go to the
old widget: the search text would land in the message box. Every focus move a key can
trigger goes through here instead.
"""

from __future__ import annotations

from textual.widget import Widget


def focus_now(widget: Widget) -> None:
    """Give ``widget`` focus immediately, so the very next queued key reaches it."""
    widget.screen.set_focus(widget)
