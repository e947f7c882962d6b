"""Loop guard: false alarms on regular replies, how soon real loops stop, cost per token.

1. The regular replies of ``tests/loop_guard_texts.py`` (tables, lists, code with repeated
   lines, a grid, a poem's refrain, a song's chorus, long CSV and tables of figures...)
   tokenized with SmolLM2's tokenizer (llama.cpp) and the Mistral v1 one (sentencepiece, the
   tiny fixtures' tokenizer): the longest back-to-back repetition of 3+ copies in each, and
   whether the guard fires (it must not); then the counting loops of the same file, and where
   the guard stops each.
2. SmolLM2 greedy replies to a set of prompts with the guard off (``--tokens`` each): where
   the guard would stop each; then the looping ones again with the guard on, through the
   engine: the finish reason and the tokens spent.
3. The guard's cost per token on an 8,000-token loop.

    python benchmarks/loop_guard_bench.py [--tokens N] [--skip-engine]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine_bench import smollm2_path  # noqa: E402
from loop_guard_texts import COUNTING_LOOPS, LOOPING_PHRASE, REGULAR_REPLIES  # noqa: E402

from starling_tui.engine.worker.loop_guard import (  # noqa: E402
    LoopGuard,
    first_alarm,
    repeated_tail,
)

PROMPTS = [
    "Write a haiku about autumn.", "Write a haiku about the sea.",
    "Write a short poem with a refrain about the rain.",
    "Make a markdown table of the planets with their diameter and number of moons.",
    "List 15 fruits as a numbered list.",
    "Write a Python function that prints a 5x5 grid of zeros, then show its output.",
    "Write a C switch statement over the days of the week that prints each day's name.",
    "Tell me about starlings.", "What is the capital of France? Explain its history.",
    "Write a limerick about a cat.",
    "Write the lyrics of a children's song with a repeated chorus.",
    "Explain recursion with an example.",
]


def tokenizers() -> dict[str, object]:
    """name -> callable(text) -> (ids, each token's text)."""
    import sentencepiece
    from checkpoint_tokenizer import mistral_tokenizer_model

    from starling_tui.llama.backend import load_model, model_params

    smol = load_model(smollm2_path(), model_params(vocab_only=True))
    mistral = sentencepiece.SentencePieceProcessor(model_file=str(mistral_tokenizer_model()))

    def smol_tokens(text: str) -> tuple[list[int], list[str]]:
        ids = smol.tokenize(text.encode(), False, False)
        pieces = [bytes(smol.token_to_piece(t)).rstrip(b"\0") for t in ids]  # a fixed buffer
        return ids, [p.decode("utf-8", "replace") for p in pieces]

    def mistral_piece(token: int) -> str:
        piece = mistral.id_to_piece(token)
        if piece.startswith("<0x") and piece.endswith(">"):  # a byte token ("<0x0A>")
            return bytes.fromhex(piece[3:-1]).decode("utf-8", "replace")
        return piece.replace("\u2581", " ")

    def mistral_tokens(text: str) -> tuple[list[int], list[str]]:
        ids = mistral.encode(text)
        return ids, [mistral_piece(t) for t in ids]

    return {"SmolLM2": smol_tokens, "Mistral": mistral_tokens}


def regular_table(toks: dict) -> None:
    print("| reply | " + " | ".join(f"{n} tokens | longest 3+ copies | fires" for n in toks)
          + " |")
    for name, text in REGULAR_REPLIES.items():
        cells = []
        for tok in toks.values():
            ids, texts = tok(text)
            span, covered = repeated_tail(ids)
            alarm = first_alarm(ids, texts)
            cells.append(f"{len(ids)} | {covered} ({span}-token span) | "
                         f"{'**at ' + str(alarm) + '**' if alarm else 'no'}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def counting_table(toks: dict) -> None:
    print("\n| counting loop | " + " | ".join(f"{n} tokens | guard stops at | rows by then"
                                           for n in toks) + " |")
    for name, text in COUNTING_LOOPS.items():
        cells = []
        for tok in toks.values():
            ids, texts = tok(text)
            alarm = first_alarm(ids, texts)
            rows = "".join(texts[:alarm]).count("\n") + "".join(texts[:alarm]).count(" 2023")
            cells.append(f"{len(ids)} | {alarm or 'not stopped'} | {rows if alarm else '-'}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def real_replies(tokens: int, skip_engine: bool, tok: object) -> None:
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.parent.process import ProcessEngine
    from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

    engine = ProcessEngine()
    engine.load(EngineOptions(model_path=str(smollm2_path()), n_ctx=4096))
    print("\n| prompt | tokens (guard off) | end | longest 3+ copies | guard stops at | "
          "guard on: end, tokens |")
    try:
        for prompt in PROMPTS:
            def ask(guard: bool, prompt: str = prompt) -> str:
                sampling = SamplingOptions(max_tokens=tokens, loop_guard=guard)
                return "".join(engine.generate(ChatRequest((ChatMessage("user", prompt),),
                                                           sampling=sampling)))
            text = ask(False)
            off = engine.last_stats
            ids, texts = tok(text)  # type: ignore[operator]
            span, covered = repeated_tail(ids)
            alarm = first_alarm(ids, texts)
            on = "-"
            if alarm and not skip_engine:
                ask(True)
                on = f"{engine.last_stats.finish_reason}, {engine.last_stats.completion_tokens}"
            print(f"| {prompt} | {off.completion_tokens} | {off.finish_reason} | "
                  f"{covered} ({span}) | {alarm or 'no'} | {on} |")
    finally:
        engine.close()


def cost(tok: object) -> None:
    tables = " ".join(REGULAR_REPLIES.values()) * 3
    for what, text in (("looping", LOOPING_PHRASE * 1200), ("table and list", tables)):
        ids, texts = tok(text)  # type: ignore[operator]
        ids, texts = ids[:8000], texts[:8000]
        best = float("inf")
        for _ in range(3):
            # never fires: measures the whole text
            guard = LoopGuard(min_tokens=1 << 30, counter_repeats=1 << 30)
            start = time.perf_counter()
            for token, piece in zip(ids, texts, strict=True):
                guard.add(token, piece)
            best = min(best, (time.perf_counter() - start) / len(ids))
        print(f"\nguard cost: {best * 1e6:.1f} µs per token over {len(ids)} {what} tokens "
              f"(best of 3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=700, help="tokens per reply, guard off")
    parser.add_argument("--skip-engine", action="store_true", help="only the tokenized texts")
    args = parser.parse_args()
    toks = tokenizers()
    regular_table(toks)
    counting_table(toks)
    cost(toks["SmolLM2"])
    if not args.skip_engine:
        real_replies(args.tokens, False, toks["SmolLM2"])


if __name__ == "__main__":
    main()
