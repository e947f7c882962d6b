"""The draft cost model: a learnt cost curve, learnt acceptance, and the draft length they pick."""

from __future__ import annotations

import pytest

from starling_tui.engine.worker.draft_cost import (
    MARGIN,
    PRIOR_SLOPE,
    TRUSTED,
    Acceptance,
    CostCurve,
    CostModel,
)

# Batch costs in decode steps (n tokens -> cost), as measured on two CPU cores and an H200
CPU_7B = {2: 1.51, 4: 2.32, 8: 4.34}
SMOLLM2_CPU = {2: 2.37, 4: 3.28, 8: 4.78, 16: 7.14}
H200_7B = {2: 1.22, 4: 1.56, 8: 2.27, 16: 2.28}


def curve_of(costs: dict[int, float], step_s: float = 0.01) -> CostCurve:
    curve = CostCurve()
    curve.observe(1, step_s)
    for n, ratio in costs.items():
        for _ in range(TRUSTED + 1):  # the warm-up, then the timings that make it trusted
            curve.observe(n, ratio * step_s)
    return curve


def acceptance_of(p: float) -> Acceptance:
    """An acceptance model that has seen many drafts held with probability ``p``."""
    acceptance = Acceptance()
    for counts in acceptance.counts.values():
        counts[0], counts[1] = 1000 * p, 1000 * (1 - p)
    return acceptance


def test_the_curve_is_measured_interpolated_and_extrapolated() -> None:
    curve = curve_of({4: 2.5, 8: 4.5})
    assert curve.ratio(1) == 1.0
    assert curve.ratio(4) == pytest.approx(2.5)
    assert curve.ratio(2) == pytest.approx(1.5)  # between c(1) = 1 and c(4)
    assert curve.ratio(6) == pytest.approx(3.5)
    # beyond the largest measured size: its own slope (0.5), never more than the prior's
    assert curve.ratio(10) == pytest.approx(4.5 + 2 * min(3.5 / 7, PRIOR_SLOPE))
    assert CostCurve().ratio(3) == pytest.approx(1 + 2 * PRIOR_SLOPE)  # nothing measured


def test_batch_costs_are_relative_to_the_running_one_token_step() -> None:
    curve = CostCurve()
    curve.observe(4, 1.0)  # before any one-token step there is no unit: ignored
    assert curve.ratios == {}
    curve.observe(1, 0.010)
    for _ in range(TRUSTED + 1):
        curve.observe(3, 0.020)
    assert curve.ratio(3) == pytest.approx(2.0)
    curve.observe(3, 0.028)  # a running average, not the latest figure
    assert 2.0 < curve.ratio(3) < 2.8


def test_a_warm_up_batch_and_a_single_slow_one_do_not_rule_a_size_out() -> None:
    """A GPU's first batch of a new size builds kernels (tens of steps): it is not counted,
    no batch counts as more than its tokens one by one, and a size is trusted only after
    a few timings (until then the prior speaks for it)."""
    curve = CostCurve()
    curve.observe(1, 0.001)
    curve.observe(2, 0.050)  # the warm-up: 50 steps
    assert curve.ratios == {} and curve.ratio(2) == pytest.approx(1 + PRIOR_SLOPE)
    curve.observe(2, 0.004)  # a slow one: capped at two steps, and not trusted yet
    assert curve.ratio(2) == pytest.approx(1 + PRIOR_SLOPE)
    for _ in range(TRUSTED):
        curve.observe(2, 0.0011)
    assert curve.ratio(2) < 2.0 and 2 in curve.ratios


def test_acceptance_learns_by_match_length_and_counts_only_judged_tokens() -> None:
    acceptance = Acceptance()
    prior_4, prior_5, prior_6 = acceptance.p(4), acceptance.p(5), acceptance.p(6)
    assert acceptance.p(2) < prior_4 < acceptance.p(16)  # longer matches hold more often
    for _ in range(20):
        acceptance.observe(4, drafted=3, accepted=1)  # token 1 (match 4) held, token 2 not
    assert acceptance.p(4) > prior_4 and acceptance.p(5) < prior_5
    assert acceptance.p(6) == prior_6  # the third token was never judged
    for _ in range(1000):  # counts fade: the estimate follows a change
        acceptance.observe(4, drafted=1, accepted=0)
    assert acceptance.p(4) < 0.05


