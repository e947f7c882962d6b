"""Pilot tests of models and errors: the picker, the welcome screen, load progress and
failures, an engine crash, and the one handler every failed worker ends in (FakeEngine)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pilot_helpers import SIZE, chat, ready, seed, send, shown, views, wait_for

from starling_tui.engine.base import EngineOptions, ModelInfo
from starling_tui.engine.fake import FakeEngine
from starling_tui.errors import EngineError
from starling_tui.history.store import HistoryStore
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.screens.error import ErrorScreen
from starling_tui.ui.screens.model_picker import ModelPickerScreen
from starling_tui.ui.screens.welcome import WelcomeScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.status_line import StatusLine

MakeServices = Callable[..., Services]


async def test_model_picker_lists_models_folder_and_loads_the_choice(
    make_services: MakeServices, isolated_home: Path
) -> None:
    models = isolated_home / "data" / "models"
    models.mkdir(parents=True)
    for name in ("alpha-Q4_K_M.gguf", "beta-Q8_0.gguf"):
        (models / name).write_bytes(b"GGUF")
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPickerScreen))
        option_list = app.screen.query_one("#model-list")
        assert [option_list.get_option_at_index(i).id for i in range(2)] == [  # type: ignore[attr-defined]
            str(models / "alpha-Q4_K_M.gguf"), str(models / "beta-Q8_0.gguf")]
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.controller.state.model_info is not None
                       and screen.controller.state.model_info.name == "beta-Q8_0")
        assert "beta-Q8_0" in str(screen.query_one("#status-model").render())


async def test_welcome_screen_without_a_model_then_open_a_path(
    make_services: MakeServices, store: HistoryStore, tmp_path: Path
) -> None:
    seed(store, ["owls"])
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    app = StarlingApp(make_services(model=""))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        def text() -> str:
            return " ".join(str(b.render()) for b in app.screen.query("MarkdownParagraph"))

        await wait_for(pilot, lambda: "starling-tui pull" in text()
                       and "starling-convert" in text(), what="the welcome text")
        await pilot.press("escape")  # browse history without a model
        screen = chat(pilot)
        await wait_for(pilot, lambda: shown(pilot)[:1] == [("user", "tell me about owls")])
        await pilot.press(*"hello", "enter")
        await pilot.pause()
        assert len(views(pilot)) == 2  # nothing sent without a model
        screen.query_one("#prompt").load_text("")  # type: ignore[attr-defined]
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPickerScreen))
        await pilot.press(*str(gguf), "enter")
        await wait_for(pilot, lambda: screen.controller.state.model_info is not None)
        info = screen.controller.state.model_info
        assert info is not None and info.path == str(gguf)


class BrokenLoadEngine(FakeEngine):
    """Fails to load any file whose name contains "broken"."""

    def load(self, options: EngineOptions) -> ModelInfo:
        if "broken" in options.model_path:
            raise EngineError(f"{options.model_path}: not a GGUF file (bad magic)")
        return super().load(options)


async def test_load_failure_shows_a_dialog_and_the_app_stays_usable(
    make_services: MakeServices,
) -> None:
    engine = BrokenLoadEngine(["still here"])
    app = StarlingApp(make_services(engine=engine, model="/m/broken.gguf"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "not a GGUF file" in str(app.screen.query_one("#error-message").render())
        await pilot.press("enter")
        screen = chat(pilot)
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.controller.state.model_info is None
        screen.load_model("/m/good.gguf")
        await ready(pilot)
        await send(pilot, "hi")
        assert shown(pilot)[-1] == ("assistant", "still here")


async def test_engine_crash_marks_the_reply_and_reloads_after_the_dialog(
    make_services: MakeServices, store: HistoryStore
) -> None:
    engine = FakeEngine(["this will crash now", "recovered"], fail_on="crash")
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.query_one("#prompt").focus()
        await pilot.press(*"hi", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.screen.title_text == "The engine crashed"  # type: ignore[attr-defined]
        assert screen.controller.state.model_info is None
        saved = store.active_path(screen.conversation_id or "")
        assert [(m.role, m.finish_reason) for m in saved] == [
            ("user", None), ("assistant", "error")]
        assert views(pilot)[-1].finish_reason == "error"
        await pilot.press("enter")
        await ready(pilot)  # reloaded
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: shown(pilot)[-1] == ("assistant", "recovered"))


class SlowLoadEngine(FakeEngine):
    """Takes a while to load, like a 7B model."""

    def load(self, options: EngineOptions) -> ModelInfo:
        import time

        time.sleep(0.8)
        return super().load(options)


async def test_model_load_shows_progress(make_services: MakeServices) -> None:
    from starling_tui.ui.screens.loading import LoadingScreen

    app = StarlingApp(make_services(engine=SlowLoadEngine()))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoadingScreen)
                       and bool(app.screen.query(".dialog-title")))
        assert "fake-starling.gguf" in str(app.screen.query_one(".dialog-title").render())
        assert chat(pilot).query_one(StatusLine).state == "loading model…"
        await ready(pilot)
        assert not isinstance(app.screen, LoadingScreen)
        assert chat(pilot).query_one(StatusLine).state == ""


class BuggyPreviewEngine(FakeEngine):
    """An engine with a bug: preview raises something unexpected."""

    def preview(self, request):  # type: ignore[no-untyped-def]
        raise RuntimeError("tokenizer exploded")


async def test_unexpected_worker_errors_end_in_one_dialog(make_services: MakeServices) -> None:
    app = StarlingApp(make_services(engine=BuggyPreviewEngine()))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.screen.title_text == "Unexpected error"  # type: ignore[attr-defined]
        assert "RuntimeError: tokenizer exploded" in str(
            app.screen.query_one("#error-message").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
