"""Pilot tests of one conversation's own things: export, coding mode, its settings and the
prompt inspector (FakeEngine, real history store)."""

from __future__ import annotations

from collections.abc import Callable

from pilot_helpers import SIZE, chat, ready, send, wait_for

from starling_tui.engine.fake import FakeEngine
from starling_tui.history.store import HistoryStore
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.prompt_input import PromptInput

MakeServices = Callable[..., Services]

async def test_export_writes_markdown(make_services: MakeServices, isolated_home) -> None:  # type: ignore[no-untyped-def]
    app = StarlingApp(make_services(["An *answer*"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Export me")
        await pilot.press("f8")
        folder = isolated_home / "exports"
        await wait_for(pilot, lambda: folder.is_dir() and any(folder.iterdir()))
        (path,) = folder.iterdir()
        assert path.name == f"export-me-{screen.conversation_id}.md"
        assert "## You\n\nExport me" in path.read_text()
        assert "## Assistant\n\nAn *answer*" in path.read_text()


async def test_coding_mode_is_per_conversation(
    make_services: MakeServices, store: HistoryStore
) -> None:
    engine = FakeEngine(["x", "y", "z"])
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("ctrl+t")
        assert screen.query_one(PromptInput).border_title == "code mode"
        await send(pilot, "write quicksort")
        assert engine.requests[-1].mode == "code"
        coded = screen.conversation_id or ""
        assert store.get_conversation(coded).mode == "code"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.conversation_id is None)
        await send(pilot, "hello")
        assert engine.requests[-1].mode == "auto"
        await pilot.press("ctrl+t")  # on an existing conversation: saved to it
        await wait_for(pilot, lambda: store.get_conversation(screen.conversation_id or "").mode
                       == "code")
        assert store.get_conversation(coded).mode == "code"


async def test_conversation_settings_set_system_prompt_and_sampling(
    make_services: MakeServices, store: HistoryStore
) -> None:
    engine = FakeEngine(["a", "b"])
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "hi")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConversationSettingsScreen")
        dialog = app.screen
        dialog.query_one("#system-prompt").load_text("You are a pirate.")  # type: ignore[attr-defined]
        dialog.query_one("#sampling-temperature").value = "0.8"  # type: ignore[attr-defined]
        dialog.query_one("#sampling-max_tokens").value = "64"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        conv_id = screen.conversation_id or ""
        await wait_for(pilot, lambda: store.get_conversation(conv_id).system_prompt != "")
        conv = store.get_conversation(conv_id)
        assert conv.system_prompt == "You are a pirate."
        assert conv.sampling == {"temperature": 0.8, "max_tokens": 64}
        await send(pilot, "again")
        request = engine.requests[-1]
        assert request.messages[0].role == "system"
        assert request.messages[0].content == "You are a pirate."
        assert (request.sampling.temperature, request.sampling.max_tokens) == (0.8, 64)


async def test_conversation_settings_reject_bad_values(make_services: MakeServices) -> None:
    app = StarlingApp(make_services(["a"]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConversationSettingsScreen")
        app.screen.query_one("#sampling-top_p").value = "7"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConversationSettingsScreen"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is chat(pilot))


async def test_prompt_inspector_shows_the_engine_preview(make_services: MakeServices) -> None:
    engine = FakeEngine(["a"])
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "hi")
        screen.query_one(PromptInput).load_text("next question")
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "InspectorScreen")
        preview = app.screen.preview  # type: ignore[attr-defined]
        request = engine.requests[-1]
        assert preview.rendered.endswith(
            "GPT4 Correct User: next question<|end_of_turn|>GPT4 Correct Assistant:")
        assert "GPT4 Correct User: hi<|end_of_turn|>" in preview.rendered
        assert str(app.screen.query_one("#inspector-ids").render()) == str(list(preview.token_ids))
        assert len(request.messages) == 1  # the inspector asked the engine, generated nothing
        await pilot.press("escape")
        assert screen.query_one(PromptInput).text == "next question"
