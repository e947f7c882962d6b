"""Why a model's greedy reply ends where it does: the logits of its first decode steps.

The 7B shape written by ``resume_bench.make_7b(talks=True)`` talks on the CPU (random tokens)
but ended every reply at its first token on a CUDA build. This decodes a short prompt in a bare
llama.cpp context, then a few greedy steps, and prints per step: the chosen token, whether it
ends a turn, the top two logits, the end-of-turn tokens' logits, the range of all logits and
how many are not finite. Run it with and without GPU layers to compare the two builds' paths.

On an H100 it died with SIGSEGV and printed nothing (its output went to a pipe, buffered). So it
now reports each stage on stderr as it reaches it, and :mod:`faulthandler` prints the Python
stack of a crash: the last stage named is where a crash happened.

    python benchmarks/gpu/talk_probe.py MODEL.gguf [--layers 99] [--steps 8]
"""

from __future__ import annotations

import argparse
import faulthandler
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "GPT4 Correct User: Hello!<|end_of_turn|>GPT4 Correct Assistant:"


def stage(text: str) -> None:
    """Name the stage reached, at once (a crash must not lose it in a buffer)."""
    print(f"talk_probe: {text}", file=sys.stderr, flush=True)


def main() -> None:
    faulthandler.enable()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--layers", type=int, default=99)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    import numpy as np
    from bare_llama import open_bare

    stage(f"loading {args.model.name} with {args.layers} GPU layers")
    lc, model, ctx, batch = open_bare(args.model, 512, args.threads, args.layers)
    stage("loaded; finding the end-of-turn tokens")
    vocab = model.vocab
    n_vocab = model.n_vocab()
    ends = [t for t in range(n_vocab) if lc.llama_vocab_is_eog(vocab, t)]
    print(f"{args.model.name}, {args.layers} GPU layers; end-of-turn tokens {ends}", flush=True)
    tokens = model.tokenize(PROMPT.encode(), add_bos=True, special=True)
    batch.set_batch(tokens, 0, False)
    for step in range(args.steps):
        stage(f"step {step}: decoding {batch.batch.n_tokens} tokens")
        if lc.llama_decode(ctx.ctx, batch.batch) != 0:
            print(f"step {step}: llama_decode failed", flush=True)
            break
        stage(f"step {step}: reading the logits")
        pointer = lc.llama_get_logits_ith(ctx.ctx, -1)
        if not pointer:
            print(f"step {step}: llama_get_logits_ith returned no logits", flush=True)
            break
        logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,))
        finite = np.isfinite(logits)
        order = np.argsort(np.where(finite, logits, -np.inf))[::-1]
        token = int(order[0])
        print(f"step {step}: token {token} (end of turn: {token in ends}), top two "
              f"{logits[order[0]]:.4g} / {logits[order[1]]:.4g}, end-of-turn logits "
              f"{[round(float(logits[t]), 4) for t in ends]}, range {np.nanmin(logits):.4g} … "
              f"{np.nanmax(logits):.4g}, not finite {int((~finite).sum())}", flush=True)
        batch.set_batch([token], len(tokens), True)
        tokens.append(token)
    stage("closing the batch, the context and the model")
    batch.close()
    ctx.close()
    model.close()
    stage("closed; exiting")


if __name__ == "__main__":
    main()
