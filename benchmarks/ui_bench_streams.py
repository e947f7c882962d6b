"""What ``ui_bench.py`` measures, one measurement per fresh process (run by ``ui_bench.py``).

``python benchmarks/ui_bench_streams.py SIDE`` prints one JSON line. SIDE is ``bare`` (a bare
Textual app streaming the reply into one ``Markdown`` through ``get_stream()``), ``app`` (the
chat app, history store and scripted FakeEngine), ``keys`` (key-press latency in the app while
replies stream, each in a fresh chat), ``keys-long`` (the same in one chat that already holds
six long replies) or ``profile`` (one app stream under cProfile, printed). ``--no-gc-policy``
turns the app's garbage-collector policy off (``starling_tui.ui.gc_pauses``: the A/B of it);
``--gc-policy`` gives the bare app the same policy, to show what it is worth there too.

Every side gets the same treatment: a fresh process (nothing left over from other rounds:
Textual keeps some caches for the life of a process, and a bigger heap makes every collection
slower), one warm-up stream in the same app, discarded (first-use costs such as the code
highlighter's imports), then ``gc.collect()``, then the measured stream. The harness waits for
the end by checking a flag every millisecond, never by querying widgets in a loop: that busy
loop ran inside the app's event loop and had cost the app 1–4 s of CPU per stream.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ui_bench_body import (
    app_stream,
    bare_streams,
    key_latency,
    profiled_stream,
    until,
    with_chat_app,
)

LONG_CHAT = 6  # finished 2,000-token replies in the chat before ``keys-long`` presses keys


class GcClock:
    """Time spent in the garbage collector: total, longest pause, full collections."""

    def __init__(self) -> None:
        self.total_s = self.max_s = 0.0
        self.full = 0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        """Start counting afresh."""
        self.total_s = self.max_s = 0.0
        self.full = 0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        pause = time.perf_counter() - self._start
        self.total_s += pause
        self.max_s = max(self.max_s, pause)
        self.full += info["generation"] == 2

    def figures(self) -> dict[str, float]:
        """Milliseconds in the collector, the longest pause, and the full collections."""
        return {"gc_ms": self.total_s * 1000, "gc_max_ms": self.max_s * 1000,
                "gc_full": self.full}


def set_gc_policy(on: bool) -> None:
    """Turn the app's garbage-collector policy off (the A/B) by making its calls no-ops."""
    if not on:
        from starling_tui.ui import gc_pauses

        for name in ("start", "settle", "release", "stop"):
            setattr(gc_pauses, name, lambda: None)


async def measure(side: str, clock: GcClock, bare_policy: bool) -> dict[str, Any]:
    """Warm-up, collect, then the measured stream (or key presses) of ``side``."""
    if side == "bare":
        return await bare_streams(clock, bare_policy)

    def before() -> None:  # the same for both sides: collect, then count afresh
        gc.collect()
        clock.reset()

    async def body(pilot: Any, screen: Any) -> dict[str, Any]:
        await app_stream(pilot, screen)  # warm-up, discarded
        if side == "keys-long":  # the chat already holds LONG_CHAT finished long replies
            for _ in range(LONG_CHAT):
                screen.send("go")
                await until(lambda: screen.controller.state.reply_id is not None)
                await until(lambda: screen.controller.state.reply_id is None)
        if side.startswith("keys"):
            before()
            latencies = await key_latency(pilot, screen, fresh=side == "keys")
            return {"latencies": latencies, **clock.figures()}
        if side == "profile":
            await profiled_stream(pilot, screen, before)
            return {}
        return {**await app_stream(pilot, screen, before), **clock.figures()}

    return await with_chat_app(body)


def main() -> int:
    """Measure one side in this process and print the result as one JSON line."""
    side = sys.argv[1]
    set_gc_policy("--no-gc-policy" not in sys.argv)
    clock = GcClock()
    with tempfile.TemporaryDirectory() as home:
        os.environ["STARLING_TUI_HOME"] = home
        result = asyncio.run(measure(side, clock, "--gc-policy" in sys.argv))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
