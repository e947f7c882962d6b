"""CPU contention: decode and prompt speed against threads and wait policy, with busy cores.

For 0, 1 and 2 busy background processes (pure spinning, like a compiler or a runaway tab) on
the CPUs given by ``--cpus`` (the benchmark, its engine workers and the busy processes are all
pinned there, so ``--cpus 0,1`` on a larger machine is a controlled 2-core box), it measures,
in one run, through the app's own engine (``ProcessEngine``, a fresh worker per setting):

- **auto**: the engine's default (``n_threads = 0``: thread counts follow the free CPU, see
  ``starling_tui/engine/worker/threads.py``);
- fixed settings: 1 thread, N threads (N = the CPUs given; the old default on N cores), and
  each with OpenMP's passive wait (``OMP_WAIT_POLICY=passive``: llama.cpp's CPU backend is
  built with OpenMP here, where that is its "polling off"; libgomp's default spins ~300k
  rounds at each barrier before sleeping);
- a bare llama.cpp loop with a ggml threadpool attached through ctypes at high priority
  (``GGML_SCHED_PRIO_HIGH``: SCHED_FIFO 80, needs root or CAP_SYS_NICE), N threads.

Prompt speed: a ~``--prompt``-token message evaluated from scratch (tokens/s). Decode speed:
greedy tokens/s as the worker measures it, ``--tokens`` tokens or ``--limit-s`` seconds. The
"auto" engine answers one short warm-up request first: its prompt threads follow the load seen
at the end of the previous reply. Ratios compare each setting with the best fixed one.

    python benchmarks/threads_bench.py [--model PATH] [--cpus 0,1] [--busy 0,1,2] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import smollm2_path
from threads_prio import prio_child

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

DECODE = "Count from 1 to 1000, separated by commas."
WORDS = "the quick brown fox jumps over the lazy dog near a quiet river bank".split()


def settings(n: int) -> dict[str, tuple[int, dict[str, str]]]:
    """name -> (n_threads for EngineOptions, extra environment of the worker)."""
    passive = {"OMP_WAIT_POLICY": "passive"}
    return {"auto (default)": (0, {}), "1 thread": (1, {}), f"{n} threads": (n, {}),
            "1 thread, passive": (1, passive), f"{n} threads, passive": (n, passive)}


def start_busy(count: int, cpus: set[int]) -> list[subprocess.Popen[bytes]]:
    """``count`` spinning processes pinned to ``cpus``."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                             preexec_fn=lambda: os.sched_setaffinity(0, cpus))
            for _ in range(count)]


def request(text: str, max_tokens: int) -> ChatRequest:
    # temperature 1: a stand-in model of tiled weights answers the end-of-turn token greedily
    sampling = SamplingOptions(max_tokens=max_tokens, loop_guard=False, temperature=1.0, seed=1)
    return ChatRequest((ChatMessage("user", text),), sampling=sampling)


def measure_engine(model: Path, threads: int, env: dict[str, str], prompt_tokens: int,
                   tokens: int, limit_s: float, tag: int) -> tuple[float, float]:
    """(prompt tok/s, decode tok/s) of one fresh engine worker."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the spawned worker inherits it (libgomp reads it at load)
    engine = ProcessEngine()
    try:
        engine.load(EngineOptions(model_path=str(model), n_ctx=1024, n_threads=threads,
                                  n_gpu_layers=0))
        "".join(engine.generate(request("Hi.", 4)))  # warm-up (auto: sees the load)
        words = " ".join(WORDS[i % len(WORDS)] for i in range(prompt_tokens))
        "".join(engine.generate(request(f"Note {tag}: {words}", 1)))
        counters = engine.counters()  # llama.cpp's own prompt timing
        prompt_speed = counters["n_p_eval"] / max(counters["t_p_eval_ms"] / 1000, 1e-9)
        began = time.perf_counter()
        for _ in engine.generate(request(DECODE, tokens)):
            if time.perf_counter() - began > limit_s:
                engine.cancel()
        return prompt_speed, engine.last_stats.tokens_per_s
    finally:
        engine.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(args: argparse.Namespace) -> None:
    cpus = {int(c) for c in args.cpus.split(",")}
    os.sched_setaffinity(0, cpus)
    n = len(cpus)
    model = args.model or smollm2_path()
    names = [*list(settings(n)), f"{n} threads, prio high (bare loop)"]
    print(f"model: {model.name}  CPUs: {sorted(cpus)}  load before: {os.getloadavg()}")
    print("| busy processes | setting | prompt tok/s | decode tok/s | decode vs best fixed |")
    print("|---:|---|---:|---:|---:|")
    for busy in (int(b) for b in args.busy.split(",")):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        procs = start_busy(busy, cpus)
        try:
            time.sleep(1.0)
            for r in range(args.rounds):
                for name, (threads, env) in settings(n).items():
                    results[name].append(measure_engine(
                        model, threads, env, args.prompt, args.tokens, args.limit_s, r))
                results[names[-1]].append(prio_child(model, n, args.prompt, args.tokens,
                                                     args.limit_s))
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
        report(busy, results)


def report(busy: int, results: dict[str, list[tuple[float, float]]]) -> None:
    med = {k: (statistics.median(p for p, _ in v), statistics.median(d for _, d in v))
           for k, v in results.items()}
    best = max(d for k, (_, d) in med.items() if not k.startswith("auto"))
    for name, (prompt, decode) in med.items():
        print(f"| {busy} | {name} | {prompt:.1f} | {decode:.1f} | {decode / best:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: SmolLM2)")
    parser.add_argument("--cpus", default="0,1", help="CPUs to pin everything to")
    parser.add_argument("--busy", default="0,1,2", help="busy process counts to measure")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128, help="prompt words")
    parser.add_argument("--tokens", type=int, default=96, help="decode tokens")
    parser.add_argument("--limit-s", type=float, default=6.0, help="decode time limit")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
