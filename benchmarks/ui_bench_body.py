"""The streams ``ui_bench.py`` times: the bare Textual baseline, the chat app, key presses.

Each runs inside the fresh process of ``ui_bench_streams.py``; see there for the treatment
both sides get (fresh process, warm-up, ``gc.collect()``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

TOKENS = 2000
BARE_CHUNK = 16  # pieces per get_stream() write in the bare baseline
KEY_SAMPLES = 200
TIMEOUT_S = 120.0


def markdown_reply(n_tokens: int) -> str:
    """A reply of ``n_tokens`` space-separated pieces mixing prose, lists and code."""
    words: list[str] = []
    section = 0
    while len(words) < n_tokens:
        section += 1
        words += f"## Part {section}\n\nThis paragraph explains step {section} in some".split(" ")
        words += "detail, with *emphasis*, **bold** and `inline code` words.\n\n-".split(" ")
        words += f"item one\n- item two {section}\n\n```python\ndef f{section}(x):".split(" ")
        words += f"\n    return x * {section}\n```\n\n".split(" ")
    return " ".join(words[:n_tokens])


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition``, checking it every millisecond (cheap: no widget queries)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the stream did not finish")
        await asyncio.sleep(0.001)


class Counted:
    """Counts ``Markdown.append`` calls and the process CPU time (all threads) meanwhile."""

    def __enter__(self) -> Counted:
        from textual.widgets import Markdown

        self.count, self._original = 0, Markdown.append
        original = self._original

        def counted(widget: Any, text: str) -> Any:
            self.count += 1
            return original(widget, text)

        Markdown.append = counted  # type: ignore[method-assign, assignment]
        self.started, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        from textual.widgets import Markdown

        self.seconds = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu
        Markdown.append = self._original  # type: ignore[method-assign]

    def figures(self) -> dict[str, float]:
        """tokens/s, appends and CPU seconds of the stream."""
        return {"rate": TOKENS / self.seconds, "appends": self.count, "cpu_s": self.cpu}


async def bare_streams(clock: Any, policy: bool) -> dict[str, Any]:
    """A warm-up stream, then the measured one, into a fresh ``Markdown`` of a bare app
    (``policy``: with the app's garbage-collector policy at the same moments)."""
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown

    from starling_tui.ui import gc_pauses

    pieces = markdown_reply(TOKENS).split(" ")
    pieces = [p if i == 0 else " " + p for i, p in enumerate(pieces)]
    writes = ["".join(pieces[i : i + BARE_CHUNK]) for i in range(0, len(pieces), BARE_CHUNK)]

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield VerticalScroll()

    async def stream(scroll: VerticalScroll, clock: Any = None) -> Counted:
        markdown = Markdown()
        await scroll.mount(markdown)
        if clock is not None:
            gc.collect()
            clock.reset()
        with Counted() as counted:
            out = Markdown.get_stream(markdown)
            for text in writes:
                await out.write(text)
            await out.stop()
            if policy:
                gc_pauses.settle()  # where the app settles: the reply has finished
        assert markdown.source == markdown_reply(TOKENS)
        return counted

    async with Host().run_test(size=(120, 40)) as pilot:
        scroll = pilot.app.query_one(VerticalScroll)
        if policy:
            gc_pauses.start()
        await stream(scroll)  # warm-up, discarded
        await scroll.remove_children()
        await pilot.pause()
        if policy:
            gc_pauses.release()
        counted = await stream(scroll, clock)
        figures = {**counted.figures(), **clock.figures()}
        if policy:
            gc_pauses.stop()
        return figures


async def with_chat_app(body: Callable[[Any, Any], Awaitable[Any]], *,
                        delay_s: float = 0.0) -> Any:
    """Run ``body(pilot, screen)`` in the real app (history store, FakeEngine, model loaded;
    ``delay_s``: the engine's pause before each piece, for replies that last)."""
    from starling_tui.engine.fake import FakeEngine
    from starling_tui.history.store import HistoryStore
    from starling_tui.ui.app import StarlingApp
    from starling_tui.ui.screens.chat import ChatScreen
    from starling_tui.ui.services import Services

    reply = markdown_reply(TOKENS)
    with HistoryStore(Path(os.environ["STARLING_TUI_HOME"]) / "stream.db") as store:
        services = Services(engine=FakeEngine([reply] * 200, delay_s=delay_s), store=store,
                            model_path="/m/bench.gguf", new_chat=True)
        app = StarlingApp(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: isinstance(app.screen, ChatScreen)
                        and app.screen.controller.state.model_info is not None)
            return await body(pilot, app.screen)


async def new_chat(screen: Any) -> None:
    """A fresh chat, once the screen has repainted and run what waits for that."""
    await screen.action_new_chat()
    painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    screen.call_after_refresh(painted.set_result, None)
    await painted


async def app_stream(_: Any, screen: Any,
                     before: Callable[[], object] = lambda: None) -> dict[str, Any]:
    """One reply streamed, saved and rendered by the app in a fresh chat (``before`` runs
    just before the clock starts)."""
    from textual.widgets import Markdown

    from starling_tui.ui.widgets.chat_log import ChatLog

    await new_chat(screen)
    state = screen.controller.state
    before()
    with Counted() as counted:
        screen.send("go")
        await until(lambda: state.reply_id is not None)
        await until(lambda: state.reply_id is None)  # after the whole reply is rendered
    view = screen.query_one(ChatLog).views()[-1]
    assert view.content == view.query_one(Markdown).source == markdown_reply(TOKENS)
    return counted.figures()


async def time_key(screen: Any, prompt: Any) -> float:
    """Post one key press; seconds until its character is in the prompt box ``prompt``."""
    from textual import events

    typed = len(prompt.text)
    sent = time.perf_counter()
    screen.app.post_message(events.Key("x", "x"))
    while len(prompt.text) == typed:  # the measured wait: as tight as it can be
        await asyncio.sleep(0)
    return time.perf_counter() - sent


async def key_latency(_: Any, screen: Any, fresh: bool = True) -> list[float]:
    """Seconds from a key event posted to its character in the prompt box, while streaming
    (each reply in a fresh chat, or all in the one shown when ``fresh`` is false)."""
    from starling_tui.ui.widgets.prompt_input import PromptInput

    prompt = screen.query_one(PromptInput)
    state = screen.controller.state
    latencies: list[float] = []
    while len(latencies) < KEY_SAMPLES:
        if fresh:
            await new_chat(screen)  # another 2,000-token stream in a fresh chat
        screen.send("go")
        await until(lambda: state.reply_id is not None)
        while state.reply_id is not None and len(latencies) < KEY_SAMPLES:
            latencies.append(await time_key(screen, prompt))
            await asyncio.sleep(0.01)
        screen.controller.core.cancel()
        await until(lambda: state.reply_id is None and not screen.controller.generating)
    return latencies


def describe_keys(latencies: list[float]) -> str:
    """p50, p99, max and the count over 50 ms, in milliseconds."""
    over = sum(1 for x in latencies if x > 0.05)
    return (f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 "
            f"{percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms, "
            f"{over} of {len(latencies)} over 50 ms")


async def profiled_stream(pilot: Any, screen: Any, before: Callable[[], object]) -> None:
    """One app stream under cProfile; print where the event loop's time went."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    await app_stream(pilot, screen, before)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    wanted = {"Markdown append (parse, mount, restyle)": "await_append",
              "compositor reflow (layout of every widget)": "reflow",
              "compositor render": "render_update", "status line": "_refresh_all",
              "sidebar": "show_rows", "reply chunk handler": "_reply_chunk",
              "gc_pauses.settle (collect + freeze)": "settle"}
    total = sum(row[3] for key, row in stats.items() if key[2] == "_run_once")
    print(f"  profile of one app stream (event loop {total:.2f} s, cProfile overhead included):")
    for label, name in wanted.items():
        rows = [row for key, row in stats.items() if key[2] == name]
        seconds, calls = sum(r[3] for r in rows), sum(r[1] for r in rows)
        print(f"    {label:44s} {seconds:6.2f} s in {calls} calls")
    top = sorted(stats.items(), key=lambda item: -item[1][2])[:8]
    print("    most self time: " + ", ".join(
        f"{Path(key[0]).stem}.{key[2]} {row[2]:.2f} s" for key, row in top))
