"""Thread counts that follow the free CPU: the choice, the /proc/stat reading, the governor's
adjustments (scripted samples, no timing), and its wiring into the context."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from starling_tui.engine.worker import threads
from starling_tui.engine.worker.threads import CpuSample, ThreadGovernor, free_threads


@pytest.mark.parametrize(("other", "cpus", "limit", "expected"), [
    (0.0, 2, 2, 2), (0.45, 2, 2, 2),  # a browser tab and an editor: keep both cores
    (0.55, 2, 2, 1), (1.0, 2, 2, 1),  # one core busy: one thread (issue 14: 45.8 vs 21.7)
    (2.0, 2, 2, 1), (5.0, 2, 2, 1),  # never fewer than one
    (1.0, 16, 8, 8), (9.0, 16, 8, 7),  # SMT: decode threads stay one per physical core
])
def test_free_threads(other: float, cpus: int, limit: int, expected: int) -> None:
    assert free_threads(other, cpus, limit) == expected


def test_read_sample_counts_busy_time_of_our_cpus_only(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    #                 user nice system idle iowait irq softirq steal guest
    stat.write_text("cpu  900 0 900 9000 90 0 0 0 0\n"
                    "cpu0 100 10 20 1000 50 3 2 1 7\n"
                    "cpu1 200 0 40 2000 5 0 0 0 0\n"
                    "cpu2 999 999 999 1 1 1 1 1 0\n"
                    "intr 12345\n")
    sample = threads.read_sample(frozenset({0, 1}), str(stat))
    assert sample is not None
    tick = os.sysconf("SC_CLK_TCK")
    assert sample.busy_s == pytest.approx((136 + 240) / tick)  # idle and iowait left out
    assert threads.read_sample(frozenset({0}), str(tmp_path / "missing")) is None


class Script:
    """Samples that say: ``other`` cores busy by others over each ``window`` seconds."""

    def __init__(self) -> None:
        self.wall = self.busy = self.own = 0.0

    def advance(self, window: float, other: float, own: float) -> None:
        self.wall += window
        self.busy += (other + own) * window
        self.own += own * window

    def __call__(self) -> CpuSample:
        return CpuSample(self.wall, self.busy, self.own)


def governor(script: Script, applied: list[tuple[int, int]]) -> ThreadGovernor:
    return ThreadGovernor(2, 2, script, lambda ctx, n, nb: applied.append((n, nb)))


def test_the_governor_follows_a_busy_core_and_its_end() -> None:
    script, applied = Script(), list[tuple[int, int]]()
    gov = governor(script, applied)
    script.advance(5.0, other=0.1, own=0.0)  # the user typing, the machine quiet
    assert gov.update(None) == (2, 2) and applied == []
    script.advance(1.0, other=0.7, own=1.3)  # a compiler started while we decode
    assert gov.update(None) == (1, 1) and applied == [(1, 1)]
    script.advance(1.0, other=1.0, own=1.0)  # still there: no change, no call
    assert gov.update(None) == (1, 1) and len(applied) == 1
    script.advance(1.0, other=0.0, own=1.0)  # it ended: both cores again
    assert gov.update(None) == (2, 2) and applied[-1] == (2, 2)


def test_our_own_cpu_time_is_not_load() -> None:
    script, applied = Script(), list[tuple[int, int]]()
    gov = governor(script, applied)
    script.advance(2.0, other=0.0, own=2.0)  # our two threads spinning at full speed
    assert gov.update(None) == (2, 2) and applied == []


def test_short_windows_are_ignored() -> None:
    script, applied = Script(), list[tuple[int, int]]()
    gov = governor(script, applied)
    script.advance(threads.MIN_WINDOW_S / 2, other=2.0, own=0.0)
    assert gov.update(None) == (2, 2) and applied == []
    script.advance(threads.MIN_WINDOW_S, other=2.0, own=0.0)  # now long enough (whole window)
    assert gov.update(None) == (1, 1)


def test_unreadable_samples_leave_the_counts_alone() -> None:
    applied: list[Any] = []
    gov = ThreadGovernor(2, 2, lambda: None, lambda ctx, n, nb: applied.append((n, nb)))
    assert gov.update(None) == (2, 2) and applied == []


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_context_is_governed_unless_threads_are_fixed(starling_f16_gguf: Path) -> None:
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.worker.context import create_context
    from starling_tui.llama.backend import load_model, model_params

    model = load_model(starling_f16_gguf, model_params())
    try:
        auto, _ = create_context(model, EngineOptions(str(starling_f16_gguf)), 256, 0)
        fixed, _ = create_context(model, EngineOptions(str(starling_f16_gguf), n_threads=1),
                                  256, 0)
        gov = threads.governor_for(auto)
        assert gov is not None and threads.governor_for(fixed) is None
        cpus = len(os.sched_getaffinity(0))
        assert gov.max_batch_threads == cpus and 1 <= gov.max_threads <= cpus
        assert 1 <= gov.update(auto)[0] <= gov.max_threads  # llama.cpp takes the new counts
        threads.before_prompt(auto)
        threads.before_prompt(fixed)  # fixed counts: nothing to do
        auto.close()
        fixed.close()
    finally:
        model.close()
