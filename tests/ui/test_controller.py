"""The chat controller without Textual running: a host that runs each job at once and records
what it posts (the seam the screen fills with real thread workers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.fake import FakeEngine
from starling_tui.history.store import HistoryStore
from starling_tui.ui import messages as msg
from starling_tui.ui.controller import ChatController
from starling_tui.ui.services import Services


class DoneWorker:
    """What ``run_worker`` returns: the job already ran."""

    is_finished = True


class InlineHost:
    """Runs every job synchronously; records messages and notifications."""

    def __init__(self) -> None:
        self.posted: list[Any] = []
        self.notes: list[str] = []
        self.groups: list[str] = []

    def run_worker(self, work: Callable[[], Any], *, group: str, exclusive: bool,
                   thread: bool, exit_on_error: bool) -> Any:
        assert thread and not exit_on_error  # errors go to the screen's one handler
        self.groups.append(group)
        work()
        return DoneWorker()

    def post_message(self, message: Any) -> bool:
        self.posted.append(message)
        return True

    def notify(self, message: str, *, severity: Any = "information",
               timeout: float | None = None) -> None:
        self.notes.append(message)


def controller_with(store: HistoryStore, replies: list[str],
                    host: InlineHost | None = None) -> tuple[ChatController, InlineHost]:
    engine = FakeEngine(replies)
    host = host or InlineHost()
    controller = ChatController(Services(engine=engine, store=store, model_path="/m/x.gguf"),
                                host)
    controller.state.model_info = engine.load(EngineOptions("/m/x.gguf"))
    return controller, host


def test_send_in_a_new_chat_posts_the_turn_in_order(store: HistoryStore) -> None:
    controller, host = controller_with(store, ["Hello **there**"])
    assert controller.can_generate()
    controller.send("Hi", after=None)
    kinds = [type(m) for m in host.posted]
    assert kinds[:2] == [msg.UserMessageAdded, msg.ReplyStarted]
    assert kinds[-1] is msg.ReplyFinished and msg.ReplyChunk in kinds
    text = "".join(m.text for m in host.posted if isinstance(m, msg.ReplyChunk))
    assert text == "Hello **there**"
    finished = host.posted[-1]
    assert finished.finish_reason == "stop" and finished.view_start is None
    (conv,) = store.list_conversations()
    assert [m.content for m in store.active_path(conv.id)] == ["Hi", "Hello **there**"]
    assert host.groups == ["reply"]


def test_what_may_not_start_says_why(store: HistoryStore) -> None:
    controller, host = controller_with(store, [])
    controller.state.model_info = None
    assert not controller.can_generate()
    controller.regenerate()  # no conversation yet
    controller.export()
    controller.preview("x")
    assert host.notes == ["No model loaded: press ctrl+o to open one", "Nothing to regenerate yet",
                          "Nothing to export yet", "No model loaded: press ctrl+o to open one"]
    assert host.posted == [] and not controller.stop()


def test_settings_changes_that_reload_the_model(store: HistoryStore) -> None:
    controller, _ = controller_with(store, [])
    base = controller.core.settings
    assert controller.apply_settings(base.replace(temperature=0.7)) is False
    assert controller.core.settings.temperature == 0.7  # the next reply's sampling
    assert controller.apply_settings(controller.core.settings.replace(ctx=2048)) is True
    assert controller.apply_settings(
        controller.core.settings.replace(context_overflow="drop")) is True
    assert controller.apply_settings(
        controller.core.settings.replace(engine_url="http://127.0.0.1:9/v1")) is False
    assert controller.services.settings is controller.core.settings


def test_coding_mode_of_a_new_chat_is_not_saved_until_it_exists(store: HistoryStore) -> None:
    controller, host = controller_with(store, ["x"])
    assert controller.toggle_mode() == "code" and host.groups == []
    controller.send("write quicksort", after=None)
    (conv,) = store.list_conversations()
    assert conv.mode == "code"


class PostedItsEndWorker:
    """A reply worker that has posted the reply's end but does not count as finished yet."""

    is_finished = False


class ReplyStillRunningHost(InlineHost):
    def run_worker(self, work: Callable[[], Any], *, group: str, exclusive: bool,
                   thread: bool, exit_on_error: bool) -> Any:
        done = super().run_worker(work, group=group, exclusive=exclusive, thread=thread,
                                  exit_on_error=exit_on_error)
        return PostedItsEndWorker() if group == "reply" else done


def test_the_preview_asked_for_at_a_replys_end_runs_before_its_worker_counts_as_finished(
        store: HistoryStore) -> None:
    """F7 during a reply waits for its end; asked again as that end is handled, the preview
    must run even while the worker that posted the end is still winding down (else the
    inspector waits for an end that has come and gone)."""
    controller, host = controller_with(store, ["Hello"], ReplyStillRunningHost())
    controller.send("Hi", after=None)
    assert controller.generating
    assert not controller.preview("next") and controller.state.preview_after_reply
    assert "preview" not in host.groups
    controller.state.preview_after_reply = False
    assert controller.preview("next", reply_over=True)
    assert host.groups[-1] == "preview"
    assert any(isinstance(m, msg.PreviewReady) for m in host.posted)
