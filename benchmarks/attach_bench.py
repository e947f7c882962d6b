"""Attached-file benchmark: a 2,000-line file costs its tokens and nothing more.

One run, one model and one engine process: the same question about the same 2,000-line Python
file is sent through the chat core as ``ask`` sends it, in two ways, rounds alternating after
one untimed warm-up:

- ``file``: the question with the file attached (``ask -f big.py QUESTION``): the file is read
  and checked from disk, its fit checked with a preview, then the reply's first token;
- ``pasted``: the file's text pasted into the message before the question, no framing.

Reported: prompt tokens of each (the difference is the framing: the ``File:`` line and the
fences), the median time to first token of each (a fresh prefix every round, so nothing is
reused from the cache), their ratio against the ratio of their prompt tokens, the time of
each step added by attaching (reading, the fit check, the chip's token count), and the load.

    python benchmarks/attach_bench.py [--model PATH] [--threads N] [--rounds N] [--lines N]
                                      [--ctx N]

Without ``--model`` it converts a tiny Starling-shaped checkpoint (Starling's tokenizer and
OpenChat template, 2 layers, a 32,768-token training context) into a temporary GGUF: the file
is over 23,000 Starling tokens, more than an 8,192-token window holds, and the tiny model keeps
its evaluation cheap, so any cost of attaching beyond the tokens stands out. ``--model`` runs
the same comparison on another GGUF (``--lines`` and ``--ctx`` so that the file fits its
window).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from starling_tui.chat import ChatCore
from starling_tui.chat.attachments import attachment_tokens, check_files_fit, read_attachments
from starling_tui.config import Settings
from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.history import HistoryStore
from starling_tui.types import Attachment

QUESTION = "Which function would you test first, and why?"
T = TypeVar("T")


def tiny_starling(folder: Path) -> Path:
    """A tiny Starling-shaped F16 GGUF with a 32,768-token training context."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from checkpoint_factory import CheckpointSpec, Shape, write_checkpoint
    from starling_convert.api import convert_checkpoint

    checkpoint = write_checkpoint(folder / "ckpt", CheckpointSpec(shape=Shape(context=32768)))
    return convert_checkpoint(checkpoint, "f16", folder / "tiny-starling-32k.gguf", quiet=True)


def python_file(lines: int) -> str:
    """A plausible Python module of exactly ``lines`` lines (functions of five lines)."""
    out = ['"""Generated module for the attachment benchmark."""', ""]
    i = 0
    while len(out) < lines:
        out += [f"def step_{i}(value: int) -> int:",
                f"    \"\"\"Step {i}: scale, shift and clamp.\"\"\"",
                f"    scaled = value * {i % 7 + 2} + {i}",
                f"    return min(scaled, {1000 + i})", ""]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``fn`` took and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def first_token(core: ChatCore, system: str, text: str, files: list[Attachment]) -> tuple[
        float, int]:
    """Send through the chat core as ``ask`` does; seconds from the call to the first piece
    (the fit check included) and the prompt's tokens. The reply stops after one token."""
    start = time.perf_counter()
    first: list[float] = []
    pending = core.start(text, system_prompt=system, attachments=files,
                         sampling_overrides={"max_tokens": 1})
    pending.run(on_piece=lambda _piece: first.append(time.perf_counter()) if not first else None)
    return first[0] - start, core.engine.last_stats.prompt_tokens


def run(model: Path, threads: int | None, rounds: int, lines: int, ctx: int) -> None:
    """Measure and print the figures."""
    folder = Path(tempfile.mkdtemp(prefix="attach-bench-"))
    source = folder / "big.py"
    source.write_text(python_file(lines), encoding="utf-8")
    load_before = os.getloadavg()
    engine = ProcessEngine()
    engine.load(EngineOptions(model_path=str(model), n_ctx=ctx, n_threads=threads,
                              state_cache=False))
    settings = Settings(ctx=ctx)
    try:
        with HistoryStore(folder / "history.db") as store:
            core = ChatCore(store, engine, settings)
            os.chdir(folder)  # the file is attached as "big.py", as a user in its folder would
            read_s, files = timed(lambda: read_attachments([source.name]))
            attachment = files[0].attachment
            pasted = attachment.text + "\n" + QUESTION
            count_s, tokens = timed(lambda: attachment_tokens(engine, attachment))
            request = core.request(None, QUESTION, attachments=[attachment])
            check_s, _ = timed(lambda: check_files_fit(engine, request))
            # Untimed: the first evaluation after a load pays one-off costs (buffers, threads).
            first_token(core, "Warm-up.", pasted, [])
            with_file: list[float] = []
            without: list[float] = []
            sizes: dict[str, int] = {}
            for i in range(rounds):
                # A new system prompt each round: the prompt shares no prefix with the last.
                for name, text, attached, times in (
                    ("file", QUESTION, [attachment], with_file),
                    ("pasted", pasted, [], without),
                ) if i % 2 == 0 else (
                    ("pasted", pasted, [], without),
                    ("file", QUESTION, [attachment], with_file),
                ):
                    seconds, prompt_tokens = first_token(core, f"Round {i} {name}.", text,
                                                         attached)
                    times.append(seconds)
                    sizes[name] = prompt_tokens
    finally:
        engine.close()
    load_after = os.getloadavg()
    f, p = statistics.median(with_file), statistics.median(without)
    print(f"model: {model.name}, window {ctx:,}, threads {threads or 'auto'}, {rounds} rounds")
    print(f"file: {lines:,} lines, {attachment.size:,} bytes, {tokens:,} tokens (chip count)")
    print(f"prompt tokens: file {sizes['file']:,}, pasted {sizes['pasted']:,} "
          f"(framing {sizes['file'] - sizes['pasted']:+,})")
    print(f"time to first token (median): file {f:.3f} s, pasted {p:.3f} s, "
          f"ratio {f / p:.3f} (token ratio {sizes['file'] / sizes['pasted']:.3f})")
    print("  file rounds:   " + " ".join(f"{x:.3f}" for x in with_file))
    print("  pasted rounds: " + " ".join(f"{x:.3f}" for x in without))
    print(f"steps: read {read_s * 1000:.1f} ms, fit check {check_s * 1000:.1f} ms, "
          f"chip token count {count_s * 1000:.1f} ms")
    print("load average (1/5/15 min) before: " + " ".join(f"{x:.2f}" for x in load_before)
          + ", after: " + " ".join(f"{x:.2f}" for x in load_after)
          + f" ({os.cpu_count()} cores)")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--ctx", type=int, default=24576)
    args = parser.parse_args()
    model = args.model or tiny_starling(Path(tempfile.mkdtemp(prefix="attach-bench-model-")))
    run(model, args.threads, args.rounds, args.lines, args.ctx)


if __name__ == "__main__":
    main()
