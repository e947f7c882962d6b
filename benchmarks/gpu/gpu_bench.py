"""GPU offload, measured: the app's engine at 0, half and all layers on the GPU.

Runs on the GPU machine (see ``run_on_gpu.sh``) against a 7B-shaped Q4_K_M made by
``starling-convert``. For each offload setting it loads the model through the app's own engine
(``ProcessEngine``: llama.cpp in a child process, exactly what the TUI runs) and records:

- prompt processing tokens/s (a ~512-token prompt, evaluated once, reply of 1 token),
- decode tokens/s (128 tokens, greedy),
- time to first token of a short prompt,
- GPU memory used (device free memory before and after loading, read through llama.cpp),
- the layers and backend the engine *reports*, to check against the measured memory.

It also checks that ``auto`` picks full offload when a GPU backend exists, and that a context
too large for the card gives a clear error (not a crash) and that fewer layers then work.
Prints a Markdown table and writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from starling_tui.engine.base import EngineOptions  # noqa: E402
from starling_tui.engine.parent.process import ProcessEngine  # noqa: E402
from starling_tui.errors import EngineError  # noqa: E402
from starling_tui.types import ChatMessage, ChatRequest, GpuLayers, SamplingOptions  # noqa: E402

N_CTX = 4096


def _gpu_free_bytes() -> int:
    """Free memory of the first GPU, read in a child so this process holds no CUDA context."""
    import subprocess

    code = (
        "from starling_tui.llama.devices import gpu_devices as g; d=g(); "
        "print(d[0].free_bytes if d else 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return int(out.stdout.strip() or 0)


def _long_prompt(engine: ProcessEngine, target: int) -> str:
    """A user message whose prompt is about ``target`` tokens."""
    words = "the quick brown fox jumps over the lazy dog while a rustic engine hums".split(" ")
    text = " ".join(words * (target // len(words) + 1))
    request = ChatRequest((ChatMessage("user", text),))
    n = len(engine.preview(request).token_ids)
    return " ".join(text.split()[: max(1, len(text.split()) * target // n)])


def _reply(engine: ProcessEngine, text: str, max_tokens: int) -> tuple[int, float, float, int]:
    """(prompt tokens evaluated, ttft s, decode tok/s, tokens generated) of one fresh reply."""
    request = ChatRequest(
        (ChatMessage("user", text),),
        sampling=SamplingOptions(temperature=0.0, max_tokens=max_tokens),
    )
    for _ in engine.generate(request):
        pass
    s = engine.last_stats
    return s.evaluated_tokens, s.ttft_s, s.tokens_per_s, s.completion_tokens


def measure(model: Path, layers: GpuLayers, pp_tokens: int, tg_tokens: int) -> dict:
    """One offload setting: load, then prompt processing, decode and TTFT figures."""
    free_before = _gpu_free_bytes()
    engine = ProcessEngine()
    t0 = time.perf_counter()
    info = engine.load(
        EngineOptions(str(model), n_gpu_layers=layers, n_ctx=N_CTX, state_cache=False)
    )
    load_s = time.perf_counter() - t0
    vram = max(free_before - _gpu_free_bytes(), 0)
    try:
        prompt = _long_prompt(engine, pp_tokens)
        _reply(engine, "warm up", 4)
        # Only the tokens after the shared template prefix are evaluated (KV reuse), so
        # evaluated/ttft is the prompt-processing rate of exactly what ran.
        evaluated, pp_ttft, _, _ = _reply(engine, prompt, 1)
        _, short_ttft, tg, generated = _reply(engine, "Hello", tg_tokens)
    finally:
        engine.close()
    return {
        "requested": layers,
        "reported_layers": info.n_gpu_layers,
        "n_layers": info.n_layers,
        "backend": info.backend,
        "gpu_note": info.gpu_note,
        "load_s": round(load_s, 2),
        "vram_mib": round(vram / 2**20),
        "pp_tokens": evaluated,
        "pp_tok_s": round(evaluated / pp_ttft, 1) if pp_ttft else 0.0,
        "ttft_short_s": round(short_ttft, 4),
        "tg_tok_s": round(tg, 1),
        "tg_tokens": generated,
    }


def oom_check(model: Path) -> dict:
    """A context far too large for the card: a clear error, then fewer layers / smaller ctx work."""
    engine = ProcessEngine()
    result: dict = {}
    try:
        engine.load(
            EngineOptions(str(model), n_gpu_layers="all", n_ctx=4_000_000, state_cache=False)
        )
        result["error"] = "no error: the card took a 4M-token context?"
    except EngineError as exc:  # EngineCrashed is an EngineError too: record which one
        result["error"] = f"{type(exc).__name__}: {exc}"
    info = engine.load(
        EngineOptions(str(model), n_gpu_layers="all", n_ctx=N_CTX, state_cache=False)
    )
    result["then_loaded_layers"] = info.n_gpu_layers
    engine.close()
    return result


def amx_check(model: Path) -> dict:
    """On an AMX host: extra buffer types on must crash only the worker; the default must work.

    llama.cpp's AMX matmul segfaults once a quantized model evaluates >= 2 tokens on the CPU
    (llama.cpp issue 20824). The engine turns extra buffer types off there by default.
    """
    from starling_tui.llama.backend import cpu_has_amx

    if not cpu_has_amx():
        return {"amx": False}
    result: dict = {"amx": True}
    engine = ProcessEngine()
    try:
        engine.load(
            EngineOptions(
                str(model), n_gpu_layers=0, n_ctx=N_CTX, extra_bufts=True, state_cache=False
            )
        )
        _reply(engine, "Tell me a story about a lighthouse", 4)
        result["extra_bufts_on"] = "no crash"
    except EngineError as exc:
        result["extra_bufts_on"] = f"{type(exc).__name__}: {exc}"
    engine.load(EngineOptions(str(model), n_gpu_layers=0, n_ctx=N_CTX, state_cache=False))
    _, _, tg, generated = _reply(engine, "Tell me a story about a lighthouse", 8)
    result["default"] = f"generated {generated} tokens at {tg:.1f} tok/s"
    engine.close()
    return result


def main() -> int:
    """Parse arguments, run every setting, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--pp", type=int, default=512)
    parser.add_argument("--tg", type=int, default=128)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = args.model.stat().st_size
    rows = [measure(args.model, layers, args.pp, args.tg) for layers in (0, 16, "all", "auto")]
    oom = oom_check(args.model)
    amx = amx_check(args.model)
    print(f"model: {args.model.name}, {size / 2**30:.2f} GiB")
    print(
        "| layers | reported | backend | VRAM MiB | pp tok/s | tg tok/s | TTFT short s | load s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['requested']} | {r['reported_layers']}/{r['n_layers']} | {r['backend']} | "
            f"{r['vram_mib']} | {r['pp_tok_s']} | {r['tg_tok_s']} | {r['ttft_short_s']} | "
            f"{r['load_s']} |"
        )
    print("notes:", [r["gpu_note"] for r in rows])
    print("oversized context:", oom)
    print("AMX:", amx)
    if args.json:
        args.json.write_text(
            json.dumps({"model_bytes": size, "rows": rows, "oom": oom, "amx": amx}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
