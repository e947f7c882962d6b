"""The ``starling-convert`` command line (also ``python -m starling_convert``)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .outtypes import ALL_OUTTYPES, DEFAULT_OUTTYPE, IMATRIX_OUTTYPES, OUTTYPES
from .quality_step import QualitySteps, add_quality_arguments

if TYPE_CHECKING:
    from .hooks import ConvertHooks

PROG = "starling-convert"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kept separate so tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Convert a Hugging Face safetensors checkpoint (Mistral/Llama) into a "
                    "verified GGUF file for llama.cpp.",
    )
    parser.add_argument("source", metavar="SRC", help="checkpoint folder or Hugging Face repo id")
    parser.add_argument("--outtype", default=DEFAULT_OUTTYPE, type=str.lower,
                        choices=list(ALL_OUTTYPES), metavar="TYPE",
                        help=f"output type: {', '.join(OUTTYPES)} (default: {DEFAULT_OUTTYPE}); "
                             f"with --imatrix also {', '.join(IMATRIX_OUTTYPES)}")
    parser.add_argument("--outfile", type=Path, metavar="PATH",
                        help="output file (default: <data dir>/models/<name>-<TYPE>.gguf)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the checkpoint and the output location, write nothing")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                        help="no progress bar, even on a terminal")
    parser.add_argument("--repo-id", metavar="REPO",
                        help="the Hub repo SRC was downloaded from: names the model after it and "
                             "records its URL (starling-tui pull passes it)")
    add_quality_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None, hooks: ConvertHooks | None = None) -> int:
    """Run the converter; returns the process exit status (``hooks``: see convert.hooks)."""
    args = build_parser().parse_args(argv)
    from .api import convert_checkpoint
    from .errors import ConvertError

    # SIGTERM cleans up like Ctrl-C does: temp files are removed by the same code path.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        path = convert_checkpoint(args.source, args.outtype, args.outfile, progress=args.progress,
                                  quiet=args.quiet, dry_run=args.dry_run, repo_id=args.repo_id,
                                  hooks=hooks,
                                  steps=QualitySteps.from_args(args))
    except ConvertError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. an unreadable shard: still one line, never a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted, nothing written", file=sys.stderr)
        return 130
    if args.quiet or args.dry_run:
        return 0
    print(path)
    return 0
