"""Widget tests: each widget alone in a tiny host app."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.app import App, ComposeResult

from starling_tui.engine.base import GenerationStats, ModelInfo
from starling_tui.ui.widgets.chat_log import ChatLog, MessageEntry
from starling_tui.ui.widgets.message_view import MessageView, code_blocks
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.sidebar import ConversationRow, Sidebar
from starling_tui.ui.widgets.status_line import StatusLine, describe_model, describe_speed

INFO = ModelInfo("/m/x.gguf", "Starling", "Q4_K_M", 8192, 4096, 32, 10, "CUDA0", "openchat")


class Host(App[None]):
    """Mounts one widget and records the messages it posts."""

    def __init__(self, widget: object) -> None:
        super().__init__()
        self.widget = widget
        self.posted: list[object] = []

    def compose(self) -> ComposeResult:
        yield self.widget  # type: ignore[misc]

    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        self.posted.append(message)

    def on_sidebar_selected(self, message: Sidebar.Selected) -> None:
        self.posted.append(message)

    def on_chat_log_older_wanted(self, message: ChatLog.OlderWanted) -> None:
        self.posted.append(message)


async def test_prompt_enter_submits_and_ctrl_j_inserts_newline() -> None:
    prompt = PromptInput()
    app = Host(prompt)
    async with app.run_test() as pilot:
        prompt.focus()
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c")
        assert prompt.text == "a\nb\nc"
        await pilot.press("enter")
        await pilot.pause()
        assert [m.text for m in app.posted] == ["a\nb\nc"]  # type: ignore[attr-defined]
        assert prompt.text == "a\nb\nc"  # the screen clears it once the send is accepted


async def test_prompt_enter_on_blank_text_sends_nothing() -> None:
    prompt = PromptInput()
    app = Host(prompt)
    async with app.run_test() as pilot:
        prompt.focus()
        await pilot.press("space", "enter")
        await pilot.pause()
        assert app.posted == []


async def test_up_recalls_earlier_prompts_only_when_empty() -> None:
    prompt = PromptInput()
    app = Host(prompt)
    async with app.run_test() as pilot:
        prompt.set_recall(["first", "second"])
        prompt.focus()
        await pilot.press("up")
        assert prompt.text == "second"
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("down")
        assert prompt.text == "second"
        await pilot.press("down")
        assert prompt.text == ""
        await pilot.press("x", "up")
        assert prompt.text == "x"  # not empty: Up moves the cursor, no recall
        prompt.load_text("")
        prompt.remember("third")
        await pilot.press("up")
        assert prompt.text == "third"


def test_status_texts() -> None:
    assert describe_model(None).startswith("no model loaded")
    assert describe_model(INFO) == "Starling · Q4_K_M · CUDA0 10/32 layers"
    cpu_build = replace(INFO, n_gpu_layers=0, backend="CPU", gpu_build=False,
                        gpu_note="auto: no GPU backend in this llama.cpp build, running on CPU")
    assert describe_model(cpu_build) == "Starling · Q4_K_M · CPU (no GPU build)"
    chosen = replace(INFO, n_gpu_layers=0, backend="CPU", gpu_note="CPU only (0 layers offloaded)")
    assert describe_model(chosen) == "Starling · Q4_K_M · CPU, GPU 0/32 layers"
    remote = replace(INFO, path="http://gpu-box:8080/v1", name="starling-7b", n_gpu_layers=0,
                     backend="llama-server at gpu-box:8080", gpu_note="remote server",
                     remote=True)
    assert describe_model(remote) == "starling-7b · Q4_K_M · llama-server at gpu-box:8080"
    assert describe_speed(None) == ""
    stats = GenerationStats(completion_tokens=5, tokens_per_s=12.34, ttft_s=0.25)
    assert describe_speed(stats) == "12.3 tok/s · TTFT 250 ms"


async def test_status_line_context_meter() -> None:
    status = StatusLine()
    app = Host(status)
    async with app.run_test() as pilot:
        status.info = INFO
        status.context_used = 1024
        await pilot.pause()
        assert str(status.query_one("#status-ctx-numbers").render()) == "1024/4096"
        bar = status.query_one("#status-ctx")
        assert bar.percentage == 0.25  # type: ignore[attr-defined]


def test_code_blocks_found_including_unterminated() -> None:
    text = "Intro\n```python\nprint(1)\n```\nmid\n~~~\nx = 2\n~~~\nand\n```sh\nls -l\n"
    assert code_blocks(text) == ["print(1)\n", "x = 2\n", "ls -l\n"]
    assert code_blocks("no code") == []


async def test_message_view_streams_and_marks() -> None:
    view = MessageView(7, "assistant", "", branch=(2, 3))
    app = Host(view)
    async with app.run_test() as pilot:
        for piece in ["Hello", " **world**", "\n\n```py\nx=1\n```"]:
            view.append(piece)
        await view.end_stream()
        await pilot.pause()
        assert view.content == "Hello **world**\n\n```py\nx=1\n```"
        assert view.code_blocks() == ["x=1\n"]
        assert view.header_text() == "Assistant ‹2/3›"
        view.set_finish_reason("cancelled")
        assert view.header_text() == "Assistant ‹2/3› [stopped]"
        view.set_finish_reason("repetition")  # the loop guard: shown like the max-tokens cut
        assert view.header_text() == "Assistant ‹2/3› [cut: repeating itself]"
        view.set_finish_reason("length")
        assert view.header_text() == "Assistant ‹2/3› [cut at max tokens]"
        markdown_text = "".join(str(b.render()) for b in view.query("MarkdownBlock"))
        assert "world" in markdown_text and "**" not in markdown_text


async def test_chat_log_pages_and_asks_for_older() -> None:
    log = ChatLog()
    app = Host(log)
    async with app.run_test() as pilot:
        page = [MessageEntry(i, "user" if i % 2 else "assistant", f"m{i}") for i in range(11, 21)]
        await log.show(page, more_above=True)
        assert [v.message_id for v in log.views()] == list(range(11, 21))
        log.focus()
        await pilot.press("up")
        assert log.selected() is log.views()[-1]
        log.views()[0].focus()
        await pilot.press("up")  # at the top with more above: ask the screen for the next page
        await pilot.pause()
        assert [m.before_id for m in app.posted] == [11]  # type: ignore[attr-defined]
        await log.prepend([MessageEntry(i, "user", f"m{i}") for i in range(1, 11)],
                          more_above=False)
        assert [v.message_id for v in log.views()] == list(range(1, 21))
        assert log.last_view("assistant").message_id == 20  # type: ignore[union-attr]


async def test_chat_log_marks_where_the_model_view_begins() -> None:
    log = ChatLog()
    app = Host(log)
    async with app.run_test() as pilot:
        await log.show([MessageEntry(i, "user" if i % 2 else "assistant", f"m{i}")
                        for i in range(1, 7)], more_above=False)
        log.mark_view_start(3, 2)
        await pilot.pause()
        children = list(log.children)
        marks = log.query(".view-start")
        assert len(marks) == 1 and children.index(marks.first()) == 2  # just above message 3
        assert "2 older turns" in str(marks.first().render())
        log.mark_view_start(5, 4)  # a later reply dropped more: one mark, moved
        await pilot.pause()
        assert [list(log.children).index(m) for m in log.query(".view-start")] == [4]
        log.mark_view_start(None, 0)  # the model sees everything again
        await pilot.pause()
        assert not log.query(".view-start")
        log.mark_view_start(99, 3)  # not mounted (an older page): no mark
        await pilot.pause()
        assert not log.query(".view-start") and len(log.views()) == 6


async def test_sidebar_rows_and_selection() -> None:
    sidebar = Sidebar()
    app = Host(sidebar)
    async with app.run_test() as pilot:
        sidebar.show_rows([ConversationRow("a1", "First"), ConversationRow("b2", "Second")], "b2")
        assert sidebar.highlighted_id == "b2"
        sidebar.query_one("OptionList").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert [m.conversation_id for m in app.posted] == ["b2"]  # type: ignore[attr-defined]


def shown_row(status: StatusLine, width: int) -> str:
    """The status line as the terminal shows it: each visible child at its place."""
    cells = [" "] * width
    for child in status.children:
        if child.display and child.region.width:
            text = "".join(segment.text for segment in child.render_line(0))
            assert child.region.right <= width, f"{child.id} runs off the line"
            cells[child.region.x : child.region.x + len(text)] = text
    return "".join(cells)


@pytest.mark.parametrize("width", [80, 100, 140])
@pytest.mark.parametrize("where", ["CUDA0 10/32 layers", "CPU (no GPU build)"])
async def test_status_line_cuts_a_long_name_not_where_the_model_runs(width: int,
                                                                     where: str) -> None:
    info = replace(INFO, name="Starling-LM-7B-beta-LaserRMT-v1-" * 3)
    if where.startswith("CPU"):
        info = replace(info, n_gpu_layers=0, backend="CPU", gpu_build=False)
    status = StatusLine()
    app = Host(status)
    async with app.run_test(size=(width, 3)) as pilot:
        status.info = info
        status.context_used = 1024
        status.stats = GenerationStats(completion_tokens=5, tokens_per_s=12.34, ttft_s=0.25)
        await pilot.pause()
        row = shown_row(status, width)
        assert row.startswith(f" Q4_K_M · {where} · Starlin"), row
        assert "…" in row and "1024/4096" in row and "12.3 tok/s · TTFT 250 ms" in row, row
        assert status.query_one("#status-ctx").display == (width >= 110)
