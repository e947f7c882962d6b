"""Where engine_bench's CUDA segfault happens: its in-process llama.cpp part, step by step.

Runs ``bare_llama.attention_floor`` (a bare llama.cpp context) in this fresh process, all layers
on the GPU, as ``engine_bench.py`` ran it in its own process before issue 14's fix; prints a
marker after it, then exits normally. The exit status (139: SIGSEGV) says whether it died.
(On the H200, 7B shape: exit 0 here, while the same call in engine_bench's process, after it
had driven engine workers, died.)

    python -X faulthandler benchmarks/gpu/segv_probe.py MODEL.gguf [--layers 99]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bare_llama import attention_floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--layers", type=int, default=99)
    args = parser.parse_args()
    ratio = attention_floor(args.model, 16, 2100, 16, args.layers, None)
    print(f"probe: attention_floor returned {ratio:.2f}", file=sys.stderr, flush=True)
    print("probe: falling off the end of main", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
