"""Issue 10 on a CUDA build: Self-Extend and context shift with every layer on the GPU.

The CPU suite proves the position edits (``tests/test_engine_self_extend.py``,
``tests/test_engine_shift_se.py``); this runs the same checks where the KV cache lives in GPU
memory (llama.cpp's CUDA K-shift kernels, flash attention on and off, f16 and quantized
caches). It calls the test modules' own functions, with every layer offloaded, so the GPU
check and the CPU test cannot drift apart. No pytest is needed on the device machine.

    python benchmarks/gpu/self_extend_gpu.py SMOLLM2_LIKE.gguf [--layers 99]

Prints one line per check, with the measured difference, and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

# (kv type, flash attention, tolerance): the CPU test's cases and tolerances
REMAP_CASES = [("f32", False, 1e-5), ("f16", False, 5e-3), ("f16", True, 2e-2),
               ("q8_0", True, 1e-1)]


def one_layer_model(folder: Path) -> Path:
    """The CPU test's one-layer F32 model (keys depend only on token and position)."""
    from checkpoint_factory import CheckpointSpec, Shape, write_checkpoint

    from convert.api import convert_checkpoint

    ckpt = write_checkpoint(folder / "ckpt", CheckpointSpec(shape=Shape(layers=1)))
    return convert_checkpoint(ckpt, "f32", folder / "one-layer-f32.gguf", quiet=True)


def remap_checks(model: Path, layers: int) -> list[tuple[str, bool, str]]:
    """Grouping by per-position ``seq_add`` equals a fresh evaluation; ``seq_div`` does not."""
    import numpy as np
    import test_engine_self_extend as t

    rows = []
    for kv_type, flash, tolerance in REMAP_CASES:
        kv = {"kv_type": kv_type, "flash": flash, "gpu_layers": layers}
        fresh = t.fresh_at_grouped_positions(model, **kv)
        ours = float(np.abs(t.grouped_then_query(model, t.per_position, **kv) - fresh).max())
        div = float(np.abs(t.grouped_then_query(model, t.with_seq_div, **kv) - fresh).max())
        ok = ours < tolerance < div / 10
        rows.append((f"remap kv={kv_type} flash={flash}", ok,
                     f"max |Δlogit| {ours:.2e} (tolerance {tolerance:g}); seq_div {div:.2f}"))
    return rows


def engine_checks(model: Path, layers: int) -> list[tuple[str, bool, str]]:
    """The engine-level tests (a real Session / ProcessEngine) with every layer offloaded."""
    import test_engine_self_extend as se

    se.smollm2_options = functools.partial(se.smollm2_options, n_gpu_layers=layers)
    cases: list[tuple[str, Callable[..., Any], bool]] = [
        ("prefix reuse carries the position map", se.test_prefix_reuse_carries_the_position_map,
         False),
        ("restart resumes with the position map", se.test_restart_resumes_with_the_position_map,
         True),
    ]
    try:
        import test_engine_shift_se as sh
    except ImportError:
        sh = None
    if sh is not None:
        sh.GPU_LAYERS = layers
        cases += [(name.removeprefix("test_").replace("_", " "), getattr(sh, name),
                   "tmp_path" in getattr(sh, name).__code__.co_varnames)
                  for name in dir(sh) if name.startswith("test_")]
    rows = []
    for name, test, needs_tmp in cases:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                test(model, Path(tmp)) if needs_tmp else test(model)
            rows.append((name, True, "passed"))
        except Exception as exc:  # report every case, then fail at the end
            traceback.print_exc()
            rows.append((name, False, f"{type(exc).__name__}: {exc}"[:300]))
    return rows


def main() -> int:
    """Run every check; print one line each; exit 1 if one failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a SmolLM2-shaped GGUF (the clone)")
    parser.add_argument("--layers", type=int, default=99)
    args = parser.parse_args()
    from starling_tui.engine.worker.devices import list_devices

    print("devices:", list_devices())
    with tempfile.TemporaryDirectory() as tmp:
        rows = remap_checks(one_layer_model(Path(tmp)), args.layers)
    rows += engine_checks(args.model, args.layers)
    for name, ok, detail in rows:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _, ok, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
