"""Pilot tests of what the engine reports about a reply: a loop-guard stop, and turns left out of
the model's window (the chat view marks where the model's view begins)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pilot_helpers import SIZE, chat, ready, send, views, wait_for

from starling_tui.engine.fake import FakeEngine
from starling_tui.history.store import HistoryStore
from starling_tui.types import ChatRequest
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.chat_log import ChatLog

MakeServices = Callable[..., Services]


class ReportingEngine(FakeEngine):
    """A scripted engine whose replies end with the finish reason and dropped-turn count the
    test sets, as the real engine reports a loop-guard stop or a context shift."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.finish_reason = "stop"
        self.dropped = 0

    def generate(self, request: ChatRequest) -> Iterator[str]:
        yield from super().generate(request)
        self._stats.finish_reason = self.finish_reason  # type: ignore[assignment]
        self._stats.dropped_messages = self.dropped


async def test_a_loop_guard_stop_is_marked_and_saved(
    make_services: MakeServices, store: HistoryStore
) -> None:
    engine = ReportingEngine(["a leaf's fate a leaf's fate a leaf's fate"])
    engine.finish_reason = "repetition"
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Write a haiku about autumn.")
        reply = views(pilot)[-1]
        assert reply.finish_reason == "repetition"
        assert reply.header_text() == "Assistant [cut: repeating itself]"
        saved = store.active_path(screen.conversation_id or "")[-1]
        assert saved.finish_reason == "repetition"


async def test_the_log_marks_where_the_model_view_begins(
    make_services: MakeServices, store: HistoryStore
) -> None:
    engine = ReportingEngine(["A1", "A2", "A3"])
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        log = screen.query_one(ChatLog)
        await send(pilot, "Q1")
        await send(pilot, "Q2")
        assert not log.query(".view-start")
        engine.dropped = 2  # Q1 and A1 were outside the window for the third reply
        await send(pilot, "Q3")
        await wait_for(pilot, lambda: bool(log.query(".view-start")), what="the mark")
        mark = log.query_one(".view-start")
        children = list(log.children)
        q2 = next(v for v in log.views() if v.content == "Q2")
        assert children.index(mark) + 1 == children.index(q2)
        assert "2 older turns" in str(mark.render())
        # reopening the conversation shows the mark again (from the saved reply's figures)
        await screen.action_new_chat()
        assert not log.query(".view-start")
        cid = store.list_conversations()[0].id
        screen.controller.open_conversation(cid)
        await wait_for(pilot, lambda: len(views(pilot)) == 6 and bool(log.query(".view-start")),
                       what="the mark after reopening")
        assert chat(pilot).conversation_id == cid
