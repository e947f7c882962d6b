"""Test seams by injection: fault plans and a session factory reach the worker process."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo, PromptPreview
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.types import ChatMessage, ChatRequest

PRODUCT = Path(__file__).resolve().parents[1] / "starling_tui"


def test_no_product_module_reads_a_test_variable() -> None:
    readers = [p.relative_to(PRODUCT) for p in PRODUCT.rglob("*.py")
               if "STARLING_TUI_TEST" in p.read_text(encoding="utf-8")]
    assert readers == []


def test_fault_plan_pickles_and_the_default_does_nothing() -> None:
    plan = FaultPlan(crash_at="prompt", crash_how="kill", token_delay=0.5, uncapped_batch=True)
    assert pickle.loads(pickle.dumps(plan)) == plan
    for point in ("load", "prompt", "token", "save"):
        NO_FAULTS.crash_point(point)  # returns: this process lives
        plan.crash_point("load" if point == "prompt" else "token")  # other points: no crash


class EchoSession:
    """A session built in the worker from the injected factory; it reports its fault plan."""

    def __init__(self, options: EngineOptions, *, vocab_only: bool, faults: FaultPlan) -> None:
        self.faults = faults

    def info(self) -> ModelInfo:
        return ModelInfo(path="p", name=f"echo {self.faults.token_delay}", quant="Q", n_ctx_train=1,
                         n_ctx=1, n_layers=1, n_gpu_layers=0, backend="CPU", template="openchat")

    def generate(self, request: ChatRequest, emit: Any, cancelled: Any,
                 live: Any = None) -> GenerationStats:
        emit(request.messages[-1].content.upper())
        return GenerationStats(completion_tokens=1)

    def preview(self, request: ChatRequest) -> PromptPreview:
        return PromptPreview((7,), "echo")

    def after_reply(self, request: ChatRequest, stats: GenerationStats) -> None:
        pass

    def prefill_next_turn(self, interrupted: Any) -> int:
        return 0

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_the_worker_builds_its_session_from_the_injected_factory(smollm2_gguf: Path) -> None:
    engine = ProcessEngine(faults=FaultPlan(token_delay=0.25), session_factory=EchoSession)
    try:
        info = engine.load(EngineOptions(model_path=str(smollm2_gguf)))
        assert info.name == "echo 0.25"  # built in the child, with the plan handed over
        request = ChatRequest((ChatMessage("user", "hi"),))
        assert "".join(engine.generate(request)) == "HI"
        assert engine.preview(request).token_ids == (7,)
    finally:
        engine.close()
