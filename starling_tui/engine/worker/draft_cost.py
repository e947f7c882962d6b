"""When a draft pays: what a batch costs against one decode step, and how often drafts hold.

Verifying ``k`` drafted tokens evaluates ``k + 1`` tokens in one batch (the last decided token
and the drafts) and yields the accepted drafts plus one sampled token. Against plain decoding,
one token per step, a draft is worth ``(1 + E[accepted]) / c(k + 1)``, where ``c(n)`` is the
cost of an ``n``-token batch in decode steps. Both factors differ widely: a batch of 8 costs
about 2.3 steps on a data-centre GPU but 4-5 on two CPU cores, and drafts continuing a long
match (a file the reply returns) hold far more often than those continuing a short one
(prose). So neither is a constant:

- :class:`CostCurve` learns ``c(n)`` on the loaded model and device from the reply loop's own
  timings: every plain step times ``c(1)``, every verification one batch size. The first batch
  of a size is a warm-up (a GPU builds its kernels or graph for a new shape: tens of steps) and
  is not counted, and no batch counts as costing more than its tokens one by one. A size is
  trusted after :data:`TRUSTED` timings; until then it is interpolated between trusted sizes,
  and beyond the largest extrapolated at the lower of its slope and :data:`PRIOR_SLOPE`, so a
  size is tried a few times before one slow batch can rule it out.
- :class:`Acceptance` learns how often a drafted token is accepted given the length of the
  match it continues (the ``j``-th token of a draft continues a match ``j - 1`` tokens longer),
  starting from a prior of ``(m - 1/2) / (m + 1/2)`` worth a few drafts, with old counts
  fading. Proposals that were not drafted are judged too, by the token decided next, so a
  match length the prior is too cautious about is learnt without drafting it first.
- :class:`CostModel` drafts the length that maximises the expected tokens per unit of cost,
  and nothing unless that beats plain decoding by :data:`MARGIN` (which also covers the work
  a draft adds outside the decode: sampling the verified positions, trimming the cache). A
  draft reaches no further than :data:`SPEC_FACTOR` times its match (as SuffixDecoding bounds
  its drafts): an ``m``-token match is evidence for about ``m`` more tokens, while the
  acceptance by match length, learnt mostly where replies copy whole files, over-promises the
  tokens past that where a reply quotes a phrase and goes on in its own words. As drafts
  hold the match grows, so a copy soon drafts at full length. For the same reason a draft
  reaching past half its match must promise :data:`MARGIN` more than the best one within
  that half: where batches are cheap a long copy still clears that bar, where they are dear
  (two CPU cores) only a near-certain one does.

Only lengths from :data:`LADDER` are drafted, so few batch sizes need measuring. The curve and
the acceptance live as long as the loaded model: what one reply learnt serves the next.
"""

from __future__ import annotations

from collections.abc import Sequence

PRIOR_SLOPE = 0.5  # assumed cost of each extra token of a batch, in steps, until measured
MARGIN = 0.1  # a draft must promise this much more than plain decoding
LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)  # the draft lengths considered
TRUSTED = 2  # timings of a batch size (after its warm-up) before its own figure is used
STEP_WEIGHT = 0.1  # weight of a new one-token step time in its running average
BATCH_WEIGHT = 0.3  # weight of a new batch cost in its running average
PRIOR_DRAFTS = 4.0  # the acceptance prior counts as this many drafted tokens per match length
KEEP_DRAFTS = 64.0  # counts fade once a match length has seen this many drafted tokens
MAX_MATCH = 32  # longer matches share the acceptance of this one
SPEC_FACTOR = 1.0  # a draft is at most this many times as long as the match it continues


