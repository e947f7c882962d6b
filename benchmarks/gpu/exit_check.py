"""Exit status of processes that used llama.cpp's CUDA backend (issue 14: a segfault at exit).

Each case runs in a fresh process and prints its exit status (-11: killed by SIGSEGV):

- ``bare``: this process loads the model on the GPU, decodes a few tokens, frees the context
  and the model, and exits normally (what ``engine_bench.py``'s in-process contexts do);
- ``bare-log``: the same with llama.cpp's native logging left on (no Python callback at all);
- ``engine``: the app's ``ProcessEngine`` (worker process), load, reply, close: the worker's
  exit status.

    python benchmarks/gpu/exit_check.py MODEL.gguf [--layers 99]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def bare(path: str, layers: int) -> None:
    """Load, decode 8 tokens, free: then fall off the end of the program."""
    from llama_cpp import _internals

    from starling_tui.llama import backend as lb

    lc = lb.llama()
    model = lb.load_model(path, lb.model_params(n_gpu_layers=layers))
    params = lc.llama_context_default_params()
    params.n_ctx = 512
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=64, embd=0, n_seq_max=1, verbose=False)
    sampler = _internals.LlamaSampler()
    sampler.add_greedy()
    prompt = model.tokenize(b"Hello there", True, False)
    batch.set_batch(prompt, 0, False)
    lc.llama_decode(ctx.ctx, batch.batch)
    pos = len(prompt)
    for _ in range(8):
        token = sampler.sample(ctx, -1)
        batch.set_batch([token], pos, False)
        lc.llama_decode(ctx.ctx, batch.batch)
        pos += 1
    sampler.close()
    ctx.close()
    model.close()
    print("bare: done, exiting", flush=True)


def engine(path: str, layers: int) -> None:
    """The worker's exit status after a normal close."""
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.parent.process import ProcessEngine
    from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

    eng = ProcessEngine()
    eng.load(EngineOptions(model_path=path, n_ctx=512, n_gpu_layers=layers))
    request = ChatRequest((ChatMessage("user", "Hi"),), sampling=SamplingOptions(max_tokens=8))
    text = "".join(eng.generate(request))
    proc = eng._pipe._proc  # the worker process (private: a check script may look)
    eng.close()
    print(f"engine: {len(text)} characters, worker exit status {proc.exitcode}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--layers", type=int, default=99)
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "engine":
        engine(args.model, args.layers)
        return
    if args.case:
        bare(args.model, args.layers)
        return
    cases = {"bare": {}, "bare-log": {"STARLING_TUI_LLAMA_LOG": "1"}, "engine": {}}
    for case, env in cases.items():
        result = subprocess.run(
            [sys.executable, "-X", "faulthandler", __file__, args.model, "--layers",
             str(args.layers), "--case", case],
            env={**os.environ, **env}, capture_output=True, text=True)
        tail = (result.stdout + result.stderr).strip().splitlines()[-6:]
        print(f"{case}: exit status {result.returncode}")
        for line in tail:
            print(f"    {line}")


if __name__ == "__main__":
    main()
