"""UI benchmark: the chat app headless, fed by the scripted FakeEngine as fast as it can take it.

Measures, each against a baseline in the same run:

1. Streaming: a 2,000-token Markdown reply (paragraphs, lists, code blocks), saved and rendered
   by the app, against a bare Textual app streaming the same text into one ``Markdown`` through
   ``get_stream()`` (16-token writes). Every stream runs in a fresh process after a discarded
   warm-up stream and a ``gc.collect()``, the same for both sides (``ui_bench_streams.py``).
   Rounds alternate the sides, in a rotating order, so both see the same machine load; the
   ratio is reported per round and as the median. ``--ab`` adds, per round, the app without
   its garbage-collector policy and the bare app with it. ``--profile`` adds a cProfile
   breakdown of one app stream.
2. Key-press latency while a reply streams (posted → in the prompt box; target p99 < 50 ms);
   with ``--ab`` also without the gc policy and in a chat already holding six long replies.
3. and 4. (``ui_bench_open.py``): first frame of the real ``tui`` path; a 5,000-message chat.

Run: ``python benchmarks/ui_bench.py [--rounds N] [--ab] [--profile] [--only stream]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIDES = {"bare": ["bare"], "app": ["app"], "app, no gc policy": ["app", "--no-gc-policy"],
         "bare + gc policy": ["bare", "--gc-policy"]}


def load() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def child(args: list[str]) -> dict[str, Any]:
    """Run one measurement of ``ui_bench_streams.py`` in a fresh process; its JSON result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(HERE / "ui_bench_streams.py"), *args],
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{args}: {done.stderr[-2000:]}")
    *printed, last = done.stdout.strip().splitlines() or [""]
    for line in printed:
        print(line)
    return dict(json.loads(last))


def describe(result: dict[str, Any]) -> str:
    """One side of a round: tok/s, appends, CPU, time in the collector."""
    return (f"{result['rate']:5.0f} tok/s ({result['appends']} appends, "
            f"{result['cpu_s']:.2f} s CPU, gc {result['gc_ms']:.0f} ms in "
            f"{result['gc_full']} full, longest {result['gc_max_ms']:.0f} ms)")


def report_stream(rounds: int, ab: bool) -> None:
    """Part 1: rounds of fresh-process streams, the sides in rotating order."""
    names = list(SIDES) if ab else ["bare", "app"]
    print(f"streaming 2000 tokens of Markdown (FakeEngine, no delay), {rounds} rounds, "
          f"each stream in a fresh process after a warm-up stream, {load()}:")
    ratios: dict[str, list[float]] = {name: [] for name in names if name != "bare"}
    for round_ in range(1, rounds + 1):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        results = {name: child(SIDES[name]) for name in order}
        bare = results["bare"]["rate"]
        print(f"  round {round_} [{load()}], order {', '.join(order)}:")
        for name in names:
            line = f"    {name:18s} {describe(results[name])}"
            if name != "bare":
                ratios[name].append(results[name]["rate"] / bare)
                line += f": {ratios[name][-1]:.2f}x bare"
            print(line)
    for name, values in ratios.items():
        print(f"  median {name} / bare: {statistics.median(values):.2f}x "
              f"({', '.join(f'{v:.2f}' for v in values)})")


def report_keys(ab: bool) -> None:
    """Part 2: key presses while replies stream, in a fresh process; with ``ab`` also without
    the gc policy, and in a chat that already holds six long replies."""
    from ui_bench_body import describe_keys

    variants = {"app": ["keys"], "app, no gc policy": ["keys", "--no-gc-policy"],
                "app, long chat": ["keys-long"],
                "app, long chat, no gc policy": ["keys-long", "--no-gc-policy"]}
    for name, args in variants.items() if ab else [("app", ["keys"])]:
        result = child(args)
        print(f"key-press latency while streaming, {name}: {describe_keys(result['latencies'])}"
              f"; gc {result['gc_ms']:.0f} ms in {result['gc_full']} full, longest "
              f"{result['gc_max_ms']:.0f} ms (target p99 < 50 ms)  [{load()}]")


def main() -> int:
    """Run the measurements and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="streaming rounds")
    parser.add_argument("--ab", action="store_true",
                        help="also the app without its gc policy and the bare app with it")
    parser.add_argument("--profile", action="store_true", help="cProfile one app stream")
    parser.add_argument("--only", choices=("stream",), help="skip the start-up and open parts")
    args = parser.parse_args()
    report_stream(args.rounds, args.ab)
    if args.profile:
        child(["profile"])
    report_keys(args.ab)
    if args.only is None:
        from ui_bench_open import report_startup_and_open

        with tempfile.TemporaryDirectory() as tmp:
            os.environ["STARLING_TUI_HOME"] = tmp
            report_startup_and_open(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    sys.exit(main())
