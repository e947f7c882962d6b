"""The app on the real llama.cpp engine (child process) with the SmolLM2 fixture GGUF."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pilot_helpers import SIZE, chat, ready, send, views, wait_for

from starling_tui.chat import ChatCore
from starling_tui.cli.tui_cmd import prepare_child_processes
from starling_tui.config import Settings
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import FaultPlan
from starling_tui.history.store import HistoryStore
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.screens.inspector import InspectorScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.status_line import StatusLine

pytestmark = pytest.mark.slow


@pytest.fixture
def engine() -> Iterator[ProcessEngine]:
    prepare_child_processes()
    process_engine = ProcessEngine()
    yield process_engine
    process_engine.close()


async def test_chat_with_the_real_engine(
    make_services: Callable[..., Services], store: HistoryStore, engine: ProcessEngine,
    smollm2_gguf: Path,
) -> None:
    services = make_services(engine=engine, model=str(smollm2_gguf),
                             settings=Settings(max_tokens=24))
    app = StarlingApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot, timeout=120)
        info = screen.controller.state.model_info
        assert info is not None and info.quant == "Q4_1"
        # SmolLM2's ChatML template writes a system turn of its own: the dialogs show it
        assert screen.controller.state.default_system == (
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        await send(pilot, "What is the capital of France?", timeout=120)
        reply = views(pilot)[-1]
        conv_id = screen.conversation_id or ""
        saved = store.active_path(conv_id)[-1]
        assert saved.role == "assistant" and saved.content == reply.content
        assert saved.content.strip() and saved.finish_reason in ("stop", "length")
        status = screen.query_one(StatusLine)
        assert status.stats is not None and status.stats.completion_tokens > 0
        assert status.stats.tokens_per_s > 0
        assert status.context_used == status.stats.prompt_tokens + status.stats.completion_tokens
        # the inspector shows exactly what the engine will evaluate next
        screen.query_one("#prompt").load_text("And of Italy?")  # type: ignore[attr-defined]
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "InspectorScreen",
                       timeout=30)
        shown_preview = app.screen.preview  # type: ignore[attr-defined]
        # the same request the chat core builds for ``ask`` and ``tokens``
        core = ChatCore(store, engine, services.settings)
        expected = engine.preview(core.request(conv_id, "And of Italy?"))
        assert shown_preview == expected
        assert "And of Italy?" in shown_preview.rendered
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is chat(pilot))


async def test_the_inspector_opened_during_a_reply_leaves_the_reply_alone(
    make_services: Callable[..., Services], store: HistoryStore, smollm2_gguf: Path,
) -> None:
    prepare_child_processes()
    slow = ProcessEngine(faults=FaultPlan(token_delay=0.05))  # ~1.5 s for 30 tokens
    try:
        services = make_services(engine=slow, model=str(smollm2_gguf),
                                 settings=Settings(max_tokens=30))
        app = StarlingApp(services)
        async with app.run_test(size=SIZE) as pilot:
            screen = await ready(pilot, timeout=120)
            screen.query_one("#prompt").focus()
            await pilot.press(*"Count from one to twenty.", "enter")
            await wait_for(pilot, lambda: len(views(pilot)) == 2 and views(pilot)[1].content,
                           timeout=60, what="the first piece of the reply")
            await pilot.press("f7")
            await wait_for(pilot, lambda: not screen.controller.generating
                           and screen.controller.state.reply_id is None, timeout=60,
                           what="the reply to end")
            saved = store.active_path(screen.conversation_id or "")[-1]
            assert saved.finish_reason in ("stop", "length")  # not "cancelled"
            assert "[stopped]" not in views(pilot)[1].header_text()
            # the inspector shows the next prompt, which holds the finished reply
            await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen)
                           and app.screen.preview is not None, timeout=30)
            assert saved.content.strip()[:10] in app.screen.preview.rendered  # type: ignore[union-attr]
            await pilot.press("escape")
    finally:
        slow.close()
