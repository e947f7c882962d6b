"""The app's garbage-collector policy: settled objects are frozen, removed ones are freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator

import pytest
from pilot_helpers import SIZE, ready, send, views, wait_for

from starling_tui.ui import gc_pauses
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.services import Services

MakeServices = Callable[..., Services]


class Cycle:
    """An object only the cyclic collector can free (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def gc_restored() -> Iterator[None]:
    """Each test starts with nothing frozen and leaves the collector as it found it."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc_pauses.stop()
    gc.set_threshold(*threshold)


def test_settled_objects_survive_collections_until_released() -> None:
    gc_pauses.settle()
    assert gc.get_freeze_count() == 0  # not started: the collector is left alone
    gc_pauses.start()
    cycle = Cycle()
    ref = weakref.ref(cycle)
    gc_pauses.settle()
    del cycle
    gc.collect()
    assert ref() is not None  # frozen: full collections no longer walk (or free) it
    gc_pauses.release()
    assert ref() is None  # given back and collected
    assert gc.get_freeze_count() > 0  # the survivors are frozen again


def test_start_raises_the_young_threshold_and_stop_restores_it() -> None:
    default = gc.get_threshold()
    gc_pauses.start()
    assert gc.get_threshold() == (gc_pauses.YOUNG_THRESHOLD, *default[1:])
    assert gc.get_freeze_count() > 0
    gc_pauses.stop()
    assert gc.get_threshold() == default and gc.get_freeze_count() == 0


async def test_a_new_chat_frees_the_frozen_widgets_of_the_old_one(
    make_services: MakeServices,
) -> None:
    reply = "\n\n".join(f"## Part {i}\n\n- item **{i}**\n\n```\ncode {i}\n```" for i in range(20))
    app = StarlingApp(make_services([reply]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "go")
        frozen = gc.get_freeze_count()
        assert frozen > 0  # the finished reply was settled
        gone = weakref.ref(views(pilot)[1])
        await screen.action_new_chat()
        await wait_for(pilot, lambda: gone() is None, timeout=5, what="the old reply freed")
        assert gc.get_freeze_count() < frozen


async def test_a_reply_still_held_at_the_release_is_freed_once_let_go(
    make_services: MakeServices, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Something (here the test, in the app a worker finishing with it, or the log's cached
    arrangement) still refers to the old reply when the new chat releases the frozen widgets:
    it is frozen again with them, and a later release frees it once let go."""
    releases: list[int] = []
    release = gc_pauses.release

    def counted() -> None:
        releases.append(len(releases))
        release()

    monkeypatch.setattr(gc_pauses, "release", counted)
    app = StarlingApp(make_services(["## Part\n\n- item **1**\n\n```\ncode\n```"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "go")
        held = [views(pilot)[1]]
        gone = weakref.ref(held[0])
        await screen.action_new_chat()
        await wait_for(pilot, lambda: releases, what="the first release")
        assert gone() is not None
        held.clear()
        await wait_for(pilot, lambda: gone() is None, timeout=5, what="the old reply freed")


class RecordingApp(StarlingApp):
    """Records the table-of-contents messages that bubble up to the app."""

    contents_updates = 0

    def on_markdown_table_of_contents_updated(self) -> None:
        self.contents_updates += 1


async def test_reply_headers_do_not_send_table_of_contents_messages_to_the_app(
    make_services: MakeServices,
) -> None:
    # Such a message refers to the whole reply; left as the app's last processed message, it
    # kept a removed reply's widgets alive past the next release.
    app = RecordingApp(make_services(["## One\n\ntext\n\n## Two\n\nmore"]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "go")
        assert "Two" in str(views(pilot)[1].query("MarkdownH2").last().render())
        assert app.contents_updates == 0
