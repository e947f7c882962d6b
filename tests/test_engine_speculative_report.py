"""Speculative decoding as the user meets it: the real drafter and cost model on SmolLM2, the
``speculative`` setting, ``ask --stats`` figures and the status line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_support import run_cli, stats_line

from starling_tui.engine.base import EngineOptions, GenerationStats
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow

TEXT = ("The ferry to the island leaves twice a day. A return ticket costs 18 dollars, which "
        "many residents say is too much for a trip of forty minutes.")
COPY = f"Repeat this text exactly, word for word:\n\n{TEXT}"


def test_the_real_drafter_drafts_from_the_prompt_while_copying(smollm2_gguf: Path) -> None:
    from starling_tui.engine.worker.session import Session

    session = Session(EngineOptions(model_path=str(smollm2_gguf), n_ctx=1024, n_threads=2,
                                    state_cache=False))
    try:
        assert session.speculation is not None  # "auto" is the default
        pieces: list[str] = []
        stats = session.generate(ChatRequest((ChatMessage("user", COPY),),
                                             sampling=SamplingOptions(max_tokens=80)),
                                 pieces.append, lambda: False)
        assert "forty minutes" in "".join(pieces)  # it did copy
        assert 0 < stats.accepted_tokens <= stats.drafted_tokens
        counters = session.counters()
        # llama.cpp counted the verification batches as prompt work: reported apart
        assert counters["n_p_eval"] == stats.evaluated_tokens
        assert counters["n_verify"] >= stats.drafted_tokens
    finally:
        session.close()


def test_off_loads_no_drafter(smollm2_gguf: Path) -> None:
    from starling_tui.engine.worker.session import Session

    session = Session(EngineOptions(model_path=str(smollm2_gguf), n_ctx=512, n_threads=2,
                                    state_cache=False, speculative="off"))
    try:
        assert session.speculation is None
    finally:
        session.close()


def test_ask_stats_report_drafted_and_accepted_tokens(smollm2_gguf: Path) -> None:
    figures = {}
    for mode in ("auto", "off"):
        result = run_cli("ask", "--model", str(smollm2_gguf), "--max-tokens", "40", "--stats",
                         "--speculative", mode, COPY)
        assert result.returncode == 0, result.stderr
        figures[mode] = stats_line(result.stderr)
    assert 0 <= figures["auto"]["accepted_tokens"] <= figures["auto"]["drafted_tokens"]
    assert figures["off"]["drafted_tokens"] == figures["off"]["accepted_tokens"] == 0


def test_the_status_line_shows_the_share_of_drafts_kept() -> None:
    from starling_tui.ui.widgets.status_line import describe_speed

    plain = GenerationStats(completion_tokens=5, tokens_per_s=12.34, ttft_s=0.25)
    assert describe_speed(plain) == "12.3 tok/s · TTFT 250 ms"
    drafted = GenerationStats(completion_tokens=90, tokens_per_s=30.0, ttft_s=0.25,
                              drafted_tokens=80, accepted_tokens=60)
    assert describe_speed(drafted) == "30.0 tok/s · TTFT 250 ms · drafts 75% kept"
