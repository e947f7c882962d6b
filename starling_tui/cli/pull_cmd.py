"""``starling-tui pull``: download the model (or a ready-made GGUF) and make it the default.

This is the only command that uses the network; everything else in the app works offline.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

DEFAULT_QUANT = "q4_k_m"
_DESCRIPTION = """\
Download a Hugging Face checkpoint (config, tokenizer and safetensors weights only, never .bin
pickles) into the Hugging Face cache, convert it to GGUF in the models folder and make it the
default model. Interrupted downloads resume where they stopped. With --gguf, fetch a ready-made
GGUF file instead. Honours HF_TOKEN, HF_ENDPOINT, HF_HOME/HF_HUB_CACHE and HF_HUB_OFFLINE=1
(offline: use only what the cache holds)."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``pull`` on the main parser's subparsers."""
    from starling_tui.pull.selection import DEFAULT_REPO

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pull", help="download and convert the model (the only command that uses the network)",
        description=_DESCRIPTION)
    parser.add_argument("repo", nargs="?", default=DEFAULT_REPO, metavar="REPO",
                        help=f"Hugging Face model repo (default: {DEFAULT_REPO})")
    parser.add_argument("--quant", default=DEFAULT_QUANT, metavar="TYPE",
                        help="GGUF type to convert to: q4_k_m (default, ~4.4 GB for 7B), q5_k_m, "
                             "q6_k, q8_0, f16, bf16… (see starling-convert --help)")
    parser.add_argument("--revision", default="main", metavar="REV",
                        help="branch, tag or commit of the repo (default: main)")
    parser.add_argument("--gguf", nargs=2, metavar=("REPO", "FILE"),
                        help="fetch the ready-made GGUF FILE of REPO instead of converting")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                        help="no progress bars")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the pull; errors are one line on stderr and a non-zero exit status."""
    # huggingface_hub reads its settings at import: no user-agent telemetry lookups from pull.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from huggingface_hub.utils import logging as hub_logging

    from starling_tui.errors import UserError
    from starling_tui.pull.service import pull_checkpoint, pull_gguf

    # Its retry warnings are multi-line; our own lines report progress and errors.
    hub_logging.set_verbosity_error()

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        _refuse_mixed_options(args)
        if args.gguf:
            repo, filename = args.gguf
            pull_gguf(repo, filename, revision=args.revision, say=say, progress=args.progress)
        else:
            pull_checkpoint(args.repo, quant=args.quant, revision=args.revision, say=say,
                            progress=args.progress)
    except UserError as exc:  # PullError, and a full disk (starling_tui.disk.DiskSpaceError)
        print(f"starling-tui: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("starling-tui: error: interrupted; run the same pull again to resume the download",
              file=sys.stderr)
        return 130
    return 0


def _refuse_mixed_options(args: argparse.Namespace) -> None:
    """``--gguf`` names its own repo and needs no conversion: REPO and --quant do not apply."""
    from starling_tui.pull.errors import PullError
    from starling_tui.pull.selection import DEFAULT_REPO

    if args.gguf and args.repo != DEFAULT_REPO:
        raise PullError("give either REPO (to convert) or --gguf REPO FILE, not both")
    if args.gguf and args.quant != DEFAULT_QUANT:
        raise PullError("--quant applies to conversions; --gguf fetches the file as it is")
