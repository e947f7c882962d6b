"""Pilot tests of conversations, models, settings, errors and the palette (FakeEngine)."""

from __future__ import annotations

from collections.abc import Callable

from pilot_helpers import SIZE, chat, ready, seed, send, shown, type_ahead, views, wait_for

from starling_tui.history.store import HistoryStore
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.screens.confirm import ConfirmScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.chat_log import PAGE_SIZE, ChatLog
from starling_tui.ui.widgets.sidebar import Sidebar
from starling_tui.ui.widgets.status_line import StatusLine

MakeServices = Callable[..., Services]

def sidebar_ids(pilot) -> list[str]:  # type: ignore[no-untyped-def]
    option_list = chat(pilot).query_one(Sidebar).query_one("OptionList")
    return [option_list.get_option_at_index(i).id for i in range(option_list.option_count)]


async def test_opens_latest_conversation_and_sidebar_is_newest_first(
    make_services: MakeServices, store: HistoryStore
) -> None:
    ids = seed(store, ["owls", "bees", "cats"])
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await wait_for(pilot, lambda: sidebar_ids(pilot) == ids[::-1])
        await wait_for(pilot, lambda: screen.conversation_id == ids[-1])
        assert shown(pilot) == [("user", "tell me about cats"),
                                ("assistant", "cats are interesting")]
        # open another one from the sidebar
        option_list = screen.query_one(Sidebar).query_one("OptionList")
        option_list.focus()
        option_list.highlighted = 2
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(pilot)[0] == ("user", "tell me about owls"))
        await send(pilot, "and more?")
        assert [m.content for m in store.active_path(ids[0])][-2:] == [
            "and more?", "You said: and more?"]
        await wait_for(pilot, lambda: sidebar_ids(pilot)[0] == ids[0])  # now the newest


