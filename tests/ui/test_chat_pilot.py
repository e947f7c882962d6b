"""Pilot tests of the chat actions with the scripted FakeEngine and a real history store."""

from __future__ import annotations

from collections.abc import Callable

from pilot_helpers import SIZE, ready, send, shown, views, wait_for

from starling_tui.config import Settings
from starling_tui.engine.fake import FakeEngine
from starling_tui.history.store import HistoryStore
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.chat_log import ChatLog
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.status_line import StatusLine

MakeServices = Callable[..., Services]

async def test_send_streams_markdown_and_saves_both_messages(
    make_services: MakeServices, store: HistoryStore
) -> None:
    app = StarlingApp(make_services(["Sure: **bold** and `code`"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Hello there")
        assert shown(pilot) == [("user", "Hello there"), ("assistant", "Sure: **bold** and `code`")]
        (conv,) = store.list_conversations()
        assert conv.title == "Hello there" and conv.model == "fake-starling"
        path = store.active_path(conv.id)
        assert [(m.role, m.content, m.finish_reason) for m in path] == [
            ("user", "Hello there", None), ("assistant", "Sure: **bold** and `code`", "stop")]
        status = screen.query_one(StatusLine)
        assert status.stats is not None and status.stats.completion_tokens == 4
        assert status.context_used == status.stats.prompt_tokens + 4
        assert screen.query_one(PromptInput).text == ""
        rendered = " ".join(str(b.render()) for b in views(pilot)[1].query("MarkdownBlock"))
        assert "bold" in rendered and "**" not in rendered


async def test_escape_stops_and_keeps_the_partial_reply_marked(
    make_services: MakeServices, store: HistoryStore
) -> None:
    engine = FakeEngine([" ".join(f"w{i}" for i in range(400))], delay_s=0.01)
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.query_one(PromptInput).focus()
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: len(views(pilot)) == 2 and len(views(pilot)[1].content) > 20)
        await pilot.press("escape")
        controller = screen.controller
        await wait_for(pilot, lambda: controller.state.reply_id is None
                       and not controller.generating)
        reply = views(pilot)[1]
        assert reply.finish_reason == "cancelled" and "[stopped]" in reply.header_text()
        saved = store.active_path(screen.conversation_id or "")[-1]
        assert saved.finish_reason == "cancelled"
        assert saved.content == reply.content and 0 < len(saved.content.split()) < 400


async def test_regenerate_creates_a_sibling_reply_and_branch_keys_switch(
    make_services: MakeServices, store: HistoryStore
) -> None:
    sampled = Settings(temperature=0.7)  # at 0, ctrl+r first says the reply would repeat
    app = StarlingApp(make_services(["first answer", "second answer"], settings=sampled))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "question")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: shown(pilot)[-1] == ("assistant", "second answer")
                       and screen.controller.state.reply_id is None)
        assert len(views(pilot)) == 2 and views(pilot)[1].branch == (2, 2)
        user_id = store.active_path(screen.conversation_id or "")[0].id
        assert [m.content for m in store.children(user_id)] == ["first answer", "second answer"]
        await pilot.press("alt+left")
        await wait_for(pilot, lambda: shown(pilot)[-1] == ("assistant", "first answer"))
        assert views(pilot)[1].branch == (1, 2)
        await pilot.press("alt+right")
        await wait_for(pilot, lambda: shown(pilot)[-1] == ("assistant", "second answer"))


