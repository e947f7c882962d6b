"""The scrolling body of a settings dialog.

Not focusable itself: a scroll container takes a Tab like any control, and the user sees
nothing focused (what they then type is lost). Tab moves between the fields; the form scrolls
the focused one into view.
"""

from __future__ import annotations

from textual.containers import VerticalScroll


class Form(VerticalScroll, can_focus=False):
    """A scrolling column of labelled fields that never takes the focus itself."""