async def test_conversation_option_and_new_flag(
    make_services: MakeServices, store: HistoryStore
) -> None:
    ids = seed(store, ["owls", "bees"])
    app = StarlingApp(make_services(conversation_id=ids[0]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await wait_for(pilot, lambda: screen.conversation_id == ids[0])
    app = StarlingApp(make_services(new_chat=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.pause(0.2)
        assert screen.conversation_id is None and shown(pilot) == []


async def test_rename_and_delete_with_confirmation(
    make_services: MakeServices, store: HistoryStore
) -> None:
    ids = seed(store, ["owls", "bees"])
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await wait_for(pilot, lambda: screen.conversation_id == ids[1])
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "TextPromptScreen")
        await pilot.press(*"Bee facts", "enter")
        await wait_for(pilot, lambda: store.get_conversation(ids[1]).title == "Bee facts")
        # delete the *other* one from the sidebar, cancelling once first
        option_list = screen.query_one(Sidebar).query_one("OptionList")
        option_list.focus()
        await wait_for(pilot, lambda: sidebar_ids(pilot) == ids[::-1])
        option_list.highlighted = 1
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert len(store.list_conversations()) == 2
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: sidebar_ids(pilot) == [ids[1]])
        assert [c.id for c in store.list_conversations()] == [ids[1]]
        assert screen.conversation_id == ids[1]
        # deleting the shown conversation leaves an empty new chat
        screen.query_one("#prompt").focus()
        await pilot.press("ctrl+delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: screen.conversation_id is None and shown(pilot) == [])
        assert store.list_conversations() == []


async def test_search_filters_the_sidebar_with_full_text_hits(
    make_services: MakeServices, store: HistoryStore
) -> None:
    ids = seed(store, ["owls", "bees", "cats"])
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("ctrl+f")
        assert screen.focused is screen.query_one("#sidebar-search")
        await pilot.press(*"interesting bees")
        await wait_for(pilot, lambda: sidebar_ids(pilot) == [ids[1]])
        await pilot.press("enter")  # opens the top hit
        await wait_for(pilot, lambda: screen.conversation_id == ids[1])
        assert screen.focused is screen.query_one("#prompt")
        await pilot.press("ctrl+f", *["backspace"] * 16)
        await wait_for(pilot, lambda: len(sidebar_ids(pilot)) == 3)
        # Down: into the list (on the open chat, bees), down again to owls, Enter opens it
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: screen.conversation_id == ids[0])


async def test_keys_typed_right_after_a_focus_shortcut_land_in_the_new_place(
    make_services: MakeServices, store: HistoryStore
) -> None:
    ids = seed(store, ["owls", "bees"])
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        type_ahead(pilot, "ctrl+f", *"owls")
        await wait_for(pilot, lambda: sidebar_ids(pilot) == [ids[0]], what="the search hit")
        assert screen.query_one("#sidebar-search").value == "owls"
        assert screen.query_one("#prompt").text == ""
        type_ahead(pilot, "ctrl+n", *"hi")
        await wait_for(pilot, lambda: screen.query_one("#prompt").text == "hi",
                       what="the keys in the prompt box")
        # Enter typed before the hits for the new word are in opens that word's top hit,
        # not the row the list showed when Enter came
        type_ahead(pilot, "ctrl+f", *["backspace"] * 4, *"bees", "enter")
        await wait_for(pilot, lambda: screen.conversation_id == ids[1], what="the bees chat")
        await pilot.pause(0.2)
        assert screen.conversation_id == ids[1]


async def test_long_conversation_mounts_a_page_and_loads_older_on_scroll(
    make_services: MakeServices, store: HistoryStore
) -> None:
    conv = store.create_conversation()
    for i in range(200):
        store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: len(views(pilot)) == PAGE_SIZE)
        assert views(pilot)[-1].content == "message 199"
        log = chat(pilot).query_one(ChatLog)
        log.scroll_home(animate=False)
        await wait_for(pilot, lambda: len(views(pilot)) == 2 * PAGE_SIZE)
        assert views(pilot)[0].content == f"message {200 - 2 * PAGE_SIZE}"
        assert log.more_above


async def test_command_palette_lists_and_runs_chat_actions(make_services: MakeServices) -> None:
    app = StarlingApp(make_services(["a"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        titles = [c.title for c in app.get_system_commands(screen)]
        for expected in ["Stop (escape)", "Regenerate (ctrl r)", "Edit (f3)", "Copy (f5)",
                         "Copy code (f6)", "New chat (ctrl n)", "Export (f8)",
                         "Code mode (ctrl t)", "Chat settings (ctrl g)", "Inspect (f7)",
                         "Prev branch (alt left)", "Next branch (alt right)", "Model (ctrl o)",
                         "Settings (f9)", "Rename (f2)", "Delete chat (ctrl delete)"]:
            assert expected in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"code mode")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.controller.state.mode == "code")


async def test_no_color_is_respected(make_services: MakeServices, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.no_color
        assert any(type(f).__name__ in {"Monochrome", "NoColor"} for f in app._filters)
        status = chat(pilot).query_one(StatusLine)
        assert status.info is not None


async def test_up_recalls_the_prompts_of_the_opened_conversation(
    make_services: MakeServices, store: HistoryStore
) -> None:
    seed(store, ["owls"])
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await wait_for(pilot, lambda: len(shown(pilot)) == 2)
        prompt = screen.query_one("#prompt")
        prompt.focus()
        await pilot.press("up")
        assert prompt.text == "tell me about owls"  # type: ignore[attr-defined]
        await pilot.press("enter")
        state = screen.controller.state
        await wait_for(pilot, lambda: len(shown(pilot)) == 4 and state.reply_id is None)
        prompt.load_text("")  # type: ignore[attr-defined]
        await pilot.press("up")
        assert prompt.text == "tell me about owls"  # type: ignore[attr-defined]


async def test_the_settings_theme_is_used_and_an_unknown_one_is_said(
    make_services: MakeServices,
) -> None:
    from starling_tui.config import Settings

    def said() -> list[str]:
        return [n.message for n in app._notifications]

    app = StarlingApp(make_services(settings=Settings(theme="nord")))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "nord" and said() == []
    app = StarlingApp(make_services(settings=Settings(theme="no-such-theme")))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        (line,) = said()
        assert "unknown theme 'no-such-theme'" in line and "using textual-dark" in line
        assert "\n" not in line and app.theme == "textual-dark"
