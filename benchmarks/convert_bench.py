"""Converter benchmark: wall time, MB/s and peak RSS against a plain copy of the same bytes.

Generates a synthetic bf16 checkpoint of the real 7B shape (32 layers, hidden 4096, FF 14336,
32/8 heads, vocab 32002, ~5 GB shards) unless ``--checkpoint`` names one, then in the same
run and on the same disk:

1. copies the shards (read + write + fsync: the converter fsyncs its output too),
2. converts to each ``--outtypes`` with ``starling-convert`` in a child process,
3. optionally runs llama.cpp's own ``convert_hf_to_gguf.py`` (``--reference PATH``) to f16.

Each command runs as the only child of a small launcher process, which reports the wall time
and ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the command's peak RSS, its own children (the
quantizer) included. Outputs are deleted as soon as they are measured.

    python benchmarks/convert_bench.py [--checkpoint DIR] [--workdir DIR] [--shape 7b|small]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from checkpoint_factory import SEVEN_B, CheckpointSpec, Shape, write_checkpoint  # noqa: E402

SHAPES = {"7b": SEVEN_B, "small": Shape(hidden=1024, intermediate=3584, layers=8, heads=8,
                                         kv_heads=2)}
DEFAULT_REFERENCE = Path("/tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py")


@dataclass
class Result:
    """One measured command."""

    name: str
    seconds: float
    peak_rss_mb: float
    output_mb: float


# A small launcher process: the kernel bills a child's peak RSS with the RSS of the process
# that forked it, so the (large) benchmark process must not be the direct parent.
_LAUNCHER = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "seconds = time.perf_counter() - start\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'rc': rc, 'seconds': seconds, 'peak_kib': peak}))\n"
)


def measure(name: str, command: list[str], output: Path | None = None) -> Result:
    """Run ``command`` as a child; wall time and its peak RSS (its own children included)."""
    launched = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], cwd=ROOT,
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if launched.returncode != 0:
        raise SystemExit(f"{name}: launcher failed: {launched.stderr.strip()}")
    stats = json.loads(launched.stdout.strip().splitlines()[-1])
    if stats["rc"] != 0:
        raise SystemExit(f"{name} failed with exit status {stats['rc']}: {launched.stderr[-2000:]}")
    size = output.stat().st_size / 1e6 if output and output.exists() else 0.0
    return Result(name, stats["seconds"], stats["peak_kib"] / 1024, size)


def copy_command(source: Path, target: Path) -> list[str]:
    """A child process copying every file of ``source`` into ``target`` and fsyncing them."""
    code = (
        "import os, shutil, sys, pathlib\n"
        "src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
        "dst.mkdir()\n"
        "for f in sorted(src.glob('*.safetensors')):\n"
        "    with open(f, 'rb') as i, open(dst / f.name, 'wb') as o:\n"
        "        shutil.copyfileobj(i, o, 16 << 20)\n"
        "        o.flush(); os.fsync(o.fileno())\n"
    )
    return [sys.executable, "-c", code, str(source), str(target)]


def drop_caches_hint() -> None:
    """Flush dirty pages so one measurement's write-back does not bill the next one."""
    os.sync()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="existing checkpoint folder to use")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--shape", choices=list(SHAPES), default="7b")
    parser.add_argument("--outtypes", default="f16,q4_k_m")
    parser.add_argument("--reference", type=Path, default=None,
                        help=f"llama.cpp convert_hf_to_gguf.py (e.g. {DEFAULT_REFERENCE})")
    parser.add_argument("--keep", action="store_true", help="keep a generated checkpoint")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    generated = args.checkpoint is None
    checkpoint = args.checkpoint or args.workdir / f"synthetic-{args.shape}"
    if generated and not (checkpoint / "config.json").exists():
        print(f"generating {args.shape} checkpoint in {checkpoint} ...", flush=True)
        started = time.perf_counter()
        write_checkpoint(checkpoint, CheckpointSpec(shape=SHAPES[args.shape],
                                                    shard_bytes=5 * 10**9, fast_fill=True))
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    size_mb = sum(p.stat().st_size for p in checkpoint.glob("*.safetensors")) / 1e6
    print(f"checkpoint: {checkpoint} ({size_mb / 1000:.2f} GB of safetensors)", flush=True)

    results = []
    try:
        results.append(_copy(checkpoint, args.workdir))
        for outtype in args.outtypes.split(","):
            out = args.workdir / f"bench-{outtype}.gguf"
            command = [sys.executable, "-m", "starling_convert", str(checkpoint),
                       "--outtype", outtype, "--outfile", str(out), "--quiet"]
            results.append(_run(f"starling-convert {outtype}", command, out))
        if args.reference:
            out = args.workdir / "bench-reference-f16.gguf"
            command = [sys.executable, str(args.reference), str(checkpoint), "--outtype", "f16",
                       "--outfile", str(out)]
            results.append(_run("llama.cpp convert_hf_to_gguf.py f16", command, out))
    finally:
        if generated and not args.keep:
            shutil.rmtree(checkpoint, ignore_errors=True)
    _report(results, size_mb)
    return 0


def _copy(checkpoint: Path, workdir: Path) -> Result:
    target = workdir / "copy"
    shutil.rmtree(target, ignore_errors=True)
    drop_caches_hint()
    try:
        return measure("plain copy of the shards", copy_command(checkpoint, target))
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _run(name: str, command: list[str], out: Path) -> Result:
    drop_caches_hint()
    print(f"running {name} ...", flush=True)
    try:
        return measure(name, command, out)
    finally:
        out.unlink(missing_ok=True)


def _report(results: list[Result], size_mb: float) -> None:
    copy = results[0].seconds
    print(f"\n{'command':40} {'wall s':>8} {'MB/s':>8} {'peak RSS MB':>12} {'out MB':>9} "
          f"{'x copy speed':>13}")
    for r in results:
        print(f"{r.name:40} {r.seconds:8.1f} {size_mb / r.seconds:8.0f} {r.peak_rss_mb:12.0f} "
              f"{r.output_mb:9.0f} {copy / r.seconds:13.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
