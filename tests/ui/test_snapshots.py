"""Snapshot tests: fixed terminal size, no cursor blink, no timing-dependent figures.

Update after an intended visual change with ``pytest tests/ui/test_snapshots.py
--snapshot-update`` and review the SVGs in ``tests/ui/__snapshots__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pilot_helpers import SIZE, chat, ready, views, wait_for
from textual.pilot import Pilot

from starling_tui.history.store import HistoryStore
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.screens.welcome import WelcomeScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.status_line import StatusLine

MakeServices = Callable[..., Services]
Snap = Callable[..., bool]

REPLY = """Here is quicksort:

```python
def quicksort(xs):
    if len(xs) <= 1:
        return xs
    pivot, *rest = xs
    return quicksort([x for x in rest if x < pivot]) + [pivot] + quicksort(
        [x for x in rest if x >= pivot])
```

It runs in **O(n log n)** on average."""


def seed_conversation(store: HistoryStore) -> str:
    """A conversation with Markdown and code, a stopped reply and an edited branch."""
    older = store.create_conversation(title="Sorting a list in place")
    store.add_message(older.id, "user", "How do I sort in place?")
    conv = store.create_conversation()
    first = store.add_message(conv.id, "user", "Quicksort in Python?")
    store.edit_message(first.id, "Write quicksort in Python")
    store.add_message(conv.id, "assistant", REPLY, finish_reason="stop")
    store.add_message(conv.id, "user", "And in C?")
    stopped = store.add_message(conv.id, "assistant", "", finish_reason="incomplete")
    store.save_reply(stopped.id, "In C you would", finish_reason="cancelled",
                     stats={"prompt_tokens": 96, "completion_tokens": 4})
    return conv.id


async def still(pilot: Pilot[Any]) -> None:
    """No blinking cursor, no pending work."""
    screen = pilot.app.screen  # (App.query does not reach into the screens)
    for prompt in screen.query(PromptInput):
        if screen.focused is prompt:
            # back from the loading dialog, the box gets its Focus event a moment later; the
            # cursor is drawn only if blinking stops while it has focus
            await wait_for(pilot, lambda p=prompt: p.has_focus, what="focus back in the box")
        prompt.cursor_blink = False
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def test_chat_with_markdown_branch_and_stopped_reply(
    snap_compare: Snap, make_services: MakeServices, store: HistoryStore
) -> None:
    conversation_id = seed_conversation(store)
    app = StarlingApp(make_services())

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await wait_for(pilot, lambda: chat(pilot).conversation_id == conversation_id
                       and len(views(pilot)) == 4)
        # the draft meter's first count (a worker's) sets the room kept for the reply
        await wait_for(pilot, lambda: chat(pilot).query_one(StatusLine).reserve is not None,
                       what="the draft meter's count")
        await still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_welcome_screen(snap_compare: Snap, make_services: MakeServices) -> None:
    app = StarlingApp(make_services(model=""))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen))
        await still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_settings_screen(snap_compare: Snap, make_services: MakeServices) -> None:
    app = StarlingApp(make_services())

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("f9")
        await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "SettingsScreen")
        await still(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
