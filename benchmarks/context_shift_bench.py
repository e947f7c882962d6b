"""Context shift benchmark: how close a shifted cache stays to a fresh evaluation, and how fast.

``quality``: a conversation built from the shipped public-domain novel (user turns quote a
passage, assistant turns answer with the next one) is fed turn by turn to the engine's worker
session (in this process) with ``context_overflow = "shift"``. After every turn once the window
has overflowed, the next-token distribution of the shifted cache is compared with a fresh
evaluation of the very same prompt ids in a second context: KL divergence (fresh ‖ shifted,
nats) and top-1 agreement. The same walk with the shift turned off (``drop``: exact
re-evaluation, so only batch-size rounding differs) gives the noise floor.

``ttft``: time to first token of a follow-up once the window is full (every turn shifts or
reuses the cache) against the same follow-up in an empty conversation, through
:class:`ProcessEngine`. Target <= 1.5x.

    python benchmarks/context_shift_bench.py quality [--ctx 1024] [--shares 0.1,0.25,0.5]
        [--self-extend G --self-extend-window W]
    python benchmarks/context_shift_bench.py ttft [--model PATH] [--ctx 2048] [--turns 24]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine_bench import smollm2_path

from starling_tui.engine.base import EngineOptions
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

if TYPE_CHECKING:
    import numpy as np


def passages(n: int, words: int = 60) -> list[str]:
    """``n`` consecutive passages of about ``words`` words from the shipped novel."""
    from starling_tui.quality.text import default_text

    tokens = default_text().split()[200:]
    return [" ".join(tokens[i * words : (i + 1) * words]) for i in range(n)]


def conversation(turns: int) -> list[ChatMessage]:
    """System prompt + ``turns`` user/assistant pairs of natural text (no reply generated)."""
    texts = passages(2 * turns)
    messages = [ChatMessage("system", "You are a careful reader of English novels.")]
    for i in range(turns):
        messages.append(ChatMessage("user", f"What comes after this passage? {texts[2 * i]}"))
        messages.append(ChatMessage("assistant", texts[2 * i + 1]))
    return messages


def last_logits(session: Any) -> np.ndarray:
    """Logits of the last evaluated token, as float64."""
    # numpy is imported here, not at the top: the engine's spawned worker re-imports this
    # module, and numpy loaded before a CUDA build of llama.cpp made the worker's model load
    # segfault on the GPU host (benchmarks/README, "GPU").
    import numpy as np

    from starling_tui.llama.backend import llama

    n_vocab = session.model.n_vocab()
    ptr = llama().llama_get_logits_ith(session.kv.ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)


def divergence(fresh: np.ndarray, other: np.ndarray) -> tuple[float, bool]:
    """KL(fresh ‖ other) in nats and whether the top-1 tokens agree."""
    import numpy as np
    lp = fresh - np.logaddexp.reduce(fresh)
    lq = other - np.logaddexp.reduce(other)
    return float(np.sum(np.exp(lp) * (lp - lq))), int(fresh.argmax()) == int(other.argmax())


def walk(path: Path, n_ctx: int, policy: str, share: float, turns: int,
         extend: tuple[int, int] = (1, 512)) -> list[tuple[float, bool]]:
    """Feed the conversation turn by turn; compare each overflowed turn with a fresh eval
    (with Self-Extend ``extend`` = (G, W) on both sides when G > 1)."""
    from starling_tui.engine.worker.session import Session

    def session() -> Session:
        return Session(EngineOptions(model_path=str(path), n_ctx=n_ctx, n_threads=2,
                                     state_cache=False, context_overflow=policy,  # type: ignore[arg-type]
                                     context_shift_share=share, self_extend=extend[0],
                                     self_extend_window=extend[1]))

    walker, fresh = session(), session()
    messages = conversation(turns)
    results = []
    never = lambda: False  # noqa: E731
    try:
        for end in range(2, len(messages), 2):  # each request ends with a user message
            request = ChatRequest(tuple(messages[:end]), sampling=SamplingOptions(max_tokens=64))
            fitted, _ = walker.plan(request)
            walker.kv.eval_prompt(fitted.ids, never)  # type: ignore[union-attr]
            if fitted.dropped_messages == 0:
                continue
            fresh.kv.trim_to(0)  # type: ignore[union-attr]
            fresh.kv.eval_prompt(fitted.ids, never)  # type: ignore[union-attr]
            results.append(divergence(last_logits(fresh), last_logits(walker)))
    finally:
        walker.close()
        fresh.close()
    return results


def quality(args: argparse.Namespace) -> None:
    path = Path(args.model) if args.model else smollm2_path()
    for policy, share in [("drop", 0.25)] + [("shift", float(s)) for s in args.shares.split(",")]:
        res = walk(path, args.ctx, policy, share, args.turns,
                   (args.self_extend, args.self_extend_window))
        kls = [kl for kl, _ in res]
        print(f"{policy:5} share {share:.2f}: {len(res)} overflowed turns, KL mean "
              f"{statistics.mean(kls):.4f} median {statistics.median(kls):.4f} max {max(kls):.4f}"
              f" nats, top-1 agreement {sum(a for _, a in res)}/{len(res)}")


def first_piece(engine: Any, request: ChatRequest) -> tuple[float, str]:
    """Seconds from the request to its first piece, and the whole reply."""
    start = time.perf_counter()
    stream = engine.generate(request)
    pieces = [next(stream, "")]
    elapsed = time.perf_counter() - start
    pieces.extend(stream)
    return elapsed, "".join(pieces)


def ttft(args: argparse.Namespace) -> None:
    """Follow-ups in a conversation past its window vs the same message in an empty one."""
    from starling_tui.engine.parent.process import ProcessEngine

    path = Path(args.model) if args.model else smollm2_path()
    opts = EngineOptions(model_path=str(path), n_ctx=args.ctx, n_threads=args.threads,
                         state_cache=False, context_overflow=args.policy)
    chat, solo = ProcessEngine(), ProcessEngine()
    chat.load(opts)
    solo.load(opts)
    limit = SamplingOptions(max_tokens=args.reply)
    messages = conversation(1)[:1]
    full, empty = [], []
    try:
        for i, text in enumerate(passages(args.turns)):
            user = ChatMessage("user", f"What comes after this passage? {text}")
            messages.append(user)
            time.sleep(args.pause)  # the user types; the engine prepares the next turn
            took, reply = first_piece(chat, ChatRequest(tuple(messages), sampling=limit))
            stats = chat.last_stats
            messages.append(ChatMessage("assistant", reply))
            if not stats.dropped_messages:
                continue
            alone, _ = first_piece(solo, ChatRequest((messages[0], user), sampling=limit))
            full.append(took)
            empty.append(alone)
            print(f"turn {i}: prompt {stats.prompt_tokens}, evaluated {stats.evaluated_tokens}, "
                  f"dropped {stats.dropped_messages}: {took * 1000:.0f} ms vs empty "
                  f"{alone * 1000:.0f} ms", flush=True)
    finally:
        chat.close()
        solo.close()
    if full:
        ratio = statistics.median(full) / statistics.median(empty)
        print(f"window full: median {statistics.median(full) * 1000:.0f} ms, empty conversation "
              f"{statistics.median(empty) * 1000:.0f} ms, ratio {ratio:.2f}x ({len(full)} turns)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["quality", "ttft"])
    parser.add_argument("--model", default=None)
    parser.add_argument("--ctx", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--turns", type=int, default=24)
    parser.add_argument("--reply", type=int, default=32)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--policy", default="shift", choices=["shift", "drop"])
    parser.add_argument("--shares", default="0.1,0.25,0.5")
    parser.add_argument("--self-extend", type=int, default=1, help="quality: G (1 = off)")
    parser.add_argument("--self-extend-window", type=int, default=512, help="quality: W")
    args = parser.parse_args()
    (quality if args.what == "quality" else ttft)(args)


if __name__ == "__main__":
    main()
