"""Self-Extend quality: perplexity past the training context against inside it (SmolLM2).

llama.cpp's chunked method: the shipped public-domain novel is tokenized, one chunk of
``n_ctx`` tokens (BOS first) is evaluated from scratch, and the second half of the chunk is
scored (each token's negative log-likelihood given everything before it). Three runs:

- ``in-context``: a chunk of the training context (8,192 for SmolLM2): the baseline;
- ``self-extend``: a chunk of ``factor`` × that, positions grouped as the engine does
  (:class:`~starling_tui.engine.worker.self_extend.SelfExtend`, G and W below); the scored half
  lies wholly past the training context;
- ``plain``: the same long chunk without Self-Extend (positions past anything trained).

Target: ``self-extend`` within 1.25× of ``in-context``. Long: tens of minutes on 2 cores.

    python benchmarks/self_extend_bench.py [--factor 2] [--group 4] [--window 1024]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from engine_bench import smollm2_path

from starling_tui.engine.worker.positions import PositionMap
from starling_tui.engine.worker.self_extend import SelfExtend, check_self_extend


def chunk_perplexity(path: Path, tokens: list[int], extend: SelfExtend | None,
                     threads: int, batch: int = 512) -> float:
    """Perplexity of the second half of ``tokens`` evaluated in one fresh context."""
    from llama_cpp import _internals

    from starling_tui.llama.backend import llama, load_model, model_params

    lc = llama()
    model = load_model(path, model_params())
    params = lc.llama_context_default_params()
    params.n_ctx = len(tokens)
    params.n_batch = params.n_ubatch = batch
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    lot = _internals.LlamaBatch(n_tokens=batch, embd=0, n_seq_max=1, verbose=False)
    n_vocab, first_scored = model.n_vocab(), len(tokens) // 2
    nll, scored, start = 0.0, 0, 0
    positions = PositionMap(extend)  # the engine's map (plain text: no turn boundaries)
    try:
        while start < len(tokens):
            end = positions.chunk_end(min(len(tokens), start + batch))
            lot.set_batch(tokens[start:end], positions.next(), True)
            if lc.llama_decode(ctx.ctx, lot.batch) != 0:
                raise SystemExit("llama_decode failed")
            positions.grow(end - start)
            if positions.block_full():
                positions.group_tail(lc, ctx.memory, tokens)
            nll, scored = score(ctx, n_vocab, tokens, start, end, first_scored, (nll, scored))
            start = end
    finally:
        lot.close()
        ctx.close()
        model.close()
    return math.exp(nll / max(scored, 1))


def score(ctx: Any, n_vocab: int, tokens: list[int], start: int, end: int, first: int,
          acc: tuple[float, int]) -> tuple[float, int]:
    """Add the NLL of tokens[i + 1] for rows i of this batch that lie in the scored half."""
    nll, scored = acc
    for i in range(max(start, first - 1), min(end, len(tokens) - 1)):
        row = np.ctypeslib.as_array(ctx.get_logits_ith(i - start), shape=(n_vocab,))
        row = row.astype(np.float64)
        nll += float(np.logaddexp.reduce(row) - row[tokens[i + 1]])
        scored += 1
    return nll, scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", default="in-context,self-extend,plain")
    parser.add_argument("--train", type=int, default=0, help="pretend context (a smoke run)")
    args = parser.parse_args()
    path = Path(args.model) if args.model else smollm2_path()

    from starling_tui.llama.backend import llama, load_model, model_params
    from starling_tui.quality.text import default_text

    model = load_model(path, model_params())  # vocab_only would report no training context
    train = args.train or int(model.n_ctx_train())
    text = default_text().encode()
    ids = [int(llama().llama_vocab_bos(model.vocab)), *model.tokenize(text, False, False)]
    model.close()
    long = train * args.factor
    check_self_extend(args.group, args.window, long, train)
    if len(ids) < long:
        raise SystemExit(f"the text has {len(ids)} tokens; {long} are needed")
    runs = {"in-context": (ids[:train], None),
            "self-extend": (ids[:long], SelfExtend(args.group, args.window)),
            "plain": (ids[:long], None)}
    for name in args.runs.split(","):
        chunk, extend = runs[name]
        began = time.perf_counter()
        ppl = chunk_perplexity(path, chunk, extend, args.threads)
        print(f"{name:11} n_ctx {len(chunk):6}: perplexity {ppl:8.3f} "
              f"({time.perf_counter() - began:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