def test_no_match_no_draft() -> None:
    model = CostModel(curve_of(H200_7B), acceptance_of(0.99))
    assert model.choose(0, 16) == 0
    assert model.choose(8, 0) == 0


@pytest.mark.parametrize("costs", [CPU_7B, SMOLLM2_CPU, H200_7B], ids=["cpu-7b", "smollm2", "h200"])
def test_a_draft_is_chosen_only_when_it_promises_more_than_plain_decoding(
        costs: dict[int, float]) -> None:
    for p in (0.05, 0.2, 0.4, 0.6, 0.8, 0.95):
        model = CostModel(curve_of(costs), acceptance_of(p))
        for available in (1, 3, 8, 32):
            k = model.choose(8, available)
            if k:
                expected = sum(p ** j for j in range(k + 1))
                assert expected / model.curve.ratio(k + 1) > 1 + MARGIN
                assert k <= available


def test_cheap_batches_and_confident_drafts_draft_long_expensive_ones_short_or_not() -> None:
    confident = acceptance_of(0.95)
    assert CostModel(curve_of(H200_7B), confident).choose(16, 32) >= 16
    assert CostModel(curve_of(SMOLLM2_CPU), confident).choose(16, 32) >= 8
    prose = acceptance_of(0.35)
    assert CostModel(curve_of(SMOLLM2_CPU), prose).choose(3, 32) == 0
    assert CostModel(curve_of(CPU_7B), prose).choose(3, 32) == 0
    assert CostModel(curve_of(H200_7B), acceptance_of(0.5)).choose(3, 32) > 0


def test_a_draft_reaches_no_further_than_its_match() -> None:
    """Even where every token is expected to hold and batches are cheap, a short match drafts
    only as far as the evidence it has; a long one drafts long."""
    model = CostModel(curve_of(H200_7B), acceptance_of(0.99))
    assert model.choose(4, 32) == 4
    assert model.choose(5, 32) == 4  # the longest ladder length within the match
    assert model.choose(24, 32) >= 16  # (past half the match only where it pays clearly)
    assert model.choose(24, 32) <= 24


def test_past_half_its_match_a_draft_must_beat_the_best_shorter_one_by_the_margin() -> None:
    """The acceptance learnt by match length over-promises most past half the match (where a
    reply quotes a phrase and goes on in its own words): a draft reaching there must promise
    the margin more than the best one within half the match."""
    assert CostModel(curve_of(SMOLLM2_CPU), acceptance_of(0.95)).choose(16, 32) == 8
    # where it promises that much more (a long copy on cheap batches) it drafts on
    assert CostModel(curve_of(H200_7B), acceptance_of(0.99)).choose(16, 32) == 16


def test_before_any_measurement_only_long_matches_draft() -> None:
    model = CostModel()
    assert model.choose(1, 8) == 0  # the prior: a short match on an unmeasured device
    assert model.choose(2, 8) == 0
    assert model.choose(16, 8) > model.choose(3, 8)


def test_a_failed_expensive_draft_teaches_the_model_to_stop() -> None:
    model = CostModel()
    model.observe_batch(1, 0.01)
    k = model.choose(12, 32)
    assert k > 0
    for _ in range(50):  # every draft rejected at once, at SmolLM2's CPU cost
        model.observe_batch(k + 1, 0.01 * min(SMOLLM2_CPU[16], k + 1))
        model.observe_draft(12, k, 0)
        k = model.choose(12, 32) or k
    assert model.choose(12, 32) == 0


class SlowAfterBatches:
    """A KV sequence and sampler on a fake clock, as on a GPU: a one-token step takes 1 ms, a
    batch 1.2 ms, and the first ``slow_steps`` one-token steps after a batch ``rebuild_s``
    each (their graph rebuilt, or run without a CUDA graph and then captured again). The
    model repeats token 7."""

    def __init__(self, rebuild_s: float = 0.004, slow_steps: int = 1) -> None:
        self.rebuild_s = rebuild_s
        self.slow_steps = slow_steps
        self.now = 0.0
        self.tokens: list[int] = []
        self.ctx = None
        self.since_batch = 0

    def clock(self) -> float:
        return self.now

    def append(self, token: int) -> None:
        self.now += self.rebuild_s if self.since_batch < self.slow_steps else 0.001
        self.since_batch += 1
        self.tokens.append(token)

    def verify(self, tokens: tuple[int, ...]) -> None:
        self.now += 0.0012
        self.since_batch = 0
        self.tokens.extend(tokens)

    def keep(self, n: int) -> None:
        del self.tokens[n:]

    def sample(self, _ctx: object, _j: int) -> int:
        return 7