async def test_edit_an_earlier_message_resends_as_a_branch(
    make_services: MakeServices, store: HistoryStore
) -> None:
    app = StarlingApp(make_services(["A1", "A2", "A1 edited"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Q1")
        await send(pilot, "Q2")
        # select the first user message in the log and edit it
        log = screen.query_one(ChatLog)
        log.views()[0].focus()
        await pilot.press("f3")
        prompt = screen.query_one(PromptInput)
        editing = screen.controller.state.editing_id
        assert prompt.text == "Q1" and editing == log.views()[0].message_id
        assert screen.query_one("#edit-banner").has_class("-shown")
        prompt.load_text("Q1 better")
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(pilot) == [("user", "Q1 better"),
                                                       ("assistant", "A1 edited")]
                       and screen.controller.state.reply_id is None)
        assert views(pilot)[0].branch == (2, 2)
        assert [r.content for r in screen.services.engine.requests[-1].messages] == ["Q1 better"]  # type: ignore[attr-defined]
        # the old branch is still there, whole
        await pilot.press("alt+left")
        await wait_for(pilot, lambda: [t for _, t in shown(pilot)] == ["Q1", "A1", "Q2", "A2"])
        conv_id = screen.conversation_id or ""
        assert [m.content for m in store.active_path(conv_id)] == ["Q1", "A1", "Q2", "A2"]


async def test_copy_message_and_code_block_use_osc52(make_services: MakeServices) -> None:
    reply = "Here:\n\n```python\nprint('hi')\n```\n\nand\n\n```sh\nls\n```"
    app = StarlingApp(make_services([reply]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        written: list[str] = []
        driver = app._driver
        assert driver is not None
        original_write = driver.write
        driver.write = lambda data: (written.append(data), original_write(data))[1]  # type: ignore[method-assign]
        await send(pilot, "code please")
        await pilot.press("f5")
        assert app.clipboard == reply
        await pilot.press("f6")
        assert app.clipboard == "ls\n"
        assert any(w.startswith("\x1b]52;c;") for w in written)
        views(pilot)[1].focus()
        await pilot.press("f6")
        assert app.clipboard == "ls\n"
        views(pilot)[0].focus()
        await pilot.press("f5")
        assert app.clipboard == "code please"


async def test_new_chat_then_first_message_creates_a_second_conversation(
    make_services: MakeServices, store: HistoryStore
) -> None:
    app = StarlingApp(make_services(["one", "two"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "first chat")
        first_id = screen.conversation_id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(pilot) == [] and screen.conversation_id is None)
        assert len(store.list_conversations()) == 1  # nothing saved until a message is sent
        await send(pilot, "second chat")
        assert screen.conversation_id not in (None, first_id)
        assert [c.title for c in store.list_conversations()] == ["second chat", "first chat"]


async def test_view_follows_the_stream_only_while_at_the_bottom(
    make_services: MakeServices,
) -> None:
    long_reply = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(120))
    engine = FakeEngine([long_reply], delay_s=0.004)
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        log = screen.query_one(ChatLog)
        screen.query_one(PromptInput).focus()
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: log.max_scroll_y > 20, what="the reply to overflow")
        await wait_for(pilot, lambda: log.scroll_y >= log.max_scroll_y - 2, what="following")
        log.scroll_to(y=0, animate=False)  # the user scrolls up to read
        await pilot.pause()
        grown_from = log.max_scroll_y
        await wait_for(pilot, lambda: log.max_scroll_y > grown_from + 20, what="more text")
        assert log.scroll_y < 5  # not dragged back down
        log.scroll_end(animate=False)  # back at the bottom: following again
        await pilot.pause()
        await wait_for(pilot, lambda: screen.controller.state.reply_id is None,
                       what="the end of the reply")
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y, what="the bottom")


async def test_a_message_sent_follows_what_is_on_screen_not_another_process(
    make_services: MakeServices, store: HistoryStore
) -> None:
    app = StarlingApp(make_services(["first answer", "second answer"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "question")
        conversation = screen.conversation_id or ""
        shown_reply = store.active_path(conversation)[-1]
        # another process (say `ask --continue`) appends to the same conversation meanwhile
        other = store.add_message(conversation, "user", "from elsewhere")
        store.add_message(conversation, "assistant", "elsewhere's reply", parent_id=other.id)
        await send(pilot, "follow-up")
        mine = next(m for m in store.children(shown_reply.id) if m.content == "follow-up")
        assert mine.parent_id == shown_reply.id
        assert [m.content for m in store.children(mine.id)] == ["second answer"]
