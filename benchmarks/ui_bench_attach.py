"""UI benchmark: typing with a 2,000-line file attached (target: key p99 < 50 ms).

Each scenario runs in the chat app (history store, scripted FakeEngine, 120x40), a fresh app
per scenario, 200 key presses each, measured from the key event posted to its character in the
prompt box (as ``ui_bench.py`` measures keys):

1. ``no file``: typing in a chat, no file attached (the baseline of the same run).
2. ``chip``: the 2,000-line file's chip shown under the prompt box, typing in bursts of 20 keys
   30 ms apart with a 0.4 s pause after each, so the draft meter counts the draft (files
   included) as it does when a person pauses.
3. ``reply``: typing while a 2,000-token Markdown reply streams (5 ms between pieces, so the
   keys land while it streams), no file: the baseline of the next one.
4. ``chip + reply``: the file sent with a message (shown collapsed in the chat), attached again
   (its chip shown), typing while the same reply streams.

The FakeEngine runs in this process, so its prompt previews (the chip's token count, the draft
meter) share the interpreter with the app, which the real engine's child process does not: a
harsher case for the key latency than the real one.

Run: ``python benchmarks/ui_bench_attach.py [SCENARIO…]`` (a few minutes on the 2-core box).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LINES = 2000
KEYS = 200
BURST = 20  # keys typed 30 ms apart, then a pause in which the draft meter counts


def big_file(folder: Path) -> Path:
    """A 2,000-line Python file (about 70 kB)."""
    lines = []
    for n in range(LINES // 4):
        lines += [f"def step_{n}(values: list[int]) -> int:",
                  f'    """Sum the values, then add {n} (line {4 * n + 2})."""',
                  f"    return sum(values) + {n}", ""]
    path = folder / "steps.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def load() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


async def type_keys(screen: Any, count: int, *, pauses: bool,
                    go_on: Any = lambda: True) -> list[float]:
    """Post ``count`` key presses (while ``go_on()``), each timed to its character."""
    from ui_bench_body import time_key

    from starling_tui.ui.widgets.prompt_input import PromptInput

    prompt = screen.query_one(PromptInput)
    latencies: list[float] = []
    while len(latencies) < count and go_on():
        latencies.append(await time_key(screen, prompt))
        pause = 0.4 if pauses and len(latencies) % BURST == 0 else 0.03
        await asyncio.sleep(pause)
    return latencies


async def attach(screen: Any, path: Path, *, counted: bool = True) -> None:
    """Attach ``path`` to the draft and wait for its chip (and its token count: during a
    reply the engine is busy, the chip says "counting tokens…" until the reply ends)."""
    from ui_bench_body import until

    from starling_tui.ui.widgets.attachments import FileChip

    screen.controller.attach(str(path))
    await until(lambda: any(not counted or c.file.tokens is not None
                            for c in screen.query(FileChip)))


async def scenario(name: str, path: Path) -> list[float]:
    """The key latencies of one scenario, in a fresh app."""
    from ui_bench_body import until, with_chat_app

    async def body(_: Any, screen: Any) -> list[float]:
        state = screen.controller.state
        if name == "no file":
            return await type_keys(screen, KEYS, pauses=True)
        with_file = name == "chip + reply"
        if name != "reply":
            await attach(screen, path)
        if name == "chip":
            return await type_keys(screen, KEYS, pauses=True)
        latencies: list[float] = []
        while len(latencies) < KEYS:
            screen.view.prompt.load_text("")
            screen.send("here is the file")  # it goes with the message, shown collapsed
            await until(lambda: state.reply_id is not None)
            if with_file:
                await attach(screen, path, counted=False)  # attached again: its chip shows
            latencies += await type_keys(screen, KEYS - len(latencies), pauses=False,
                                         go_on=lambda: state.reply_id is not None)
            screen.controller.core.cancel()
            await until(lambda: state.reply_id is None and not screen.controller.generating)
            state.files.clear()
            screen.view.show_files([])
        return latencies

    # replies that last (2,000 pieces, 5 ms apart): the keys are typed while one streams
    result: list[float] = await with_chat_app(body, delay_s=0.005 if "reply" in name else 0.0)
    return result


SCENARIOS = ("no file", "chip", "reply", "chip + reply")


def main() -> int:
    """Run the scenarios (or those named as arguments) and print p50/p99/max for each."""
    from ui_bench_body import describe_keys

    names = [n for n in SCENARIOS if n in sys.argv[1:]] or list(SCENARIOS)
    with tempfile.TemporaryDirectory() as home:
        os.environ["STARLING_TUI_HOME"] = home
        path = big_file(Path(home))
        size = path.stat().st_size
        print(f"typing with a {LINES}-line file ({size / 1000:.1f} kB) attached, {KEYS} keys per "
              "scenario, FakeEngine in-process (target p99 < 50 ms):")
        for name in names:
            before = load()
            latencies = asyncio.run(scenario(name, path))
            print(f"  {name:13s} {describe_keys(latencies)}  [{before} → {load()}]")
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    sys.exit(main())
