"""``starling-tui eval``: perplexity of a GGUF, and its KL divergence from a reference model.

Perplexity is computed as llama.cpp's ``llama-perplexity`` computes it, so figures compare
with published ones. The default text ships with the package (Pride and Prejudice, chapters
1-20, public domain). ``--json`` prints one object on stdout; errors print one line on stderr
and nothing on stdout; Ctrl-C stops after the current chunk's decode with one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PROG = "starling-tui eval"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "eval",
        help="measure a model's perplexity (and KL divergence from a reference model)",
        description="Perplexity of MODEL on a text, computed as llama.cpp's llama-perplexity "
        "does (chunks of --ctx tokens starting with BOS, second half of each scored).",
    )
    parser.add_argument("model", type=Path, metavar="MODEL.gguf", help="the model to evaluate")
    parser.add_argument("--text", type=Path, metavar="FILE",
                        help="UTF-8 text to score (default: the shipped Pride and Prejudice "
                             "chapters 1-20, about 52k tokens)")
    parser.add_argument("--ctx", type=_positive, default=512, metavar="N",
                        help="chunk size in tokens (default 512; llama.cpp rounds values "
                             "below 256 up to 256)")
    parser.add_argument("--chunks", type=_positive, default=None, metavar="N",
                        help="score only the first N chunks (default: all)")
    parser.add_argument("--reference", type=Path, metavar="BASE.gguf",
                        help="also report KL divergence from BASE (same vocabulary), chunk by "
                             "chunk with both models loaded")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def run(args: argparse.Namespace) -> int:
    """Evaluate; print the figures (text or JSON)."""
    from starling_tui.quality.evaluate import evaluate
    from starling_tui.quality.progress import progress_for
    from starling_tui.quality.text import read_text

    progress = progress_for(sys.stderr, f"eval {args.model.name}")
    try:
        result = evaluate(args.model, read_text(args.text), n_ctx=args.ctx,
                          reference=args.reference, max_chunks=args.chunks, on_chunk=progress)
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        print(f"{PROG}: interrupted, no figures", file=sys.stderr)
        return 130
    finally:
        if progress is not None:
            progress.close()  # also when a chunk fails: the error line starts a fresh line
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(describe(result, args.reference))
    return 0


def describe(result: Any, reference: Path | None) -> str:
    """The figures in words (one or two lines)."""
    line = (f"PPL {result.ppl:.4f} over {result.tokens:,} tokens "
            f"({result.chunks} chunks of {result.ctx})")
    div = result.divergence
    if div is None or reference is None:
        return line
    return (f"{line}\nvs {reference.name} (PPL {div.ppl_reference:.4f}): PPL ratio "
            f"{div.ppl_ratio:.4f}, mean KLD {div.kld_mean:.6f}, p99 KLD {div.kld_p99:.6f}, "
            f"max KLD {div.kld_max:.6f}, same top-1 {100 * div.same_top1:.2f}%")