class CostCurve:
    """The cost of an ``n``-token batch in one-token decode steps, learnt from timings."""

    def __init__(self, prior_slope: float = PRIOR_SLOPE) -> None:
        self.prior_slope = prior_slope
        self.step_s: float | None = None  # running average of a one-token step
        self.measured: dict[int, float] = {}  # batch size -> running average cost in steps
        self.timings: dict[int, int] = {}  # batch size -> batches timed (the warm-up included)

    def observe(self, n: int, seconds: float) -> None:
        """A decode of ``n`` tokens took ``seconds`` (a one-token step sets the unit)."""
        if n <= 1:
            self.step_s = seconds if self.step_s is None else (
                self.step_s + STEP_WEIGHT * (seconds - self.step_s))
            return
        if not self.step_s:
            return
        self.timings[n] = self.timings.get(n, 0) + 1
        if self.timings[n] == 1:
            return  # the warm-up
        ratio = min(seconds / self.step_s, float(n))
        known = self.measured.get(n)
        self.measured[n] = ratio if known is None else known + BATCH_WEIGHT * (ratio - known)

    @property
    def ratios(self) -> dict[int, float]:
        """The trusted batch costs: sizes timed :data:`TRUSTED` times after their warm-up."""
        return {n: r for n, r in self.measured.items() if self.timings[n] > TRUSTED}

    def ratio(self, n: int) -> float:
        """``c(n)``: measured, interpolated between measured sizes, or extrapolated."""
        if n <= 1:
            return 1.0
        ratios = self.ratios
        known = ratios.get(n)
        if known is not None:
            return known
        lower = max((m for m in ratios if m < n), default=1)
        upper = min((m for m in ratios if m > n), default=None)
        low = ratios.get(lower, 1.0)
        if upper is not None:
            return low + (ratios[upper] - low) * (n - lower) / (upper - lower)
        slope = self.prior_slope
        if lower > 1:
            slope = min(slope, max((low - 1.0) / (lower - 1), 0.0))
        return low + slope * (n - lower)


class Acceptance:
    """How often a drafted token is accepted, by the length of the match it continues."""

    def __init__(self) -> None:
        # match length -> [accepted, rejected] drafted tokens, prior included
        self.counts = {m: [_prior(m) * PRIOR_DRAFTS, (1 - _prior(m)) * PRIOR_DRAFTS]
                       for m in range(1, MAX_MATCH + 1)}

    def p(self, match: int) -> float:
        """The chance that a token continuing a ``match``-token match is accepted."""
        accepted, rejected = self.counts[min(max(match, 1), MAX_MATCH)]
        return accepted / (accepted + rejected)

    def observe(self, match: int, drafted: int, accepted: int) -> None:
        """A draft of ``drafted`` tokens continuing ``match`` had its first ``accepted`` held
        (the tokens after the first rejected one were never judged)."""
        for j in range(min(accepted + 1, drafted)):
            counts = self.counts[min(max(match + j, 1), MAX_MATCH)]
            counts[0 if j < accepted else 1] += 1.0
            total = counts[0] + counts[1]
            if total > KEEP_DRAFTS:
                counts[0] *= KEEP_DRAFTS / total
                counts[1] *= KEEP_DRAFTS / total


def _prior(match: int) -> float:
    # Close to how often SmolLM2's greedy replies to copying and prose prompts continued a
    # match of each length (benchmarks/README.md); what a model does is learnt from there.
    return (match - 0.5) / (match + 0.5)


class CostModel:
    """Chooses each draft's length from the learnt cost curve and acceptance."""

    def __init__(self, curve: CostCurve | None = None, acceptance: Acceptance | None = None,
                 margin: float = MARGIN, ladder: Sequence[int] = LADDER) -> None:
        self.curve = curve or CostCurve()
        self.acceptance = acceptance or Acceptance()
        self.margin = margin
        self.ladder = tuple(sorted(ladder))

    def choose(self, match: int, available: int) -> int:
        """How many of ``available`` drafted tokens continuing a ``match``-token match to
        verify: the length (at most :data:`SPEC_FACTOR` × ``match``) with the most expected
        tokens per step's cost, or 0 when none beats plain decoding by the margin; a length
        past half the match only when it beats the best shorter one (plain decoding
        included) by the margin too."""
        available = min(available, int(SPEC_FACTOR * match))
        if match <= 0 or available <= 0:
            return 0
        best, best_gain = 0, 1.0 + self.margin
        expected, held, k = 1.0, 1.0, 0
        for length in self.ladder:
            if length > available:
                break
            while k < length:
                held *= self.acceptance.p(match + k)
                expected += held
                k += 1
            gain = expected / self.curve.ratio(length + 1)
            # past half the match a draft must beat the best shorter one by the margin too
            bar = best_gain if 2 * length <= match else best_gain * (1.0 + self.margin)
            if gain > bar:
                best, best_gain = length, gain
        return best

    def observe_batch(self, n: int, seconds: float) -> None:
        """A decode of ``n`` tokens took ``seconds``."""
        self.curve.observe(n, seconds)

    def observe_draft(self, match: int, drafted: int, accepted: int) -> None:
        """A verified draft's outcome."""
        self.acceptance.observe(match, drafted, accepted)

    def observe_guess(self, match: int, held: bool) -> None:
        """A proposal not drafted: as a one-token draft, judged by the token decided next."""
        self.acceptance.observe(match, 1, int(held))
