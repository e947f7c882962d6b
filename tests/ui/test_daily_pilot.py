"""Pilot tests of the app as a daily driver: what a demanding user tripped over in one hour.

Each test reproduces one finding (line breaks, typed text turning into commands, F7 during a
reply, the context meter, dialogs, search, the small ones) with the scripted FakeEngine.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from pilot_helpers import SIZE, ready, screen_text, send, views, wait_for
from textual.command import CommandPalette
from textual.widgets import Button, Input, OptionList, Select, Switch, TextArea
from textual.widgets._select import SelectOverlay

from starling_tui.config import Settings
from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo, PromptPreview
from starling_tui.engine.fake import FakeEngine
from starling_tui.errors import EngineError
from starling_tui.history.store import HistoryStore
from starling_tui.prompt.plan import reply_room
from starling_tui.types import ChatMessage, ChatRequest
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.focus import focus_now
from starling_tui.ui.screens.confirm import ConfirmScreen
from starling_tui.ui.screens.conversation_settings import ConversationSettingsScreen
from starling_tui.ui.screens.error import ErrorScreen
from starling_tui.ui.screens.inspector import InspectorScreen
from starling_tui.ui.screens.loading import LoadingScreen
from starling_tui.ui.screens.model_picker import ModelPickerScreen
from starling_tui.ui.screens.settings import SettingsScreen
from starling_tui.ui.screens.text_prompt import TextPromptScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.chat_log import ChatLog
from starling_tui.ui.widgets.message_view import MARKS
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.sidebar import Sidebar
from starling_tui.ui.widgets.status_line import StatusLine

MakeServices = Callable[..., Services]


class GatedEngine(FakeEngine):
    """A FakeEngine whose model load waits until the test opens the gate."""

    def __init__(self, gate: threading.Event, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = gate

    def load(self, options: EngineOptions) -> ModelInfo:
        """Wait for the gate, then load as the FakeEngine does."""
        self.gate.wait(30)
        return super().load(options)


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


async def test_typing_after_a_branch_switch_goes_to_the_prompt_box(
    make_services: MakeServices,
) -> None:
    sampled = Settings(temperature=0.7)  # at 0, ctrl+r first says the reply would repeat
    app = StarlingApp(make_services(["first answer", "second answer"], settings=sampled))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "question")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: views(pilot)[-1].content == "second answer"
                       and screen.controller.state.reply_id is None)
        prompt = screen.query_one(PromptInput)
        focus_now(prompt)
        await pilot.press("alt+left")
        await wait_for(pilot, lambda: views(pilot)[-1].content == "first answer")
        await pilot.press(*"hello")
        assert prompt.text == "hello" and prompt.has_focus
        assert screen.controller.state.editing_id is None


async def test_typing_on_a_selected_message_goes_to_the_prompt_box(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services(["no code here"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "question")
        prompt = screen.query_one(PromptInput)
        focus_now(views(pilot)[1])
        await pilot.press(*"yes, edit and copy")  # y, e and c were the message's actions
        assert prompt.text == "yes, edit and copy" and prompt.has_focus
        assert screen.controller.state.editing_id is None
        assert not screen.query_one("#edit-banner").has_class("-shown")
        assert not app._notifications  # no "No code block in that message"


async def test_typing_after_closing_an_error_dialog_goes_to_the_prompt_box(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services(["an answer"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "question")
        focus_now(views(pilot)[0])
        await app.push_screen(ErrorScreen("Engine error", "something failed"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press(*"a typed sentence")
        prompt = screen.query_one(PromptInput)
        assert prompt.text == "a typed sentence"
        assert screen.controller.state.editing_id is None


async def test_an_edit_keeps_the_draft_and_gives_it_back(make_services: MakeServices) -> None:
    app = StarlingApp(make_services(["an answer"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "question")
        prompt = screen.query_one(PromptInput)
        await pilot.press(*"half a thought")
        await pilot.press("f3")
        assert prompt.text == "question" and screen.controller.state.editing_id is not None
        await pilot.press("escape")  # cancel the edit: the draft comes back
        assert prompt.text == "half a thought"
        await pilot.press("f3")
        prompt.load_text("question, edited")
        await pilot.press("enter")
        await wait_for(pilot, lambda: views(pilot)[0].content == "question, edited"
                       and screen.controller.state.reply_id is None)
        assert prompt.text == "half a thought"  # sent the edit: the draft is back too


async def test_typing_while_the_model_loads_reaches_the_prompt_box(
    make_services: MakeServices,
) -> None:
    gate = threading.Event()
    engine = GatedEngine(gate)
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoadingScreen), what="loading")
        await pilot.press(*"early words")
        gate.set()
        screen = await ready(pilot)
        assert screen.query_one(PromptInput).text == "early words"


class DefaultSystemEngine(FakeEngine):
    """A FakeEngine whose template adds a system prompt of its own when none is given (as
    ChatML templates such as SmolLM2's do)."""

    def preview(self, request: ChatRequest) -> PromptPreview:
        """Prepend the template's default system turn to a request that has none."""
        if request.messages and request.messages[0].role != "system":
            default = ChatMessage("system", "You are a fake helper.")
            request = replace(request, messages=(default, *request.messages))
        return super().preview(request)


class BusyPreviewEngine(FakeEngine):
    """A FakeEngine that notes each prompt preview asked for while a reply streams (the real
    engine serves one request at a time: such a preview ends the reply)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.streaming_thread: int | None = None
        self.previews_mid_reply = 0

    def generate(self, request: ChatRequest) -> Iterator[str]:
        """Stream as the FakeEngine does, marking the stream as busy."""
        self.streaming_thread = threading.get_ident()
        try:
            yield from super().generate(request)
        finally:
            self.streaming_thread = None

    def preview(self, request: ChatRequest) -> PromptPreview:
        """Count a preview asked for by another thread mid-reply, then build it."""
        busy = self.streaming_thread not in (None, threading.get_ident())
        self.previews_mid_reply += busy
        return super().preview(request)


async def test_f7_during_a_reply_waits_for_it_instead_of_touching_it(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    engine = BusyPreviewEngine([" ".join(f"w{i}" for i in range(200))], delay_s=0.02)
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: len(views(pilot)) == 2 and views(pilot)[1].content)
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen))
        assert app.screen.preview is None  # type: ignore[attr-defined]
        assert "waiting for the reply to end" in screen_text(pilot)
        await wait_for(pilot, lambda: app.screen.preview is not None)  # type: ignore[attr-defined]
        assert engine.previews_mid_reply == 0
        saved = store.active_path(screen.conversation_id or "")[-1]
        assert saved.finish_reason == "stop" and "w199" in app.screen.preview.rendered  # type: ignore[attr-defined]


async def test_a_new_chat_takes_its_system_prompt_before_the_first_message(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    engine = FakeEngine(["Short."])
    app = StarlingApp(make_services(engine=engine, new_chat=True))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConversationSettingsScreen))
        await pilot.press(*"Be brief.", "ctrl+s")  # the system prompt box has the focus
        await wait_for(pilot, lambda: not isinstance(app.screen, ConversationSettingsScreen))
        await send(pilot, "hi")
        (conversation,) = store.list_conversations()
        assert conversation.system_prompt == "Be brief."
        first = engine.requests[-1].messages[0]
        assert (first.role, first.content) == ("system", "Be brief.")


def visible_control(widget: object) -> bool:
    """A control the user can see take the focus (not a scroll container or the dialog)."""
    return isinstance(widget, (Input, TextArea, Switch, Select, Button, SelectOverlay))


async def test_dialogs_focus_a_visible_control_and_tab_moves_between_controls(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services(["ok"]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        for key, dialog in (("ctrl+g", ConversationSettingsScreen), ("f9", SettingsScreen)):
            await pilot.press(key)
            await wait_for(pilot, lambda d=dialog: isinstance(app.screen, d))  # type: ignore[misc]
            for _ in range(4):
                assert visible_control(app.screen.focused), app.screen.focused
                await pilot.press("tab")
            await pilot.press("escape")
            await wait_for(pilot, lambda d=dialog: not isinstance(app.screen, d))  # type: ignore[misc]


async def test_dialogs_show_their_keys_and_bordered_fields(make_services: MakeServices) -> None:
    app = StarlingApp(make_services(["ok"]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConversationSettingsScreen))
        temperature = app.screen.query_one("#sampling-temperature", Input)
        assert temperature.styles.border_top[0] not in ("", "none", "hidden")
        assert "ctrl+s" in str(app.screen.query_one("#save", Button).label)
        await pilot.press("escape")
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        assert "ctrl+s" in str(app.screen.query_one("#save", Button).label)
        threads = app.screen.query_one("#setting-threads").query_one(Input)
        assert threads.styles.border_top[0] not in ("", "none", "hidden")


async def test_an_empty_system_prompt_box_shows_the_model_s_default(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services(["ok"], engine=DefaultSystemEngine(["ok"])))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConversationSettingsScreen))
        box = app.screen.query_one("#system-prompt", TextArea)
        assert box.text == "" and "You are a fake helper." in str(box.placeholder)
        await pilot.press("escape")
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        row = app.screen.query_one("#setting-system_prompt").query_one(Input)
        assert "You are a fake helper." in str(row.placeholder)


def seed_long_chat(store: HistoryStore, word: str, at: int, turns: int = 20) -> tuple[str, int]:
    """A conversation of ``turns`` exchanges, ``word`` only in user message number ``at``;
    returns its id and that message's id."""
    conversation = store.create_conversation(title=f"long chat about {word}")
    hit = 0
    for n in range(turns):
        text = f"question {n} about {word}" if n == at else f"question {n}"
        message = store.add_message(conversation.id, "user", text)
        hit = message.id if n == at else hit
        store.add_message(conversation.id, "assistant", f"answer {n}\n\nmore\n\nlines",
                          finish_reason="stop")
    return conversation.id, hit


async def test_a_search_hit_opens_scrolled_to_the_match_and_highlighted(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    cid, hit = seed_long_chat(store, "feudalism", at=2)
    store.create_conversation()  # a newer, empty chat opens at start
    app = StarlingApp(make_services(new_chat=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("ctrl+f", *"feudalism")
        await wait_for(pilot, lambda: screen.query_one(Sidebar).highlighted_id == cid)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.conversation_id == cid
                       and any(v.message_id == hit for v in views(pilot)))
        log = screen.query_one(ChatLog)
        view = log.view_for(hit)
        assert view is not None and view.has_class("search-hit")
        await wait_for(pilot, lambda: log.scrollable_content_region.overlaps(view.region),
                       what="the match scrolled into view")
        assert "question 2 about feudalism" in screen_text(pilot)
        assert screen.query_one(PromptInput).has_focus  # typing goes on in the prompt box


async def test_escape_in_the_search_box_clears_it(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    seed_long_chat(store, "owls", at=0, turns=1)
    seed_long_chat(store, "bees", at=0, turns=1)
    app = StarlingApp(make_services(new_chat=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        sidebar = screen.query_one(Sidebar)
        await pilot.press("ctrl+f", *"owls")
        await wait_for(pilot, lambda: sidebar.query_one(OptionList).option_count == 1)
        await pilot.press("escape")
        assert sidebar.query_text == ""
        await wait_for(pilot, lambda: sidebar.query_one(OptionList).option_count == 2)
        assert screen.query_one(PromptInput).has_focus


def saving(services: Services) -> list[dict[str, object]]:
    """Make ``services`` record what the app saves to the config file; returns the record."""
    saved: list[dict[str, object]] = []
    services.save_settings = lambda changes: saved.append(dict(changes))
    return saved


async def test_a_model_opened_with_ctrl_o_is_remembered(
    make_services: MakeServices, isolated_home: Path,
) -> None:
    models = isolated_home / "data" / "models"
    models.mkdir(parents=True)
    (models / "other-Q8_0.gguf").write_bytes(b"GGUF")
    services = make_services()
    saved = saving(services)
    app = StarlingApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPickerScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: saved == [{"model": str(models / "other-Q8_0.gguf")}])
        assert screen.controller.core.settings.model == str(models / "other-Q8_0.gguf")


async def test_a_theme_picked_in_the_command_palette_is_saved(
    make_services: MakeServices,
) -> None:
    services = make_services()
    saved = saving(services)
    app = StarlingApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        app.action_change_theme()  # the palette's "Theme" command
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"nord", "enter")
        await wait_for(pilot, lambda: saved == [{"theme": "nord"}])
        assert app.theme == "nord" and screen.controller.core.settings.theme == "nord"


async def test_rename_starts_with_the_title_and_delete_names_the_chat(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services(["ok"]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "Plans for the garden")
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        assert app.screen.query_one(Input).value == "Plans for the garden"
        await pilot.press("escape")
        await pilot.press("ctrl+delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Plans for the garden" in screen_text(pilot)
        await pilot.press("escape")


async def test_the_sidebar_collapses_with_ctrl_b_and_on_a_narrow_terminal(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        sidebar = screen.query_one(Sidebar)
        assert sidebar.display
        await pilot.press("ctrl+b")
        assert not sidebar.display
        await pilot.press("ctrl+b")
        assert sidebar.display
        await pilot.press("ctrl+f")  # searching needs the sidebar: it comes back for it
        assert sidebar.display
    app = StarlingApp(make_services())
    async with app.run_test(size=(72, 24)) as pilot:
        screen = await ready(pilot)
        sidebar = screen.query_one(Sidebar)
        await wait_for(pilot, lambda: not sidebar.display, what="a narrow screen to hide it")
        await pilot.press("ctrl+b")
        assert sidebar.display


async def test_regenerate_at_temperature_0_says_why_the_reply_would_repeat(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    app = StarlingApp(make_services(["same", "same"]))  # the settings' temperature is 0
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "question")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any("temperature" in n.message.lower()
                                          for n in app._notifications), what="the hint")
        await pilot.pause(0.2)
        user = store.active_path(screen.conversation_id or "")[0]
        assert len(store.children(user.id)) == 1  # no identical branch made
        await pilot.press("ctrl+r")  # asked again: it does what it is told
        await wait_for(pilot, lambda: len(store.children(user.id)) == 2
                       and screen.controller.state.reply_id is None)


async def test_quitting_during_a_reply_marks_it_as_the_readme_says(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    engine = FakeEngine([" ".join(f"w{i}" for i in range(400))], delay_s=0.01)
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: len(views(pilot)) == 2 and views(pilot)[1].content)
        await pilot.press("ctrl+q")
    await asyncio.sleep(0.5)  # the worker saves the stopped reply as it ends
    (conversation,) = store.list_conversations()
    reply = store.active_path(conversation.id)[-1]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| Ctrl+Q |")]
    assert f"[{MARKS[reply.finish_reason or '']}]" in row


async def test_f7_with_an_empty_box_shows_where_the_next_message_goes(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services(["Paris."]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "Capital of France?")
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen)
                       and app.screen.preview is not None)
        rendered = app.screen.preview.rendered  # type: ignore[attr-defined]
        # the reply is followed by the user's (empty) turn, not straight by another reply
        assert "Paris.<|end_of_turn|>GPT4 Correct User:" in rendered
        assert "empty message" in screen_text(pilot)


class WindowedEngine(FakeEngine):
    """A FakeEngine that refuses a prompt longer than its window leaves once the reply's room
    is kept, as the real engine does (one id per word, see FakeEngine.preview)."""

    def preview(self, request: ChatRequest) -> PromptPreview:
        """The FakeEngine's prompt, or the real engine's one-line refusal when it cannot fit."""
        preview = super().preview(request)
        info = self.info
        budget = info.n_ctx - reply_room(request.sampling.max_tokens, info.n_ctx) if info else 0
        if info is not None and len(preview.token_ids) > budget:
            raise EngineError(f"the last message needs {len(preview.token_ids)} tokens but "
                              f"only {budget} fit in the context")
        return preview


def words(count: int) -> str:
    return " ".join(f"w{i}" for i in range(count))


async def test_the_meter_shows_the_draft_against_the_room_left_as_you_type(
    make_services: MakeServices,
) -> None:
    engine = WindowedEngine(["fine"], n_ctx=256)  # 128 kept for the reply, 128 for the prompt
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "hello there")
        prompt = screen.query_one(PromptInput)
        await pilot.press(*words(10))
        conversation = screen.services.store.get_conversation(screen.conversation_id or "")
        alone = engine.preview(ChatRequest((ChatMessage("user", words(10)),)))
        empty = engine.preview(ChatRequest((ChatMessage("user", ""),)))
        base = screen.controller.core.request(conversation.id)
        with_empty = engine.preview(replace(base, messages=(*base.messages,
                                                            ChatMessage("user", ""))))
        draft = len(alone.token_ids) - len(empty.token_ids)
        room = 128 - len(with_empty.token_ids)
        await wait_for(pilot, lambda: f"{draft}/{room} tokens" in screen_text(pilot),
                       what=f"{draft}/{room} tokens on the prompt box")
        # the reply's reserve is shown (the status line takes the same count a moment later)
        await wait_for(pilot, lambda: "ctx 9/256 · reply 128" in screen_text(pilot),
                       what="the reply's reserve in the status line")
        await pilot.press(*f" {words(110)}")  # past the room: older turns will leave the view
        await wait_for(pilot, lambda: "older turns leave" in screen_text(pilot),
                       what="the warning that older turns leave")
        assert prompt.has_class("-over")
        await pilot.press(*f" {words(20)}")  # past the window: it cannot be sent
        await wait_for(pilot, lambda: "too long" in screen_text(pilot), what="too long")
        assert prompt.has_class("-too-long")


async def test_a_too_long_message_is_refused_before_anything_is_saved(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    engine = WindowedEngine(["fine"], n_ctx=256)
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await send(pilot, "hello there")
        (conversation,) = store.list_conversations()
        before = [m.id for m in store.active_path(conversation.id)]
        prompt = screen.query_one(PromptInput)
        prompt.load_text(words(200))
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("200" in n.message or "tokens" in n.message
                                          for n in app._notifications), what="the refusal")
        await pilot.pause(0.3)
        assert [m.id for m in store.active_path(conversation.id)] == before
        assert prompt.text == words(200)  # the draft is kept
        assert len(views(pilot)) == 2


class SlowReadingEngine(FakeEngine):
    """A FakeEngine that reads its prompt for a second and a half, its figures growing as the
    real engine's do (``last_stats``: the prompt read so far), before it replies."""

    def generate(self, request: ChatRequest) -> Iterator[str]:
        """Read the prompt in five timed batches, then reply as the FakeEngine does."""
        prompt = len(self.preview(request).token_ids)
        for batch in range(6):
            self._stats = GenerationStats(prompt_tokens=prompt,
                                          evaluated_tokens=prompt * batch // 5)
            time.sleep(0.3)
        yield from super().generate(request)


async def test_a_long_prompt_shows_reading_progress_then_live_figures(
    make_services: MakeServices,
) -> None:
    engine = SlowReadingEngine([words(150)], delay_s=0.02)
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        status = screen.query_one(StatusLine)
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: "reading the prompt" in status.state
                       and "/" in status.state, what="the prompt's reading progress")
        await wait_for(pilot, lambda: len(views(pilot)) == 2
                       and len(views(pilot)[1].content.split()) > 20, what="some reply")
        await wait_for(pilot, lambda: status.stats is not None
                       and status.stats.completion_tokens > 20 and status.state != "",
                       what="tokens/s while the reply streams")
        assert screen.controller.generating  # the figures came before the reply's end
        assert status.context_used > status.stats.prompt_tokens
        assert "tok/s" in screen_text(pilot)


class TemplatelessEngine(FakeEngine):
    """A model without a chat template, driven with a format chosen for it (as the real
    engine says in ``ModelInfo.template_note`` and ``PromptPreview.format_note``)."""

    NOTE = "no chat template: using ChatML (the usual format of qwen2)"

    def load(self, options: EngineOptions) -> ModelInfo:
        """Load as the FakeEngine does, as a model of another family with a note."""
        info = replace(super().load(options), template="chatml", template_note=self.NOTE)
        self._info = info
        return info

    def preview(self, request: ChatRequest) -> PromptPreview:
        """The FakeEngine's prompt, with the format note."""
        return replace(super().preview(request), format_note=self.NOTE)


async def test_a_model_s_notes_are_said_and_code_mode_is_refused_up_front(
    make_services: MakeServices, store: HistoryStore,
) -> None:
    app = StarlingApp(make_services(engine=TemplatelessEngine(["ok"])))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await wait_for(pilot, lambda: any(TemplatelessEngine.NOTE in n.message
                                          for n in app._notifications), what="the load note")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: any("OpenChat" in n.message for n in app._notifications),
                       what="coding mode refused")
        assert screen.controller.state.mode == "auto"
        await send(pilot, "hi")
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen)
                       and app.screen.preview is not None)
        assert "ChatML" in screen_text(pilot)  # the inspector says which format it shows
        (conversation,) = store.list_conversations()
        assert conversation.mode == "auto"