class HalfRightDrafts:
    """Every ``every`` steps, proposes after a long match the model's token 7 and then 8s: a
    draft holds for one token, and ``every - 1`` one-token steps follow each batch."""

    def __init__(self, every: int = 2) -> None:
        self.every = every
        self.asked = 0

    def start(self, context: object) -> None: ...

    def append(self, token: int) -> None: ...

    def propose(self, limit: int) -> object:
        from starling_tui.engine.worker.drafter import NO_DRAFT, Draft

        self.asked += 1
        if self.asked % self.every:
            return NO_DRAFT
        return Draft(16, (7,) + (8,) * (min(limit, 8) - 1))


class Recorder(CostModel):
    """The cost model, recording the timings reported to it."""

    def __init__(self) -> None:
        super().__init__()
        self.timings: list[tuple[int, float]] = []

    def observe_batch(self, n: int, seconds: float) -> None:
        self.timings.append((n, round(seconds, 6)))
        super().observe_batch(n, seconds)


def run_steps(steps: int, rebuild_s: float = 0.004, slow_steps: int = 1,
              every: int = 2) -> tuple[Recorder, int]:
    from starling_tui.engine.worker.speculation import Speculation
    from starling_tui.types import ChatMessage, ChatRequest

    fake, policy = SlowAfterBatches(rebuild_s, slow_steps), Recorder()
    spec = Speculation(HalfRightDrafts(every), policy,  # type: ignore[arg-type]
                       clock=fake.clock)
    request = ChatRequest((ChatMessage("user", "hi"),))
    spec.begin(request, request.messages, [1, 2, 3], lambda _text: [])
    drafted_steps, token = 0, 7
    for _ in range(steps):
        result = spec.step(fake, fake, token, 32)  # type: ignore[arg-type]
        drafted_steps += result.drafted > 0
        spec.decided(result.next_token)
    return policy, drafted_steps


def test_a_one_token_step_after_a_batch_charges_its_extra_time_to_the_batch() -> None:
    policy, _ = run_steps(8)
    # nothing is drafted until a settled one-token step is timed (the steps right after the
    # prompt time nothing); each batch is reported once the steps after it show what it
    # cost, 1.2 ms + (4 - 1) ms, and those steps time no one-token step
    assert policy.timings[:2] == [(1, 0.001), (1, 0.001)]
    batches = [s for n, s in policy.timings if n > 1]
    assert batches and set(batches) == {0.0042}
    assert {s for n, s in policy.timings if n == 1} == {0.001}


def test_every_slow_step_after_a_batch_is_charged_to_it() -> None:
    """As llama.cpp's CUDA backend runs the first one-token step after a batch without its
    CUDA graph and captures the graph on the second: both steps' extra time is the batch's,
    and neither times a one-token step."""
    policy, drafted_steps = run_steps(40, rebuild_s=0.002, slow_steps=2, every=4)
    batches = [s for n, s in policy.timings if n > 1]
    assert drafted_steps and batches and set(batches) == {0.0032}  # 1.2 ms + 2 × (2 - 1) ms
    assert {s for n, s in policy.timings if n == 1} == {0.001}


def test_batches_that_slow_the_next_step_stop_drafting() -> None:
    """Two tokens a step for 1.2 steps' time pays; for 4.2 (the batch and the graph rebuilt
    after it) it does not."""
    policy, drafted_steps = run_steps(200, rebuild_s=0.001)  # nothing rebuilt: drafts pay
    assert drafted_steps > 80  # of the 100 steps with a draft
    policy, drafted_steps = run_steps(200)
    assert drafted_steps < 20
    assert policy.choose(16, 32) == 0
