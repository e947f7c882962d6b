"""UI benchmark: the chat app headless, fed by the scripted FakeEngine as fast as it can take it.

Measures, each against a baseline in the same run:

1. Streaming: a 2,000-token Markdown reply (paragraphs, lists, code blocks), saved and rendered
   by the app, against a bare Textual app streaming the same text into one ``Markdown`` through
   ``get_stream()`` (16-token writes). Rounds alternate bare and app so both see the same
   machine load; the ratio is reported per round and as the median. ``--profile`` adds a
   cProfile breakdown of one app stream (where the event loop's time goes).
2. Key-press latency while a reply streams (posted → in the prompt box; target p99 < 50 ms).
3. and 4. (``ui_bench_open.py``): first frame of the real ``tui`` path; a 5,000-message chat.

Run: ``python benchmarks/ui_bench.py [--rounds N] [--profile] [--only stream]`` (~3 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

TOKENS = 2000
BARE_CHUNK = 16  # pieces per get_stream() write in the bare baseline
KEY_SAMPLES = 200


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


class AppendCounter:
    """Counts ``Markdown.append`` calls (the per-batch cost the app's design is about) and the
    process CPU time spent meanwhile (all threads; what the shared box's load does not change)."""

    def __init__(self) -> None:
        from textual.widgets import Markdown

        self.count = 0
        self._markdown = Markdown
        self._original = Markdown.append

    def __enter__(self) -> AppendCounter:
        original = self._original

        def counted(widget: Any, text: str) -> Any:
            self.count += 1
            return original(widget, text)

        self._markdown.append = counted  # type: ignore[method-assign]
        self.cpu_s = -time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu_s += time.process_time()
        self._markdown.append = self._original  # type: ignore[method-assign]


async def bare_stream(n_tokens: int) -> tuple[float, AppendCounter]:
    """Tokens/s of a bare Textual app streaming the reply into one Markdown; appends made."""
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown

    pieces = markdown_reply(n_tokens).split(" ")
    pieces = [p if i == 0 else " " + p for i, p in enumerate(pieces)]

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield Markdown()

    async with Host().run_test(size=(120, 40)) as pilot:
        markdown = pilot.app.query_one(Markdown)
        with AppendCounter() as appends:
            started = time.perf_counter()
            stream = Markdown.get_stream(markdown)
            for i in range(0, len(pieces), BARE_CHUNK):
                await stream.write("".join(pieces[i : i + BARE_CHUNK]))
            await stream.stop()
            rate = n_tokens / (time.perf_counter() - started)
        return rate, appends


async def with_chat_app(home: Path, body: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """Run ``body(pilot, screen)`` in the real app (history store, FakeEngine, model loaded)."""
    from starling_tui.engine.fake import FakeEngine
    from starling_tui.history.store import HistoryStore
    from starling_tui.ui.app import StarlingApp
    from starling_tui.ui.screens.chat import ChatScreen
    from starling_tui.ui.services import Services

    reply = markdown_reply(TOKENS)
    with HistoryStore(home / "stream.db") as store:
        services = Services(engine=FakeEngine([reply] * 80), store=store,
                            model_path="/m/bench.gguf", new_chat=True)
        app = StarlingApp(services)
        async with app.run_test(size=(120, 40)) as pilot:
            while not (isinstance(app.screen, ChatScreen)
                       and app.screen.controller.state.model_info is not None):
                await pilot.pause(0.01)
            return await body(pilot, app.screen)


async def reply_done(screen: Any) -> None:
    """Until the streaming reply is fully rendered and finished."""
    while screen.controller.state.reply_id is not None or screen.controller.generating:
        await asyncio.sleep(0.001)


async def app_stream(_: Any, screen: Any) -> tuple[float, AppendCounter]:
    """Tokens/s of one reply streamed, saved and rendered by the app; appends made."""
    from starling_tui.ui.widgets.chat_log import ChatLog

    reply = markdown_reply(TOKENS)
    log = screen.query_one(ChatLog)
    await screen.action_new_chat()
    with AppendCounter() as appends:
        started = time.perf_counter()
        screen.send("go")
        while not (len(log.views()) == 2 and log.views()[-1].content == reply):
            await asyncio.sleep(0)
        await reply_done(screen)
        rate = TOKENS / (time.perf_counter() - started)
    return rate, appends


async def key_latency(_: Any, screen: Any) -> list[float]:
    """Seconds from a key event posted to its character in the prompt box, while streaming."""
    from textual import events

    from starling_tui.ui.widgets.prompt_input import PromptInput

    prompt = screen.query_one(PromptInput)
    latencies: list[float] = []
    while len(latencies) < KEY_SAMPLES:
        await screen.action_new_chat()  # another 2,000-token stream in a fresh chat
        screen.send("go")
        while screen.controller.state.reply_id is None:
            await asyncio.sleep(0)
        while screen.controller.state.reply_id is not None and len(latencies) < KEY_SAMPLES:
            before = len(prompt.text)
            sent = time.perf_counter()
            screen.app.post_message(events.Key("x", "x"))
            while len(prompt.text) == before:
                await asyncio.sleep(0)
            latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(0.01)
        screen.controller.core.cancel()
        await reply_done(screen)
    return latencies


async def profiled_stream(pilot: Any, screen: Any) -> None:
    """One app stream under cProfile; print where the event loop's time went."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    await app_stream(pilot, screen)
    profile.disable()
    stats = pstats.Stats(profile)
    wanted = {"Markdown append (parse, mount, restyle)": "await_append",
              "screen layout (reflow of every widget)": "_refresh_layout",
              "compositor render": "render_update", "status line": "_refresh_all",
              "sidebar": "show_rows", "reply chunk handler": "_reply_chunk"}
    total = sum(row[3] for key, row in stats.stats.items() if key[2] == "_run_once")  # type: ignore[attr-defined]
    print(f"  profile of one app stream (event loop {total:.2f} s, cProfile overhead included):")
    for label, name in wanted.items():
        rows = [row for key, row in stats.stats.items() if key[2] == name]  # type: ignore[attr-defined]
        seconds, calls = sum(r[3] for r in rows), sum(r[1] for r in rows)
        print(f"    {label:42s} {seconds:6.2f} s in {calls} calls")
    top = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:8]  # type: ignore[attr-defined]
    print("    most self time: " + ", ".join(
        f"{Path(key[0]).stem}.{key[2]} {row[2]:.2f} s" for key, row in top))


def load() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def report_stream(home: Path, rounds: int, profile: bool) -> None:
    """Part 1 (rounds alternating bare and app) and part 2."""
    print(f"streaming {TOKENS} tokens of Markdown (FakeEngine, no delay), {rounds} rounds, "
          f"{load()}:")
    ratios = []
    for round_ in range(1, rounds + 1):
        bare, b = asyncio.run(bare_stream(TOKENS))
        app, a = asyncio.run(with_chat_app(home, app_stream))
        ratios.append(app / bare)
        print(f"  round {round_}: bare get_stream {bare:5.0f} tok/s ({b.count} appends, "
              f"{b.cpu_s:.2f} s CPU), app {app:5.0f} tok/s ({a.count} appends, {a.cpu_s:.2f} s "
              f"CPU): {app / bare:.2f}x, CPU {a.cpu_s / b.cpu_s:.2f}x  [{load()}]")
    print(f"  median ratio app / bare stream: {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    if profile:
        asyncio.run(with_chat_app(home, profiled_stream))
    latencies = asyncio.run(with_chat_app(home, key_latency))
    over = sum(1 for x in latencies if x > 0.05)
    print(f"key-press latency while streaming ({KEY_SAMPLES} presses): "
          f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms, "
          f"{over} over 50 ms (target p99 < 50 ms)  [{load()}]")


def main() -> int:
    """Run the measurements and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="bare/app streaming rounds")
    parser.add_argument("--profile", action="store_true", help="cProfile one app stream")
    parser.add_argument("--only", choices=("stream",), help="skip the start-up and open parts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["STARLING_TUI_HOME"] = str(home)
        report_stream(home, args.rounds, args.profile)
        if args.only is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from ui_bench_open import report_startup_and_open

            report_startup_and_open(home)
    return 0


if __name__ == "__main__":
    sys.exit(main())
