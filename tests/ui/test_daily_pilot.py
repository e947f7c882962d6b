"""Pilot tests of the app as a daily driver: what a demanding user tripped over in one hour.

Each test reproduces one finding (line breaks, typed text turning into commands, F7 during a
reply, the context meter, dialogs, search, the small ones) with the scripted FakeEngine.
"""

from __future__ import annotations

from collections.abc import Callable

from pilot_helpers import SIZE, ready, screen_text, send, views

from starling_tui.ui.app import StarlingApp
from starling_tui.ui.services import Services

MakeServices = Callable[..., Services]


async def test_line_breaks_show_as_typed_and_as_the_model_wrote_them(
    make_services: MakeServices,
) -> None:
    reply = "Fruit, one per line:\nApples\nPears\n\n```\n  indented code\n```"
    app = StarlingApp(make_services([reply]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "Line one\nLine two\n    indented line three")
        lines = screen_text(pilot).splitlines()
        # each typed line on its own screen line, its indentation kept
        assert any(line.rstrip().endswith(" Line one") for line in lines)
        assert any(line.rstrip().endswith(" Line two") for line in lines)
        assert any(line.rstrip().endswith("     indented line three") for line in lines)
        assert not any("Line one Line two" in line for line in lines)
        # the model's line breaks stay: one fruit per line
        assert any(line.rstrip().endswith("Fruit, one per line:") for line in lines)
        assert any(line.rstrip().endswith(" Apples") for line in lines)
        assert any(line.rstrip().endswith(" Pears") for line in lines)
        assert views(pilot)[0].content == "Line one\nLine two\n    indented line three"
